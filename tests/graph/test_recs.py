"""A shopper's profile, as recommendations read it: the same order on every read.

Strategies weigh a purchase by its place in the profile (bought-together counts
the newest most), so a customer's scores are only stable when that order is.
The items of one order share a timestamp; the SKU decides between them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from graph import Graph, write_events
from graph.ingest import parse_event, write_catalogue, write_customer_base
from graph.model import Brand, Catalogue, Category, Customer, CustomerBase, Product
from graph.recs import ProfileKey, profile_of
from tests.conftest import TEST_PII_KEY

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SKUS = [f"SKU-{n:02d}" for n in range(1, 13)]


async def seed(graph: Graph) -> None:
    await write_catalogue(
        graph,
        Catalogue(
            (Brand("b1", "Kestrel"),),
            (Category("women", "Women"),),
            tuple(Product(sku, f"Dress {sku}", 50.0, "b1", "women") for sku in [*SKUS, "SKU-99"]),
        ),
    )
    await write_customer_base(graph, CustomerBase((Customer("C1", T0),), (), (), ()))


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_items_bought_at_one_moment_come_in_sku_order_after_newer_ones(
    clean_graph: Graph,
) -> None:
    await seed(clean_graph)
    shuffled = SKUS[:]
    random.Random(3).shuffle(shuffled)  # written in no particular order
    events = [
        parse_event(
            {
                "event_id": f"p-{sku}",
                "type": "purchase",
                "at": at(T0),
                "customer_id": "C1",
                "sku": sku,
            }
        )
        for sku in shuffled
    ]
    events.append(
        parse_event(
            {
                "event_id": "p-new",
                "type": "purchase",
                "at": at(T0 + timedelta(days=1)),
                "customer_id": "C1",
                "sku": "SKU-99",
            }
        )
    )
    await write_events(clean_graph, events, pii_key=TEST_PII_KEY)
    key = ProfileKey(customer_id="C1", purchases=True)
    for _ in range(3):
        profile = await profile_of(clean_graph, key)
        assert [o.sku for o in profile.purchases] == ["SKU-99", *SKUS]


async def test_a_visits_views_at_one_moment_come_in_sku_order(clean_graph: Graph) -> None:
    await seed(clean_graph)
    shuffled = SKUS[:]
    random.Random(5).shuffle(shuffled)
    events = [
        parse_event(
            {"event_id": f"v-{sku}", "type": "view", "at": at(T0), "session_id": "S1", "sku": sku}
        )
        for sku in shuffled
    ]
    await write_events(clean_graph, events, pii_key=TEST_PII_KEY)
    profile = await profile_of(clean_graph, ProfileKey(session_id="S1", browsing=True))
    assert [s.sku for s in profile.views] == SKUS
