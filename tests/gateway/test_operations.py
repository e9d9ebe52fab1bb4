"""Allowlisted operations: a client held to what it registered, sent as persisted queries."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.cli import cli
from gateway.oauth.clients import register_client
from gateway.oauth.scopes import ScopeCatalogue
from graph import Graph
from tests.gateway.conftest import Serve, codes, settings_for_tests

PAGE = "query ProductPage($sku: ID!) { product(sku: $sku) { name } }"
OTHER = "{ products(first: 3) { nodes { sku } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def client_of_kind(graph: Graph, kind: str) -> str:
    record, _ = await register_client(
        graph,
        ScopeCatalogue(),
        name=f"{kind} app",
        kind=kind,
        scopes=["profile:read"],
        redirect_uris=["https://app.example/cb"],
    )
    return record.client_id


def as_client(client_id: str, kind: ClientKind) -> Any:
    async def authenticate(request: Request) -> Principal:
        return Principal(client_id, kind, None, frozenset({"profile:read"}))

    return authenticate


async def run_cli(*args: str) -> Any:
    # The command runs its own event loop: off this one, in a thread.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def register(tmp_path: Path, client_id: str, name: str, content: str) -> list[str]:
    """`tightrope operations add FILE --client ID`, as an operator runs it; the hashes printed."""
    path = tmp_path / name
    path.write_text(content)
    result = await run_cli("operations", "add", str(path), "--client", client_id)
    assert result.exit_code == 0, result.output
    return [line.split("\t")[0] for line in result.stdout.splitlines() if line]


async def post(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/graphql", json=body)


async def test_a_third_party_outside_dev_mode_runs_only_its_registered_operations(
    demo_graph: Graph, served: Serve, tmp_path: Path
) -> None:
    third = await client_of_kind(demo_graph, "third_party")
    assert await register(tmp_path, third, "page.graphql", PAGE) == [sha(PAGE)]
    settings = settings_for_tests(dev_mode=False)
    auth = as_client(third, ClientKind.THIRD_PARTY)
    async with served(settings, authenticate=auth) as (app, client):
        graph: Graph = app.state.graph
        before = graph.round_trips
        unregistered = (await post(client, query=OTHER)).json()
        unknown_hash = (await post(client, extensions=persisted("ab" * 32))).json()
        via_get = (await client.get("/graphql", params={"query": OTHER})).json()
        reads = graph.round_trips - before
        by_hash = await post(client, extensions=persisted(sha(PAGE)), variables={"sku": "sku-002"})
        with_text = await post(
            client, query=PAGE, extensions=persisted(sha(PAGE)), variables={"sku": "sku-004"}
        )
        plain_text = await post(client, query=PAGE, variables={"sku": "sku-006"})
        mismatch = await post(client, query=OTHER, extensions=persisted(sha(PAGE)))
    assert by_hash.json() == {"data": {"product": {"name": "Trail Runner 2"}}}
    assert with_text.json() == {"data": {"product": {"name": "Trail Runner 4"}}}
    assert plain_text.json() == {"data": {"product": {"name": "Trail Runner 6"}}}
    assert codes(unregistered) == ["FORBIDDEN"] and unregistered.get("data") is None
    assert unregistered["errors"][0]["extensions"]["sha256Hash"] == sha(OTHER)
    assert codes(via_get) == ["FORBIDDEN"]
    # The client's operations, read once (then kept): nothing unregistered reached the graph.
    assert reads == 1
    assert unknown_hash["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(mismatch.json()) == ["BAD_USER_INPUT"]


async def test_dev_mode_and_first_parties_run_anything_until_held_to_an_allowlist(
    demo_graph: Graph, served: Serve, tmp_path: Path
) -> None:
    third = await client_of_kind(demo_graph, "third_party")
    first = await client_of_kind(demo_graph, "first_party")
    async with served(authenticate=as_client(third, ClientKind.THIRD_PARTY)) as (_, client):
        dev = (await post(client, query=OTHER)).json()  # dev mode: the default is free
    production = settings_for_tests(dev_mode=False, operations_cache_seconds=0)
    async with served(production, authenticate=as_client(first, ClientKind.FIRST_PARTY)) as (
        _,
        client,
    ):
        free = (await post(client, query=OTHER)).json()
        mode = await run_cli("operations", "mode", "allowlist", "--client", first)
        assert mode.exit_code == 0, mode.output
        held = (await post(client, query=OTHER)).json()
        # An Apollo manifest; the hash each operation is registered under is its text's.
        manifest = {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": sha(OTHER), "name": "Three", "type": "query", "body": OTHER}],
        }
        assert await register(tmp_path, first, "manifest.json", json.dumps(manifest)) == [
            sha(OTHER)
        ]
        registered = (await post(client, query=OTHER)).json()
    assert "errors" not in dev
    assert "errors" not in free
    assert codes(held) == ["FORBIDDEN"]
    assert len(registered["data"]["products"]["nodes"]) == 3


def test_operations_that_do_not_fit_the_schema_or_their_hash_are_refused(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ product(sku: 1) { colour } }")
    result = CliRunner().invoke(cli, ["operations", "add", str(bad), "--client", "c"])
    assert result.exit_code != 0 and "colour" in result.output
    relay = tmp_path / "relay.json"
    relay.write_text(json.dumps({"0" * 64: OTHER}))
    result = CliRunner().invoke(cli, ["operations", "add", str(relay), "--client", "c"])
    assert result.exit_code != 0 and "is not the SHA-256 of its text" in result.output


async def test_while_the_graph_is_down_a_client_held_to_its_operations_is_told_to_retry(
    served: Serve,
) -> None:
    # Nothing listens on port 1: the client's operations cannot be read.
    settings = settings_for_tests(
        dev_mode=False, neo4j_uri="bolt://127.0.0.1:1", neo4j_timeout=0.5, graph_deadline=1.0
    )
    third = as_client("some-third-party", ClientKind.THIRD_PARTY)
    async with served(settings, authenticate=third) as (_, client):
        refused = await post(client, query=OTHER)
    # Not a 500, and not let through unchecked: UNAVAILABLE, so it retries.
    assert refused.status_code == 200
    assert codes(refused.json()) == ["UNAVAILABLE"]
    assert refused.json().get("data") is None
