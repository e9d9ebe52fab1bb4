"""Known query texts skip parsing and validation, and nothing else changes."""

from __future__ import annotations

from graphql import parse

from gateway.graphql.documents import DocumentCache
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests

PRODUCT = "query($sku: ID!) { product(sku: $sku) { sku name } }"


async def test_one_query_text_answers_each_request_with_its_own_variables(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        answers = [await gql(client, PRODUCT, {"sku": sku}) for sku in ("sku-001", "sku-002")]
        again = await gql(client, PRODUCT, {"sku": "sku-001"})
        missing = await gql(client, PRODUCT, {})  # variables are still checked every time
    assert [a["data"]["product"]["sku"] for a in answers] == ["sku-001", "sku-002"]
    assert again == answers[0]
    assert codes(missing) == ["BAD_USER_INPUT"]


async def test_a_refused_document_is_refused_every_time(demo_graph: Graph, served: Serve) -> None:
    deep = '{ category(id: "shoes") { parent { parent { parent { parent { id } } } } } }'
    async with served(settings_for_tests(max_query_depth=4)) as (_, client):
        first, second = [await gql(client, deep) for _ in range(2)]
    assert codes(first) == codes(second) == ["QUERY_TOO_COMPLEX"]
    assert first.get("data") is None and second.get("data") is None


async def test_introspection_stays_off_for_a_text_seen_before(
    demo_graph: Graph, served: Serve
) -> None:
    query = "{ __schema { queryType { name } } }"
    async with served(settings_for_tests(dev_mode=False, introspection=False)) as (_, client):
        answers = [await gql(client, query) for _ in range(2)]
    for answer in answers:
        assert answer.get("data") is None and set(codes(answer)) == {"BAD_USER_INPUT"}


def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_used() -> None:
    cache = DocumentCache(maxsize=2)
    for text in ("{ a }", "{ b }"):
        cache.put(text, parse(text))
    assert cache.get("{ a }") is not None  # a is now the most recently used
    cache.put("{ c }", parse("{ c }"))
    assert len(cache) == 2
    assert cache.get("{ b }") is None
    assert cache.get("{ a }") is not None and cache.get("{ c }") is not None
