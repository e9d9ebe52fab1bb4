"""Prepared operations: a query seen before runs from a plan, and answers exactly as before.

The plan keeps what the gate decides on, never a decision: a consent
withdrawn or a token revoked bites on the very next request, plan or not.
Every operation the suite sends is also run both ways and compared
(tests/differential.py); the last test here is that comparison's verdict.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.graphql.prepared import PreparedOperations
from graph import Graph, revoke_grant
from tests.differential import SESSION
from tests.gateway.conftest import Serve, gql, grant, settings_for_tests

# Operations of every shape the plan covers, and errors of every kind the
# generic path gives: each is sent twice (the second from its plan).
CORPUS: list[tuple[str, dict[str, Any] | None, str | None]] = [
    ("{ __typename }", None, None),
    ("{ me { id __typename } }", None, "ana"),
    (
        "query($n: Int) { me { id createdAt purchases(first: $n) { nodes { product { sku name "
        "price brand { name } categories { name parent { name } } } at qty orderId } "
        "pageInfo { hasNextPage endCursor } } } }",
        {"n": 5},
        "ana",
    ),
    (
        "query Page($sku: ID!) { product(sku: $sku) { sku name price inStock "
        "brand { id name } categories { id name } } }",
        {"sku": "sku-002"},
        None,
    ),
    (
        "fragment P on Product { sku name } query { products(first: 3) { nodes { ...P "
        "... on Product { price } } pageInfo { hasNextPage } } }",
        None,
        None,
    ),
    ('{ a: product(sku: "sku-001") { name } b: product(sku: "nope") { name } }', None, None),
    ("{ me { id } }", None, None),  # UNAUTHENTICATED: no customer
    ("{ me { recentlyViewed { product { sku } } cart { addedAt } } }", None, "ana"),
    ("{ me { devices { id kind } } }", None, "ana"),
    ('{ customer(id: "ana") { id purchases { nodes { orderId } } } }', None, "ana"),
    ('{ customer(id: "ana") { id purchases { nodes { orderId } } } }', None, "back-office"),
    ('{ customer(id: "nobody") { id } }', None, "back-office"),
    ("query($sku: ID!) { product(sku: $sku) { name } }", {"sku": 3}, None),  # bad variable
    ("query($sku: ID!) { product(sku: $sku) { name } }", {}, None),  # missing variable
    ("{ products(first: 5000) { nodes { sku } } }", None, None),  # past the page limit
    ('{ session(id: "ana-1") { id views { product { sku } } } }', None, "ana"),
    ('{ session(id: "ana-1") { id } }', None, None),
    ('{ product(sku: "sku-003") { name similar(first: 3) { product { sku } } } }', None, None),
    ("{ me { recommendations(first: 3) { product { sku } reasons { text } } } }", None, "ana"),
    ('{ product(sku: "sku-001") { name @include(if: false) sku @skip(if: true) } }', None, None),
]


def prepared_of(app: Starlette) -> PreparedOperations:
    route = next(r for r in app.routes if getattr(r, "path", None) == "/graphql")
    found: PreparedOperations = route.app.prepared  # type: ignore[attr-defined]
    return found


async def test_an_operator_can_send_every_request_the_generic_way(
    ana: Graph, served: Serve
) -> None:
    query = "{ me { id purchases { nodes { orderId } } } }"
    async with served(settings_for_tests(prepared_operations=False)) as (app, client):
        first = await gql(client, query, customer="ana")
        second = await gql(client, query, customer="ana")
        assert prepared_of(app) is None
    assert first == second and first["data"]["me"]["id"] == "ana"


async def test_a_query_sent_again_runs_from_its_plan_and_answers_the_same(
    ana: Graph, served: Serve
) -> None:
    await grant(ana, "ana", "personalisation")
    async with served() as (app, client):
        prepared = prepared_of(app)
        for query, variables, customer in CORPUS:
            first = await gql(client, query, variables, customer=customer)
            before = prepared.answered
            second = await gql(client, query, variables, customer=customer)
            assert second == first, query
            assert prepared.answered == before + 1, f"not from a plan: {query}"


async def round_trips(app: Starlette, client: httpx.AsyncClient, query: str, **kw: Any) -> int:
    graph: Graph = app.state.graph
    before = graph.round_trips
    body = await gql(client, query, **kw)
    assert "errors" not in body, body
    return graph.round_trips - before


async def test_a_customer_and_their_purchases_are_one_exchange_for_the_back_office(
    ana: Graph, served: Serve
) -> None:
    query = (
        'query { customer(id: "ana") { id createdAt purchases(first: 5) '
        "{ nodes { orderId product { sku name } } } } }"
    )
    async with served() as (app, client):
        await gql(client, "{ __typename }", back_end=True)  # the client's allowlist, read once
        generic = await round_trips(app, client, query, back_end=True)
        planned = await round_trips(app, client, query, back_end=True)
    # The customer, then (the gate having let it through) the purchases; planned,
    # both in one statement.
    assert (generic, planned) == (2, 1)


async def test_my_profile_purchases_and_views_are_one_exchange(ana: Graph, served: Serve) -> None:
    query = (
        "{ me { id createdAt purchases(first: 5) { nodes { orderId } } "
        "recentlyViewed(first: 5) { product { sku } } } }"
    )
    await grant(ana, "ana", "personalisation")
    async with served() as (app, client):
        await gql(client, "{ __typename }", customer="ana")  # the client's allowlist, read once
        generic = await round_trips(app, client, query, customer="ana")
        planned = await round_trips(app, client, query, customer="ana")
    # The customer, the purchases, the consents (personalisation), the views.
    assert (generic, planned) == (4, 1)


async def test_what_a_plan_does_not_cover_is_answered_the_generic_way(
    ana: Graph, served: Serve
) -> None:
    mutation = 'mutation { setConsent(purpose: "marketing", granted: true) { granted } }'
    by_variable = "query($on: Boolean!) { me { id @include(if: $on) } }"
    async with served() as (app, client):
        prepared = prepared_of(app)
        for query, variables in ((mutation, None), (by_variable, {"on": True})):
            first = await gql(client, query, variables, customer="ana")
            second = await gql(client, query, variables, customer="ana")
            assert first == second
            assert "errors" not in second, second
        assert prepared.answered == 0


async def test_a_prepared_operation_honours_a_consent_withdrawn_on_the_next_request(
    ana: Graph, served: Serve
) -> None:
    viewed = "{ me { recentlyViewed { product { sku } } } }"
    withdraw = 'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }'
    await grant(ana, "ana", "personalisation")
    async with served() as (app, client):
        prepared = prepared_of(app)
        await gql(client, viewed, customer="ana")  # seen once: the next ones are planned
        allowed = await gql(client, viewed, customer="ana")
        assert (await gql(client, withdraw, customer="ana"))["data"]["setConsent"] == {
            "granted": False
        }
        before = prepared.answered
        refused = await gql(client, viewed, customer="ana")
        assert prepared.answered == before + 1  # the plan answered
    assert allowed["data"]["me"]["recentlyViewed"] == [{"product": {"sku": "sku-001"}}]
    assert refused["data"]["me"]["recentlyViewed"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONSENT_REQUIRED"]


async def test_a_prepared_operation_honours_a_revocation_on_the_next_request(
    ana: Graph,
) -> None:
    from tests.gateway.oauth.helpers import BASE, bearer, bearer_for

    query = {"query": "{ me { id purchases { nodes { orderId } } } }"}
    app = __import__("gateway").create_app(settings_for_tests(oauth_issuer=BASE))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            token = await bearer_for(app, "ana", ["profile:read", "purchases:read"])
            prepared = prepared_of(app)
            first = await http.post("/graphql", json=query, headers=bearer(token))
            second = await http.post("/graphql", json=query, headers=bearer(token))
            planned = prepared.answered
            await revoke_grant(app.state.graph, "ana", app.state.test_client_id, int(time.time()))
            after = await http.post("/graphql", json=query, headers=bearer(token))
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and first.json()["data"]["me"]["id"] == "ana"
    assert planned == 1  # the second request ran from the plan
    assert after.status_code == 401
    assert prepared.answered == planned  # nothing more was answered


def test_every_operation_the_suite_sent_answers_alike_both_ways() -> None:
    """The differential check's verdict (tests/differential.py); the suite runs it last.

    Every operation any test sent on the generic path was run again from its
    plan: the same response, the same access records, the same consent
    decisions.
    """
    if SESSION.compared == 0:
        pytest.skip("no operation was compared (run with the other tests)")
    kinds = Counter(f"{m.what} of {m.query[:100]!r}" for m in SESSION.mismatches)
    shown = [
        f"{m.what} of {m.query!r} {m.variables}:\n  generic:  {m.generic}\n  prepared: {m.prepared}"
        for m in SESSION.mismatches[:3]
    ]
    assert not SESSION.mismatches, (
        f"{len(SESSION.mismatches)} of {SESSION.compared} operations differ:\n"
        + "\n".join(f"{n} x {kind}" for kind, n in kinds.most_common())
        + "\n"
        + "\n".join(shown)
    )
