"""End-to-end fixtures: the whole stack as real processes, started by the stack runner."""

from __future__ import annotations

import pytest
from redress_testing import run_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """``python -m redress_stack run --free-ports`` in its own data folder; stopped with SIGTERM."""
    yield from run_stack(tmp_path_factory.mktemp("stack"))
