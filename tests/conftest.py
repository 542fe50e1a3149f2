"""End-to-end fixtures: the whole stack as real processes, started by the stack runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """``python -m redress_stack run --free-ports`` in its own data folder; stopped with SIGTERM."""
    data_dir = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDRESS_")}
    runner = subprocess.Popen(
        [sys.executable, "-m", "redress_stack", "run", "--data-dir", str(data_dir), "--free-ports"],
        stdout=open(data_dir / "runner.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env=env,
    )
    stack_file = data_dir / "stack.json"
    deadline = time.monotonic() + 300
    while not stack_file.exists():
        if runner.poll() is not None or time.monotonic() > deadline:
            runner.kill()
            pytest.fail("stack did not start:\n" + (data_dir / "runner.log").read_text())
        time.sleep(0.2)
    description = json.loads(stack_file.read_text())
    description["data_dir"] = data_dir
    description["admin_key"] = (data_dir / "admin-api-key").read_text().strip()
    children = psutil.Process(runner.pid).children(recursive=True)
    description["child_pids"] = [child.pid for child in children]
    yield description
    runner.send_signal(signal.SIGTERM)
    try:
        code = runner.wait(timeout=120)
    except subprocess.TimeoutExpired:
        runner.kill()
        pytest.fail("the stack runner did not stop within 120 s of SIGTERM")
    assert code == 0, (data_dir / "runner.log").read_text()
    survivors = [
        pid
        for pid in description["child_pids"]
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert not survivors, f"processes left behind after stop: {survivors}"
