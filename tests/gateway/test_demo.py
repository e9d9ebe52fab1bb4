"""The demo retailer: reproducible for a seed, and shaped like real fashion retail."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from gateway.demo import DemoData
from graph import Graph
from graph.ingest import load_demo
from graph.model import PURPOSES, Event
from tests.conftest import TEST_PII_KEY

SIZE = {"customers": 400, "products": 300, "events": 30_000}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return DemoData(**SIZE, seed=11, pii_key=TEST_PII_KEY)


@pytest.fixture(scope="module")
def events(demo: DemoData) -> list[Event]:
    return list(demo.event_stream())


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = (DemoData(50, 40, 2_000, seed=s, pii_key=TEST_PII_KEY) for s in (3, 3, 4))
    assert a.catalogue() == b.catalogue()
    assert a.customer_base() == b.customer_base()
    assert list(a.event_stream()) == list(b.event_stream())
    assert list(a.event_stream()) != list(c.event_stream())
    assert a.customer_base() != c.customer_base()


def test_exactly_the_requested_number_of_events_with_unique_ids(events: list[Event]) -> None:
    assert len(events) == SIZE["events"]
    assert len({e.event_id for e in events}) == len(events)


def test_catalogue_is_a_fashion_category_tree(demo: DemoData) -> None:
    cat = demo.catalogue()
    by_id = {c.id: c for c in cat.categories}
    roots = {c.name for c in cat.categories if c.parent_id is None}
    assert {"Women", "Men"} <= roots
    assert all(c.parent_id is None or c.parent_id in by_id for c in cat.categories)
    assert any(
        c.name == "Dresses" and by_id[c.parent_id or ""].name == "Women" for c in by_id.values()
    )
    assert len(cat.products) == SIZE["products"] and len(cat.brands) >= 10
    assert all(p.price > 0 and p.category_id in by_id for p in cat.products)
    # Products sit on leaves, and prices vary.
    parents = {c.parent_id for c in cat.categories}
    assert all(p.category_id not in parents for p in cat.products)
    assert len({round(p.price) for p in cat.products}) > 30


def test_most_buyers_buy_once_or_twice_a_year(events: list[Event]) -> None:
    orders: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.type == "purchase":
            orders[e.customer_id or ""].add(e.order_id or "")
    per_buyer = Counter(len(o) for o in orders.values())
    buyers = len(orders)
    assert buyers > 50
    assert per_buyer[1] / buyers > 0.4  # one-time buyers dominate
    assert (per_buyer[1] + per_buyer[2]) / buyers > 0.65
    assert max(per_buyer) >= 5  # and a heavy tail of frequent buyers


def test_customers_have_several_devices(demo: DemoData, events: list[Event]) -> None:
    devices: dict[str, set[str]] = defaultdict(set)
    for link in demo.customer_base().links:
        devices[link.customer_id].add(link.device_id)
    session_device = {e.session_id: e.device_id for e in events}
    for e in events:
        if e.type in ("login", "purchase") and e.customer_id:
            devices[e.customer_id].add(session_device[e.session_id] or "")
    assert sum(len(d) for d in devices.values()) / len(devices) > 1.3


def test_many_sessions_stay_anonymous_and_some_sign_in_later(events: list[Event]) -> None:
    sessions: dict[str, list[str]] = defaultdict(list)
    for e in events:
        sessions[e.session_id or ""].append(e.type)
    signed_in = [types for types in sessions.values() if "login" in types]
    assert len(signed_in) / len(sessions) < 0.5  # most sessions never sign in
    assert len(signed_in) / len(sessions) > 0.05
    # Signed-in sessions began anonymous: something happened before the login.
    assert all(types[0] != "login" for types in signed_in)
    anonymous_devices = {e.device_id for e in events if (e.device_id or "").startswith("v")}
    assert len(anonymous_devices) > 100  # visitors who never sign in


def test_consent_states_are_spread_per_purpose(demo: DemoData) -> None:
    base = demo.customer_base()
    states: dict[str, Counter[bool | None]] = {p: Counter() for p in PURPOSES}
    given = {(c.customer_id, c.purpose): c.granted for c in base.consents}
    for customer in base.customers:
        for purpose in PURPOSES:
            states[purpose][given.get((customer.id, purpose))] += 1
    for purpose, counter in states.items():
        assert set(counter) == {True, False, None}, purpose  # granted, refused, never asked
    granted = {p: c[True] / sum(c.values()) for p, c in states.items()}
    assert granted["personalisation"] > 0.4 > granted["third_party_sharing"]


async def test_the_demo_loads_into_the_graph_with_its_shape(clean_graph: Graph) -> None:
    demo = DemoData(customers=120, products=150, events=6_000, seed=5, pii_key=TEST_PII_KEY)
    report = await load_demo(
        clean_graph,
        demo.catalogue(),
        demo.customer_base(),
        demo.event_stream(),
        progress=False,
        pii_key=TEST_PII_KEY,
    )
    assert not report.bad
    assert sum(report.written[t] for t in ("view", "add_to_cart", "purchase", "login")) == 6_000
    rows = await clean_graph.read(
        """
        MATCH (c:Customer)
        OPTIONAL MATCH (d:Device)-[:USED_BY]->(c)
        WITH c, count(d) AS devices
        RETURN avg(devices) AS devices_per_customer,
               count { MATCH (s:Session) WHERE NOT (s)-[:SIGNED_IN_AS]->() } AS anonymous,
               count { MATCH (s:Session) } AS sessions
        """
    )
    assert rows[0]["devices_per_customer"] > 1.0
    assert rows[0]["anonymous"] / rows[0]["sessions"] > 0.5
