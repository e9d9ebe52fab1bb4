"""A plugin resolver that raises or hangs costs its own field; the rest of the answer stands."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import strawberry

from gateway import FieldSpec, hookimpl
from graph import Graph
from tests.gateway.conftest import Serve, settings_for_tests

SECRET = "customer jane@example.com, password hunter2"


async def broken(root: Any, info: strawberry.Info) -> str:
    raise RuntimeError(SECRET)


async def sleepy(root: Any, info: strawberry.Info) -> str:
    await asyncio.sleep(30)
    return "woke up"


async def steady(root: Any, info: strawberry.Info) -> str:
    return "fine"


class Plugin:
    def __init__(self, name: str, **hooks: Any) -> None:
        self.tightrope_name = name
        for hook, value in hooks.items():
            setattr(self, hook, hookimpl(value))


def fields(*specs: tuple[str, Any]) -> Any:
    return lambda: [FieldSpec("Query", name, "String", resolver) for name, resolver in specs]


PLUGINS = [
    Plugin("flaky-plugin", register_fields=fields(("broken", broken))),
    Plugin("slow-plugin", register_fields=fields(("sleepy", sleepy))),
    Plugin("steady-plugin", register_fields=fields(("steady", steady))),
]


async def test_a_raising_or_hanging_resolver_costs_only_its_own_field(
    demo_graph: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for_tests(plugin_budgets={"slow-plugin": 0.3})
    query = '{ broken sleepy steady product(sku: "sku-002") { name } }'
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served(settings, PLUGINS) as (_, client):
            began = time.monotonic()
            response = await client.post("/graphql", json={"query": query})
            took = time.monotonic() - began
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {
        "broken": None,
        "sleepy": None,
        "steady": "fine",
        "product": {"name": "Trail Runner 2"},
    }
    by_path = {tuple(e["path"]): e for e in body["errors"]}
    assert set(by_path) == {("broken",), ("sleepy",)}
    for error in by_path.values():
        assert error["message"] == "Internal server error."
        assert set(error["extensions"]) == {"code", "requestId"}
        assert error["extensions"]["code"] == "INTERNAL"
    assert took < 5  # the sleeper was cut off at its own budget, not waited for
    # The client is told nothing of the plugin nor of what went wrong...
    for word in ("flaky-plugin", "slow-plugin", "hunter2", "jane@", "budget", "RuntimeError"):
        assert word not in response.text
    # ... the operator is told both.
    logged = [r.getMessage() for r in caplog.records]
    assert any("'flaky-plugin' failed in Query.broken" in m for m in logged)
    assert any("'slow-plugin': Query.sleepy ran past its budget of 0.3s" in m for m in logged)
