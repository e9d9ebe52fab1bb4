"""A token's grant is checked at most once a moment, and a revocation still bites in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette

from gateway import create_app
from gateway.oauth.devtokens import dev_token
from graph import Graph, connect, revoke_grant
from graph.erasure import erase_customer
from graph.oauth import merge_grant
from tests.gateway.conftest import settings_for_tests

from .conftest import add_client, add_customer
from .helpers import BASE, bearer

ME = {"query": "{ me { id } }"}


@asynccontextmanager
async def gateway(ttl: float) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    # The client's registered operations are read with every request here
    # (gateway/graphql/operations.py keeps them 5 s by default): each request costs the
    # same reads, so the counts below differ by the liveness read alone.
    settings = settings_for_tests(
        oauth_issuer=BASE, oauth_liveness_cache_seconds=ttl, operations_cache_seconds=0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield app, http


async def token_for(app: Starlette, customer: str, kind: str = "third_party") -> tuple[str, str]:
    client = await add_client(app, kind, "profile:read")
    await merge_grant(app.state.graph, customer, client.client_id, ["profile:read"], 0)
    token = await dev_token(
        app.state.graph,
        app.state.oauth,
        client_id=client.client_id,
        customer_id=customer,
        scopes=["profile:read"],
    )
    return client.client_id, token


async def reads_for(app: Starlette, http: httpx.AsyncClient, token: str) -> tuple[int, int]:
    """The status of ``{ me { id } }`` with ``token``, and the graph reads it cost."""
    graph: Graph = app.state.graph
    before = graph.round_trips
    answer = await http.post("/graphql", json=ME, headers=bearer(token))
    return answer.status_code, graph.round_trips - before


async def test_a_grant_checked_a_moment_ago_is_not_asked_again(demo_graph: Graph) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(ttl=30) as (app, http):
        _, token = await token_for(app, "c1")
        first = await reads_for(app, http, token)
        second = await reads_for(app, http, token)
    assert first[0] == second[0] == 200
    # The same answer, without the revocation clock's read or the family's.
    assert second[1] == first[1] - 2


async def test_after_the_moment_one_read_of_the_clock_serves_every_family(
    demo_graph: Graph,
) -> None:
    # A shop's customers come back rarely: a read per family each moment would
    # be a read for nearly every request. The clock is one number for all.
    await add_customer(demo_graph, "c1")
    await add_customer(demo_graph, "c2")
    async with gateway(ttl=1.0) as (app, http):
        tokens = [(await token_for(app, customer))[1] for customer in ("c1", "c2")]
        seen = [await reads_for(app, http, token) for token in tokens]
        await asyncio.sleep(1.1)  # past the moment: the clock is read again
        again = [await reads_for(app, http, token) for token in tokens]
    assert {status for status, _ in seen + again} == {200}
    # Read again: the clock once, and nothing for either family (both known,
    # the clock unmoved), where the first sight of a family cost its read.
    (_, first_again), (_, second_again) = again
    assert first_again == second_again + 1
    assert second_again == seen[1][1] - 1


async def test_a_revocation_through_this_process_bites_on_the_next_request(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(ttl=30) as (app, http):
        client_id, token = await token_for(app, "c1")
        before, _ = await reads_for(app, http, token)  # now kept as alive for 30 s
        await revoke_grant(app.state.graph, "c1", client_id, 0)
        after, _ = await reads_for(app, http, token)
    assert (before, after) == (200, 401)


async def revoke_elsewhere(graph: Graph, app: Starlette, client_id: str) -> None:
    await revoke_grant(graph, "c1", client_id, 0)


async def erase_elsewhere(graph: Graph, app: Starlette, client_id: str) -> None:
    assert await erase_customer(graph, "c1", app.state.settings.pii_secret())


@pytest.mark.parametrize("end", [revoke_elsewhere, erase_elsewhere])
async def test_what_another_process_ends_stops_working_within_the_moment(
    demo_graph: Graph,
    neo4j_settings: object,
    end: Callable[[Graph, Starlette, str], Awaitable[None]],
) -> None:
    # Another worker, replica or CLI revokes the grant or erases the customer:
    # it ticks the graph's revocation clock, which this process reads again
    # within its moment.
    await add_customer(demo_graph, "c1")
    elsewhere = connect(neo4j_settings)  # type: ignore[arg-type]  # another process's Graph
    try:
        async with gateway(ttl=0.5) as (app, http):
            client_id, token = await token_for(app, "c1")
            before, _ = await reads_for(app, http, token)
            await end(elsewhere, app, client_id)
            await asyncio.sleep(0.6)  # the documented bound: the cache's seconds
            after, _ = await reads_for(app, http, token)
    finally:
        await elsewhere.close()
    assert (before, after) == (200, 401)


async def test_with_no_moment_every_request_asks_the_graph(demo_graph: Graph) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(ttl=0) as (app, http):
        _, token = await token_for(app, "c1")
        counts = [(await reads_for(app, http, token))[1] for _ in range(2)]
    assert counts[0] == counts[1]


async def test_me_reads_no_customer_node_when_the_token_check_found_the_customer(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(ttl=0) as (app, http):
        # The retailer's own frontend: a service read asks for no consent either
        # (a third party's would read the customer's consents: test_consent.py).
        _, token = await token_for(app, "c1", "first_party")
        status, reads = await reads_for(app, http, token)
        dated = await http.post(
            "/graphql", json={"query": "{ me { id createdAt } }"}, headers=bearer(token)
        )
    assert status == 200
    assert reads == 2  # the token's check and the client's operations: no customer node
    assert dated.json()["data"]["me"]["createdAt"] is not None  # loaded when asked for


async def test_a_token_dies_with_its_customer(demo_graph: Graph) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(ttl=0) as (app, http):
        _, token = await token_for(app, "c1")
        before, _ = await reads_for(app, http, token)
        await demo_graph.write("MATCH (c:Customer {id: 'c1'}) DETACH DELETE c")
        after, _ = await reads_for(app, http, token)
    assert (before, after) == (200, 401)
