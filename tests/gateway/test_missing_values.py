"""Nothing is invented: a value the graph does not hold answers null, never a made-up default.

Data reaches the graph from a retailer's files, the API and, in real
deployments, older imports: a device first seen in an event has no kind, a
product imported elsewhere may have no price. A null says "unknown"; a
"desktop", a 0.0 or a 1970 would say something false.
"""

from __future__ import annotations

from graph import Graph
from tests.gateway.conftest import ISSUED, Serve, gql

# Nodes and relationships holding only their keys (and what links them).
BARE = """
CREATE (bare:Product {sku: 'bare'})
CREATE (half:Product {sku: 'half'})-[:OF_BRAND]->(:Brand {id: 'no-name'})
CREATE (half)-[:IN_CATEGORY]->(:Category {id: 'no-name-either'})
CREATE (c:Customer {id: 'quiet'})
CREATE (d:Device {id: 'quiet-device'})-[:USED_BY {method: 'login', confidence: 1.0}]->(c)
CREATE (s:Session {id: 'quiet-session'})-[:ON]->(d)
CREATE (s)-[:SIGNED_IN_AS {event_id: 'l1', at: datetime('2025-05-01T09:00:00Z')}]->(c)
CREATE (c)-[:PURCHASED {event_id: 'p1', at: datetime('2025-05-01T10:00:00Z')}]->(half)
"""

QUERY = """{
  bare: product(sku: "bare") { sku name price inStock brand { id } categories { id } }
  half: product(sku: "half") { brand { id name } categories { id name parent { id } } }
  me {
    createdAt
    devices { id kind uaFamily firstSeen lastSeen }
    purchases(first: 5) { nodes { product { sku } at qty price orderId } }
  }
  session(id: "quiet-session") { startedAt channel }
}"""

TRACK = """mutation($events: [EventInput!]!) { trackEvents(events: $events) { accepted } }"""

NEW_DEVICE = """query($id: ID!) {
  session(id: $id) { startedAt device { id kind uaFamily firstSeen lastSeen } }
}"""


async def test_what_the_graph_does_not_hold_answers_null(demo_graph: Graph, served: Serve) -> None:
    await demo_graph.write(BARE)
    async with served() as (_, client):
        body = await gql(client, QUERY, customer="quiet")
    assert "errors" not in body, body
    assert body["data"] == {
        "bare": {
            "sku": "bare",
            "name": None,
            "price": None,
            "inStock": None,
            "brand": None,
            "categories": [],
        },
        "half": {
            "brand": {"id": "no-name", "name": None},
            "categories": [{"id": "no-name-either", "name": None, "parent": None}],
        },
        "me": {
            "createdAt": None,
            "devices": [
                {
                    "id": "quiet-device",
                    "kind": None,
                    "uaFamily": None,
                    "firstSeen": None,
                    "lastSeen": None,
                }
            ],
            "purchases": {
                "nodes": [
                    {
                        "product": {"sku": "half"},
                        "at": "2025-05-01T10:00:00+00:00",
                        "qty": None,
                        "price": None,
                        # A one-line order is its event: that is what an order id defaults to.
                        "orderId": "p1",
                    }
                ]
            },
        },
        "session": {"startedAt": None, "channel": None},
    }


async def test_a_device_first_seen_in_an_event_has_no_kind_until_one_is_loaded(
    demo_graph: Graph, served: Serve
) -> None:
    phone = ISSUED.new_device()
    view = {
        "eventId": "v1",
        "type": "VIEW",
        "at": "2025-05-01T10:00:00Z",
        "sessionId": ISSUED.new_session(phone),
        "deviceId": phone,
        "sku": "sku-001",
    }
    async with served() as (_, client):
        tracked = await gql(client, TRACK, {"events": [view]}, customer="c1")
        body = await gql(client, NEW_DEVICE, {"id": view["sessionId"]})
    assert "errors" not in tracked, tracked
    assert body["data"]["session"] == {
        "startedAt": "2025-05-01T10:00:00+00:00",
        "device": {
            "id": phone,
            "kind": None,
            "uaFamily": None,
            "firstSeen": "2025-05-01T10:00:00+00:00",
            "lastSeen": "2025-05-01T10:00:00+00:00",
        },
    }
