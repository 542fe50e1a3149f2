"""The catalog (what the stack runner, the contract and the deployment read) must say what
the services actually do: the consumer groups and topics each one subscribes to."""

from __future__ import annotations

import importlib

import pytest
from redress_stack.catalog import SERVICES


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_catalog_consumer_groups_match_the_services_consumers(spec):
    try:
        consumers = importlib.import_module(f"{spec.package}.consumers")
    except ModuleNotFoundError:
        assert spec.consumer_groups == {}, f"{spec.name} has no consumers module"
        return
    assert spec.consumer_groups == {consumers.GROUP_ID: tuple(consumers.TOPICS)}
