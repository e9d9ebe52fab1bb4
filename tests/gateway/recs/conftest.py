"""A small shop built for the recommendation strategies, with its derived data recomputed.

Northbrook sells boots; Acme shoe care; Zen coats (the rain coat is out of
stock). Shoppers who bought Chelsea Boots mostly bought Wool Socks and Boot
Polish too; Ana bought Chelsea Boots and Hiking Boots (two Northbrook boots:
she keeps choosing Northbrook). Visit ``FIRST_VISIT`` (ids issued as startVisit
issues them) has done nothing yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.app import assemble
from gateway.strategies import recompute
from graph import Event, Graph, parse_event, write_events
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import ISSUED, grant, settings_for_tests

FIRST_DEVICE = ISSUED.new_device()
FIRST_VISIT = ISSUED.new_session(FIRST_DEVICE)

NOW = datetime.now(UTC)

SHOP = """
CREATE (northbrook:Brand {id: 'northbrook', name: 'Northbrook'}),
       (acme:Brand {id: 'acme', name: 'Acme'}),
       (zen:Brand {id: 'zen', name: 'Zen'})
CREATE (shoes:Category {id: 'shoes', name: 'Shoes'}),
       (boots:Category {id: 'boots', name: 'Boots'})-[:PARENT]->(shoes),
       (care:Category {id: 'care', name: 'Shoe Care'})-[:PARENT]->(shoes),
       (coats:Category {id: 'coats', name: 'Coats'})
WITH *
UNWIND $products AS row
CREATE (p:Product {sku: row.sku, name: row.name, price: 50.0, in_stock: row.in_stock})
WITH p, row, northbrook, acme, zen, boots, care, coats
CALL (p, row, northbrook, acme, zen) {
  WITH * WHERE row.brand = 'northbrook' CREATE (p)-[:OF_BRAND]->(northbrook)
  UNION
  WITH * WHERE row.brand = 'acme' CREATE (p)-[:OF_BRAND]->(acme)
  UNION
  WITH * WHERE row.brand = 'zen' CREATE (p)-[:OF_BRAND]->(zen)
}
CALL (p, row, boots, care, coats) {
  WITH * WHERE row.category = 'boots' CREATE (p)-[:IN_CATEGORY]->(boots)
  UNION
  WITH * WHERE row.category = 'care' CREATE (p)-[:IN_CATEGORY]->(care)
  UNION
  WITH * WHERE row.category = 'coats' CREATE (p)-[:IN_CATEGORY]->(coats)
}
"""

PRODUCTS = [
    ("chelsea", "Chelsea Boots", "northbrook", "boots", True),
    ("hiking", "Hiking Boots", "northbrook", "boots", True),
    ("rain-boots", "Rain Boots", "northbrook", "boots", True),
    ("ankle", "Ankle Boots", "northbrook", "boots", True),
    ("desert", "Desert Boots", "northbrook", "boots", True),
    ("polish", "Boot Polish", "acme", "care", True),
    ("socks", "Wool Socks", "acme", "care", True),
    ("brush", "Suede Brush", "acme", "care", True),
    ("wool-coat", "Wool Coat", "zen", "coats", True),
    ("rain-coat", "Rain Coat", "zen", "coats", False),
    ("trench", "Trench Coat", "zen", "coats", True),
    ("parka", "Parka", "zen", "coats", True),
]

# Who bought what (days ago). The rain coat sells best, but is out of stock.
BASKETS: dict[str, list[tuple[str, float]]] = {
    "u1": [("chelsea", 20), ("socks", 20), ("polish", 19)],
    "u2": [("chelsea", 15), ("socks", 15), ("polish", 14), ("rain-coat", 3)],
    "u3": [("chelsea", 10), ("socks", 9), ("brush", 9), ("rain-coat", 2)],
    "u4": [("hiking", 30), ("rain-boots", 30), ("ankle", 29), ("rain-coat", 1)],
    "u5": [("wool-coat", 5), ("trench", 5), ("rain-coat", 1), ("parka", 4)],
    "u6": [("hiking", 8), ("ankle", 8), ("rain-coat", 2), ("socks", 7)],
    "ana": [("chelsea", 40), ("hiking", 39)],
}

# Visits that looked at two things: what is viewed together.
VISITS: dict[str, list[str]] = {
    "v1": ["trench", "parka"],
    "v2": ["trench", "parka", "wool-coat"],
    "v3": ["desert", "chelsea"],
    "v4": ["desert", "chelsea"],
}


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def event(event_id: str, type: str, at: str, **fields: Any) -> Event:
    return parse_event({"event_id": event_id, "type": type, "at": at, **fields})


async def store(graph: Graph, *events: Event) -> None:
    result = await write_events(graph, events, pii_key=TEST_PII_KEY)
    assert result.rejected == []


async def build_shop(graph: Graph) -> None:
    await graph.write(
        SHOP,
        {
            "products": [
                {"sku": s, "name": n, "brand": b, "category": c, "in_stock": i}
                for s, n, b, c, i in PRODUCTS
            ]
        },
    )
    await graph.write(
        "UNWIND $ids AS id CREATE (:Customer {id: id, created_at: datetime()})",
        {"ids": [*BASKETS, "bea"]},
    )
    # Under the default opt-in regime personal strategies run only for customers
    # who said yes; these shoppers did (tests of refusal withdraw it).
    for who in [*BASKETS, "bea"]:
        await grant(graph, who, "personalisation")
    events = [
        event(f"p-{who}-{sku}", "purchase", ago(days), customer_id=who, sku=sku)
        for who, basket in BASKETS.items()
        for sku, days in basket
    ]
    events += [
        event(f"v-{visit}-{sku}", "view", ago(1), session_id=visit, sku=sku)
        for visit, skus in VISITS.items()
        for sku in skus
    ]
    await store(graph, *events)
    await graph.write(
        "CREATE (:Session {id: $visit, started_at: datetime(), channel: 'web'})"
        "-[:ON]->(:Device {id: $device, first_seen: datetime(), last_seen: datetime()})",
        {"visit": FIRST_VISIT, "device": FIRST_DEVICE},
    )


async def recompute_all(graph: Graph) -> None:
    assembly = assemble(settings_for_tests())
    await recompute(list(assembly.recommendations.strategies.values()), graph)


@pytest.fixture
async def shop(clean_graph: Graph) -> Graph:
    """The shop, its events, and everything ``tightrope recompute`` derives from them."""
    await build_shop(clean_graph)
    await recompute_all(clean_graph)
    return clean_graph
