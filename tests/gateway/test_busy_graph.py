"""A graph that is busy or slow (every pooled connection in use, a cold Neo4j) is UNAVAILABLE.

Never INTERNAL (the client would think the gateway broken and a shop's
monitoring would page someone for a bug), and never CONSENT_REQUIRED (a shop
would ask a customer for a consent they may well have given). Each test holds
the only connection of a gateway's pool, as a slow query of another request
would, against the real Neo4j.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request

from gateway import ClientKind, Principal
from graph import Graph
from tests.gateway.conftest import ANA, Serve, codes, gql, grant, settings_for_tests

PRODUCT = '{ product(sku: "sku-001") { name } }'
VIEWED = "{ me { recentlyViewed { product { sku } } } }"


@asynccontextmanager
async def pool_held(app: Starlette) -> AsyncIterator[None]:
    """The gateway's only pooled connection, kept busy by an open transaction."""
    graph: Graph = app.state.graph
    async with graph.driver.session(database=graph.database) as session:
        tx = await session.begin_transaction()
        try:
            await (await tx.run("RETURN 1")).consume()
            yield
        finally:
            await tx.rollback()


async def ana_signed_in(request: Request) -> Principal:
    scopes = request.app.state.registry.scope_names
    return Principal("shop", ClientKind.FIRST_PARTY, ANA, scopes, customer_exists=True)


async def test_no_free_connection_in_the_pool_is_unavailable_and_passes(
    demo_graph: Graph, served: Serve
) -> None:
    settings = settings_for_tests(neo4j_max_connections=1, neo4j_timeout=0.3)
    async with served(settings) as (app, client):
        async with pool_held(app):
            began = time.monotonic()
            busy = await gql(client, PRODUCT)
            took = time.monotonic() - began
        after = await gql(client, PRODUCT)
    assert codes(busy) == ["UNAVAILABLE"]
    assert busy["data"] == {"product": None}
    assert took < 5  # about the acquisition timeout, not a hang
    # The server was reachable all along: no cooldown, the next request is served.
    assert after == {"data": {"product": {"name": "Wool Coat 1"}}}


async def test_a_plugin_budget_spent_waiting_on_the_graph_is_unavailable(
    demo_graph: Graph, served: Serve
) -> None:
    # A cold Neo4j: the plugin's query waits for the graph longer than the
    # plugin's whole budget. That is the graph's fault, not the plugin's.
    settings = settings_for_tests(
        neo4j_max_connections=1, neo4j_timeout=5.0, plugin_budget_seconds=0.4
    )
    async with served(settings) as (app, client), pool_held(app):
        began = time.monotonic()
        slow = await gql(client, PRODUCT)
        took = time.monotonic() - began
    assert codes(slow) == ["UNAVAILABLE"]
    assert took < 3  # the budget still bounds the answer


# A plugin that hangs on its own is still INTERNAL: tests/gateway/test_isolation.py.


async def test_consents_that_cannot_be_read_are_unavailable_not_consent_required(
    ana: Graph, served: Serve
) -> None:
    await grant(ana, ANA, "personalisation")
    # (a second, so that the access log's writer sharing the one connection
    # does not make the request after it wait too long on a loaded machine)
    settings = settings_for_tests(neo4j_max_connections=1, neo4j_timeout=1.0)
    async with served(settings, authenticate=ana_signed_in) as (app, client):
        async with pool_held(app):
            busy = await gql(client, VIEWED)
        after: dict[str, Any] = await gql(client, VIEWED)
    assert codes(busy) == ["UNAVAILABLE"]
    assert "errors" not in after and after["data"]["me"]["recentlyViewed"] is not None
