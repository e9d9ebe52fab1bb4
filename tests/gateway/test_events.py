"""trackEvents: the bulk loader's writer behind a mutation; idempotent, validated per event."""

from __future__ import annotations

from typing import Any

from graph import Graph
from tests.gateway.conftest import Serve, codes, gql

TRACK = """
mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted duplicates rejected { index eventId field message } }
}
"""

EVENTS: list[dict[str, Any]] = [
    {
        "eventId": "e1",
        "type": "view",
        "at": "2025-05-01T10:00:00Z",
        "sessionId": "s2",
        "deviceId": "d2",
        "sku": "sku-001",
    },
    {
        "eventId": "e2",
        "type": "add_to_cart",
        "at": "2025-05-01T10:01:00Z",
        "sessionId": "s2",
        "sku": "sku-001",
    },
    {
        "eventId": "e3",
        "type": "login",
        "at": "2025-05-01T10:02:00Z",
        "sessionId": "s2",
        "deviceId": "d2",
    },
    {
        "eventId": "e4",
        "type": "purchase",
        "at": "2025-05-01T10:03:00Z",
        "sku": "sku-001",
        "qty": 2,
        "price": 11.0,
    },
]

STORED = """
MATCH ()-[r]->() WHERE r.event_id IS NOT NULL RETURN type(r) AS type, count(*) AS n ORDER BY type
"""


async def test_events_are_stored_once_however_often_sent(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        first = await gql(client, TRACK, {"events": EVENTS}, customer="c1")
        again = await gql(client, TRACK, {"events": EVENTS}, customer="c1")
    assert "errors" not in first, first
    assert first["data"]["trackEvents"] == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert again["data"]["trackEvents"] == {"accepted": 0, "duplicates": 4, "rejected": []}
    rows = await demo_graph.read(STORED)
    assert {r["type"]: r["n"] for r in rows} == {
        "ADDED_TO_CART": 1,
        "PURCHASED": 1,
        "SIGNED_IN_AS": 1,
        "VIEWED": 1,
    }
    # The login tied the session's device to the customer of the token.
    linked = await demo_graph.read("MATCH (:Device {id: 'd2'})-[u:USED_BY]->(c) RETURN c.id AS id")
    assert linked == [{"id": "c1"}]


async def test_bad_events_are_reported_by_index_and_good_ones_kept(
    demo_graph: Graph, served: Serve
) -> None:
    batch = [
        {
            "eventId": "ok",
            "type": "view",
            "at": "2025-05-01T10:00:00Z",
            "sessionId": "s3",
            "sku": "sku-002",
        },
        {"eventId": "bad-type", "type": "wishlist", "at": "2025-05-01T10:00:00Z"},
        {
            "eventId": "no-zone",
            "type": "view",
            "at": "2025-05-01T10:00:00",
            "sessionId": "s3",
            "sku": "sku-002",
        },
        {
            "eventId": "ghost",
            "type": "view",
            "at": "2025-05-01T10:00:00Z",
            "sessionId": "s3",
            "sku": "no-such-sku",
        },
    ]
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": batch}, customer="c1")
    result = body["data"]["trackEvents"]
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "type"),
        (2, "at"),
        (3, "sku"),
    ]
    assert codes(body) == ["BAD_USER_INPUT"] * 3
    assert [e["extensions"]["index"] for e in body["errors"]] == [1, 2, 3]
    assert body["errors"][0]["message"].startswith("events[1].type")


async def test_a_customer_token_cannot_speak_for_another_customer(
    demo_graph: Graph, served: Serve
) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'c2', created_at: datetime()})")
    event = {
        "eventId": "x",
        "type": "purchase",
        "at": "2025-05-01T10:00:00Z",
        "sku": "sku-001",
        "customerId": "c2",
    }
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": [event]}, customer="c1")
    assert body["data"]["trackEvents"]["rejected"][0]["field"] == "customer_id"
    assert await demo_graph.read("MATCH ()-[r:PURCHASED]->() RETURN r") == []


async def test_tracking_needs_events_write(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": EVENTS[:1]})
    assert body["data"] == {"trackEvents": None}
    assert codes(body) == ["FORBIDDEN"]


async def test_an_event_id_reused_for_another_event_is_rejected_at_its_index(
    demo_graph: Graph, served: Serve
) -> None:
    view = {
        "eventId": "v",
        "type": "view",
        "at": "2025-05-01T10:00:00Z",
        "sessionId": "s4",
        "sku": "sku-001",
    }
    batch = [view, dict(view), {**view, "sku": "sku-002"}]
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": batch}, customer="c1")
    result = body["data"]["trackEvents"]
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(2, "event_id")]
