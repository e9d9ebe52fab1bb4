"""Start-up: the graph's schema is checked, the graph warmed up, and /readyz says when it is done.

An operator who upgrades without ``tightrope graph migrate`` gets a gateway
that refuses to start and says what to run, not one whose every MERGE scans a
label; a load balancer sends no traffic to a gateway still warming up a cold
Neo4j (503 until the request path's statements were sent once).
"""

from __future__ import annotations

import asyncio

import pytest

import gateway.web.readiness
import graph.warmup
from gateway.web.readiness import SchemaMissing
from graph import Graph
from graph.schema import missing_schema
from tests.gateway.conftest import Serve, seed, settings_for_tests

COUNT = "MATCH (n) RETURN count(n) AS n"


async def test_readyz_is_503_until_the_warm_up_is_done_then_200(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = graph.warmup.warm_up
    go = asyncio.Event()
    sent: list[int] = []

    async def held_back(graph: Graph, pii_key: str, **options: int) -> float:
        await go.wait()  # the warm-up has not run yet: Neo4j itself is up
        before = graph.round_trips
        took = await real(graph, pii_key, **options)
        sent.append(graph.round_trips - before)
        return took

    monkeypatch.setattr(gateway.web.readiness, "warm_up", held_back)
    nodes = (await demo_graph.read(COUNT))[0]["n"]
    async with served(settings_for_tests(warm_up=True)) as (_, client):
        early = await client.get("/readyz")
        go.set()
        for _ in range(300):
            late = await client.get("/readyz")
            if late.status_code == 200:
                break
            await asyncio.sleep(0.1)
    assert early.status_code == 503
    assert early.json() == {"ready": False, "neo4j": "up", "schema": "ok", "warm": False}
    assert late.status_code == 200
    assert late.json() == {"ready": True, "neo4j": "up", "schema": "ok", "warm": True}
    # It sent the request path's statements (product page to event writer)...
    assert sent and sent[0] >= 20
    # ... with keys that match nothing: the warm-up wrote nothing.
    assert (await demo_graph.read(COUNT))[0]["n"] == nodes


async def test_a_graph_lacking_a_migration_refuses_to_start_naming_it_and_the_fix(
    clean_graph: Graph, served: Serve
) -> None:
    await clean_graph.write("DROP CONSTRAINT access_record_id IF EXISTS")
    try:
        with pytest.raises(SchemaMissing) as refused:
            async with served(settings_for_tests(dev_mode=False)):
                pass
        message = str(refused.value)
        assert "access_record_id" in message and "tightrope graph migrate" in message
        assert refused.value.missing == ("access_record_id",)
    finally:
        # Dev mode migrates instead of refusing (and puts the constraint back).
        async with served(settings_for_tests(dev_mode=True)) as (_, client):
            ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["schema"] == "ok"
    assert await missing_schema(clean_graph) == []


async def test_the_migration_on_start_is_a_setting_outside_dev_mode(
    clean_graph: Graph, served: Serve
) -> None:
    await clean_graph.write("DROP INDEX product_brand IF EXISTS")
    await seed(clean_graph, products=3)
    settings = settings_for_tests(dev_mode=False, graph_migrate_on_start=True)
    async with served(settings) as (_, client):
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert await missing_schema(clean_graph) == []
