"""Customers, `me`, sessions, and the scope gate on their fields."""

from __future__ import annotations

from graph import Graph
from tests.gateway.conftest import Serve, codes, gql

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
        back_office = await gql(client, '{ customer(id: "c1") { id createdAt } }', customer="c1")
        missing = await gql(client, '{ customer(id: "nobody") { id } }', customer="c1")
    # Refused field by field: the product still comes back.
    assert anonymous["data"] == {"customer": None, "product": {"sku": "sku-001"}}
    [error] = anonymous["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["missingScopes"] == ["customers:read"]
    assert error["path"] == ["customer"]
    assert back_office["data"]["customer"]["createdAt"].startswith("2025-01-02")
    assert codes(missing) == ["NOT_FOUND"]


async def test_session_of_an_anonymous_visitor(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(
            client, '{ session(id: "s1") { id channel startedAt device { id kind } } }'
        )
        unknown = await gql(client, '{ session(id: "s404") { id } }')
    assert body["data"]["session"] == {
        "id": "s1",
        "channel": "web",
        "startedAt": "2025-03-01T00:00:00+00:00",
        "device": {"id": "d1", "kind": "mobile"},
    }
    assert codes(unknown) == ["NOT_FOUND"]
