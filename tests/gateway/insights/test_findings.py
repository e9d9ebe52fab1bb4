"""Insights: what stands out from popularity ranks first, what only repeats it ranks last."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from gateway.insights.findings import Windows, loyalty_insights, product_insights, rank
from gateway.insights.report import Options, ShopReport
from graph import Event, Graph, parse_event, write_events
from graph.insights.facts import PurchaseLine
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import grant, settings_for_tests

NOW = datetime.now(UTC)

CATALOGUE = """
CREATE (:Brand {id: 'north', name: 'Northbrook'}), (:Brand {id: 'acme', name: 'Acme'})
CREATE (:Category {id: 'boots', name: 'Boots'})
WITH 1 AS one
UNWIND range(1, 12) AS i
MATCH (b:Brand {id: CASE WHEN i % 2 = 0 THEN 'north' ELSE 'acme' END})
MATCH (c:Category {id: 'boots'})
CREATE (p:Product {sku: 'p' + i, name: 'Boot ' + i, price: 20.0, in_stock: i <> 9})
CREATE (p)-[:OF_BRAND]->(b)
CREATE (p)-[:IN_CATEGORY]->(c)
"""


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


async def build(graph: Graph, customers: int = 80) -> None:
    """Seventy days of shopping: p1 sells most and grows with the shop; p7 rises on its own;
    p9 is out of stock and wanted more and more."""
    await graph.write(CATALOGUE)
    ids = [f"s{i}" for i in range(customers)]
    await graph.write(
        "UNWIND $ids AS id CREATE (:Customer {id: id, created_at: datetime()})", {"ids": ids}
    )
    for c in ids:
        await grant(graph, c, "analytics")
    rng = random.Random(7)
    events: list[Event] = []
    weights = {f"p{i}": (8.0 if i == 1 else 1.0) for i in range(1, 13)}

    def add(kind: str, customer: str, sku: str, day: float, n: int) -> None:
        who = {"customer_id": customer} if kind == "purchase" else {"session_id": f"{customer}-w"}
        events.append(parse_event({"event_id": f"{kind}-{n}", "type": kind, "at": ago(day),
                                   "sku": sku, **who}))  # fmt: skip

    n = 0
    for c in ids:
        events.append(parse_event({"event_id": f"login-{c}", "type": "login", "at": ago(70),
                                   "session_id": f"{c}-w", "customer_id": c}))  # fmt: skip
    for day in range(1, 70):
        recent = day <= 14
        for _ in range(30 if recent else 20):  # the shop grows by half in the last two weeks
            c = rng.choice(ids)
            w = dict(weights)
            if recent:
                w["p7"] *= 5.0
                w["p9"] *= 5.0
            sku = rng.choices(list(w), weights=list(w.values()))[0]
            n += 1
            add("view", c, sku, day + rng.random() * 0.9, n)
            if sku != "p9" and rng.random() < 0.3:
                n += 1
                add("purchase", c, sku, day + rng.random() * 0.9, n)
    result = await write_events(graph, events, pii_key=TEST_PII_KEY)
    assert result.rejected == []


async def test_a_rising_product_and_a_wanted_one_out_of_stock_rank_above_the_bestseller(
    clean_graph: Graph,
) -> None:
    await build(clean_graph)
    settings = settings_for_tests(insights_min_customers=10)
    policies = _policies()
    report = ShopReport(clean_graph, policies, settings, Options(NOW))
    found = await report.insights()
    ranked = [(i.kind, i.subject) for i in found.ranked]
    assert ("rising", "product:p7") in ranked
    assert ("restock", "product:p9") in ranked
    rising = next(i for i in found.ranked if i.subject == "product:p7" and i.kind == "rising")
    assert rising.low > 1 and rising.p_value < 0.05 and rising.shoppers >= 10
    assert "views, basket additions and purchases" in rising.basis and rising.action
    # p1 sells most and grew only as much as the shop did: never "rising".
    assert ("rising", "product:p1") not in ranked
    best = ranked.index(("bestseller", "product:p1"))
    assert best > ranked.index(("rising", "product:p7"))
    assert best > ranked.index(("restock", "product:p9"))
    assert all(i.distance == 0 for i in found.ranked[best:])


async def test_insights_standing_on_fewer_than_k_customers_are_suppressed(
    clean_graph: Graph,
) -> None:
    await build(clean_graph, customers=12)
    found = await ShopReport(
        clean_graph, _policies(), settings_for_tests(insights_min_customers=1000), Options(NOW)
    ).insights()
    assert found.ranked == () and found.suppressed > 0


def _policies():  # type: ignore[no-untyped-def]
    from gateway.app import assemble

    return assemble(settings_for_tests()).gate.policies


def line(customer: str, day: int, brand: str, order: str) -> PurchaseLine:
    return PurchaseLine(
        customer, NOW - timedelta(days=day), order, f"{brand}-{order}", brand, brand.title(),
        "boots", "Boots",
    )  # fmt: skip


def test_a_brand_whose_buyers_return_more_than_its_popularity_says_is_found() -> None:
    rng = random.Random(3)
    lines = []
    for c in range(400):
        first = "loyal" if c % 4 == 0 else rng.choice(["big", "big", "big", "other"])
        lines.append(line(f"c{c}", 200, first, f"{c}-0"))
        again = 0.8 if first == "loyal" else 0.3
        if rng.random() < again:
            lines.append(line(f"c{c}", 150, rng.choice(["big", "big", "loyal", "other"]), f"{c}-1"))
    found = rank(loyalty_insights(lines, Windows(NOW)), [], k=10)
    top = [(i.kind, i.subject) for i in found.ranked[:3]]
    assert ("brings_back_brand", "brand:loyal") in top
    brings = next(i for i in found.ranked if i.subject == "brand:loyal" and "brings" in i.kind)
    assert brings.low > 1 and "returned" in brings.basis
    # The most bought brand is bought again most, but no more than its popularity says.
    assert not any(i.subject == "brand:big" and i.kind == "repeat_brand" for i in found.ranked)


def test_a_fall_in_purchases_per_view_that_the_whole_shop_shares_is_no_insight() -> None:
    from graph.insights.facts import Activity, ProductFacts

    # A season of browsing: every product is viewed twice as much, bought as much.
    activity = {
        f"p{i}": Activity(f"p{i}", purchases_recent=25, purchases_before=100,
                          views_recent=500, views_before=1000, shoppers=50)
        for i in range(20)
    }  # fmt: skip
    # ... and one whose shoppers stopped buying it, though they look at it as much.
    activity["slump"] = Activity("slump", purchases_recent=3, purchases_before=100,
                                 views_recent=500, views_before=1000, shoppers=50)  # fmt: skip
    facts = {sku: ProductFacts(sku, sku, True, None, None, None) for sku in activity}
    found = rank(product_insights(activity, facts, Windows(NOW)), [], k=10)
    conversion = [i for i in found.ranked if i.kind == "conversion"]
    assert [i.subject for i in conversion] == ["product:slump"]
    assert conversion[0].high < 1 and "beyond the shop's change" in conversion[0].title
