"""Error codes over HTTP: masked internals, an unreachable graph, refused documents."""

from __future__ import annotations

import strawberry

from gateway import FieldSpec, hookimpl
from gateway.settings import load_settings
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests


class Leaky:
    """A plugin whose resolver fails with a message that must never reach a client."""

    tightrope_name = "leaky"

    @staticmethod
    def boom(root: object, info: strawberry.Info) -> str:
        raise RuntimeError("MATCH (n:Secret) RETURN n -- password=hunter2")

    @hookimpl
    def register_fields(self) -> list[FieldSpec]:
        return [FieldSpec("Query", "boom", "String", self.boom)]


async def test_internal_errors_are_masked(demo_graph: Graph, served: Serve) -> None:
    async with served(plugins=[Leaky()]) as (_, client):
        response = await client.post(
            "/graphql", json={"query": '{ boom product(sku: "sku-001") { sku } }'}
        )
    body = response.json()
    assert codes(body) == ["INTERNAL"]
    assert body["data"]["product"] == {"sku": "sku-001"}
    assert "MATCH" not in response.text and "hunter2" not in response.text
    assert "Traceback" not in response.text


async def test_unreachable_graph_is_unavailable_not_a_hang(served: Serve) -> None:
    # Nothing listens on port 1; the driver gives up after neo4j_timeout.
    settings = load_settings(dev_mode=True, neo4j_uri="bolt://127.0.0.1:1", neo4j_timeout=0.5)
    async with served(settings) as (_, client):
        body = await gql(client, '{ product(sku: "sku-001") { sku } }')
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert body["data"] == {"product": None}
    assert codes(body) == ["UNAVAILABLE"]
    assert "127.0.0.1:1" not in str(body)
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert health.status_code == 200


async def test_over_deep_queries_are_too_complex(demo_graph: Graph, served: Serve) -> None:
    deep = '{ category(id: "shoes") { parent { parent { parent { parent { id } } } } } }'
    async with served(settings_for_tests(max_query_depth=4)) as (_, client):
        body = await gql(client, deep)
    assert body.get("data") is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_too_many_aliases_are_too_complex(demo_graph: Graph, served: Serve) -> None:
    # Aliases hidden in a fragment count too (strawberry >= 0.315.7).
    query = (
        "query { ...F } fragment F on Query { "
        + " ".join(f'a{i}: product(sku: "sku-001") {{ sku }}' for i in range(4))
        + " }"
    )
    async with served(settings_for_tests(max_aliases=3)) as (_, client):
        body = await gql(client, query)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_too_many_tokens_are_too_complex(demo_graph: Graph, served: Serve) -> None:
    query = "{ " + " ".join("__typename" for _ in range(100)) + " }"
    async with served(settings_for_tests(max_tokens=50)) as (_, client):
        body = await gql(client, query)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_invalid_documents_are_bad_user_input(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        unknown_field = await gql(client, "{ nope }")
        syntax = await gql(client, "{ product(sku: ")
        wrong_variable = await gql(
            client, "query ($n: Int) { products(first: $n) { nodes { sku } } }", {"n": "x"}
        )
    assert codes(unknown_field) == ["BAD_USER_INPUT"]
    assert codes(syntax) == ["BAD_USER_INPUT"]
    assert codes(wrong_variable) == ["BAD_USER_INPUT"]


async def test_oversized_bodies_are_refused(demo_graph: Graph, served: Serve) -> None:
    async with served(settings_for_tests(max_body_bytes=2048)) as (_, client):
        response = await client.post(
            "/graphql",
            content=b'{"query": "' + b" " * 4096 + b'"}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert codes(response.json()) == ["BAD_USER_INPUT"]
