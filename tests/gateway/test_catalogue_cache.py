"""The catalogue is kept across requests, and a catalogue load empties every process's copy."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway.graphql.cache import MISSING, VersionedCache
from graph import Graph
from graph.ingest.load import load_file
from tests.conftest import TEST_DATA_KEYS, TEST_PII_KEY
from tests.gateway.conftest import Serve, gql, settings_for_tests

PAGE = """query($sku: ID!) {
  product(sku: $sku) { name price brand { name } categories { name } }
}"""


async def reads(
    app: Starlette, client: httpx.AsyncClient, sku: str = "sku-001"
) -> tuple[dict[str, Any], int]:
    """The product page's answer, and how many graph reads it cost."""
    graph: Graph = app.state.graph
    before = graph.round_trips
    body = await gql(client, PAGE, {"sku": sku})
    return body, graph.round_trips - before


async def test_a_product_page_seen_before_costs_no_graph_read(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (app, client):
        first, first_reads = await reads(app, client)
        second, second_reads = await reads(app, client)
    assert first == second and first["data"]["product"]["brand"] == {"name": "Acme"}
    assert first_reads == 4  # product, brand, categories, the catalogue version
    assert second_reads == 0


async def test_a_catalogue_load_is_seen_within_about_a_second(
    demo_graph: Graph, served: Serve, tmp_path: Path
) -> None:
    reprice = tmp_path / "catalogue.jsonl"
    row = {
        "record": "product",
        "sku": "sku-001",
        "name": "Wool Coat 1",
        "price": 99.5,
        "brand_id": "acme",
        "category_id": "coats",
    }
    reprice.write_text(json.dumps(row) + "\n")
    async with served() as (app, client):
        before, _ = await reads(app, client)
        report = await load_file(
            demo_graph, reprice, progress=False, pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS
        )
        assert not report.bad, report.bad
        await asyncio.sleep(1.1)  # the documented bound: one version check a second
        after, _ = await reads(app, client)
    assert before["data"]["product"]["price"] == 11.0
    assert after["data"]["product"]["price"] == 99.5


async def test_with_the_cache_off_every_page_reads_the_graph(
    demo_graph: Graph, served: Serve
) -> None:
    async with served(settings_for_tests(catalogue_cache_seconds=0)) as (app, client):
        counts = [(await reads(app, client))[1] for _ in range(2)]
    assert counts == [3, 3]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_entries_expire_and_the_number_kept_is_bounded() -> None:
    clock = Clock()
    cache = VersionedCache(
        lambda graph: asyncio.sleep(0, 1), max_age=10, max_entries=2, clock=clock
    )
    cache.put("a", 1)
    clock.now = 5
    cache.put("b", 2)
    clock.now = 11  # a is older than max_age, b is not
    assert cache.get("a") is MISSING and cache.get("b") == 2
    cache.put("c", 3)
    cache.put("d", 4)
    assert len(cache) == 2 and cache.get("b") is MISSING


async def test_concurrent_requests_share_one_version_read_and_a_new_version_empties_it() -> None:
    clock = Clock()
    asked: list[int] = []
    version = 1

    async def read_version(graph: object) -> int:
        asked.append(version)
        await asyncio.sleep(0.01)
        return version

    cache = VersionedCache(read_version, clock=clock)
    await asyncio.gather(*(cache.refresh(None) for _ in range(20)))  # type: ignore[arg-type]
    cache.put("p", "kept")
    assert asked == [1] and cache.get("p") == "kept"
    version, clock.now = 2, 1.5
    await cache.refresh(None)  # type: ignore[arg-type]
    assert asked == [1, 2] and len(cache) == 0
