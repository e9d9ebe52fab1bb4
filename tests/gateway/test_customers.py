"""Customers, `me`, sessions, and the scope gate on their fields."""

from __future__ import annotations

from starlette.requests import Request

from gateway import ClientKind, Principal
from graph import Graph
from tests.gateway.conftest import BACK_OFFICE, Serve, codes, gql

ME = "{ me { id createdAt devices { id kind uaFamily lastSeen } } }"


async def test_me_is_the_customer_of_the_principal(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, ME, customer="c1")
    assert "errors" not in body, body
    assert body["data"]["me"] == {
        "id": "c1",
        "createdAt": "2025-01-02T03:04:05+00:00",
        "devices": [
            {
                "id": "d1",
                "kind": "mobile",
                "uaFamily": "Safari",
                "lastSeen": "2025-03-01T00:00:00+00:00",
            }
        ],
    }


async def test_me_without_a_customer_is_unauthenticated(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, "{ me { id } }")
    assert body["data"] == {"me": None}
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_customer_by_id_needs_customers_read(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        anonymous = await gql(
            client, '{ customer(id: "c1") { id } product(sku: "sku-001") { sku } }'
        )
        back_office = await gql(
            client, '{ customer(id: "c1") { id createdAt } }', customer=BACK_OFFICE
        )
        missing = await gql(client, '{ customer(id: "nobody") { id } }', customer=BACK_OFFICE)
    # Refused field by field: the product still comes back.
    assert anonymous["data"] == {"customer": None, "product": {"sku": "sku-001"}}
    [error] = anonymous["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["missingScopes"] == ["customers:read"]
    assert error["path"] == ["customer"]
    assert back_office["data"]["customer"]["createdAt"].startswith("2025-01-02")
    assert codes(missing) == ["NOT_FOUND"]


async def test_session_of_an_anonymous_visitor(demo_graph: Graph, served: Serve) -> None:
    # s1's id was not issued by the gateway: the shop's own back end reads it
    # (tests/gateway/test_takeover.py: a visitor reads only an issued one).
    async with served() as (_, client):
        body = await gql(
            client,
            '{ session(id: "s1") { id channel startedAt device { id kind } } }',
            back_end=True,
        )
        unknown = await gql(client, '{ session(id: "s404") { id } }', back_end=True)
    assert body["data"]["session"] == {
        "id": "s1",
        "channel": "web",
        "startedAt": "2025-03-01T00:00:00+00:00",
        "device": {"id": "d1", "kind": "mobile"},
    }
    assert codes(unknown) == ["NOT_FOUND"]


def token_for(customer: str | None, *scopes: str):  # type: ignore[no-untyped-def]
    async def authenticate(request: Request) -> Principal:
        return Principal("app", ClientKind.FIRST_PARTY, customer, frozenset(scopes))

    return authenticate


async def test_a_signed_in_session_is_read_only_by_its_customer(
    demo_graph: Graph, served: Serve
) -> None:
    # s1 was anonymous; the visitor then signed in as c1. From now on the id
    # alone (say, a cookie left on a shared computer) must not reveal the visit.
    await demo_graph.write(
        "MATCH (s:Session {id: 's1'}), (c:Customer {id: 'c1'}) "
        "CREATE (s)-[:SIGNED_IN_AS {event_id: 'login-1', at: datetime()}]->(c)"
    )
    query = '{ session(id: "s1") { id } }'
    answers = {}
    for name, who in {
        "anonymous": token_for(None),
        "other customer": token_for("c2", "browsing:read"),
        "owner without browsing:read": token_for("c1", "profile:read"),
        "owner": token_for("c1", "browsing:read"),
        "back office": token_for(None, "customers:read"),
    }.items():
        async with served(authenticate=who) as (_, client):
            answers[name] = await gql(client, query)

    for refused in ("anonymous", "other customer", "owner without browsing:read"):
        assert answers[refused]["data"]["session"] is None
        assert codes(answers[refused]) == ["FORBIDDEN"], refused
    assert answers["owner without browsing:read"]["errors"][0]["extensions"]["missingScopes"] == [
        "browsing:read"
    ]
    for allowed in ("owner", "back office"):
        assert answers[allowed]["data"]["session"] == {"id": "s1"}, allowed
