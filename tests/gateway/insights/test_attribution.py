"""Attribution: what each served list led to, per strategy, placement and blend."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from graph import Graph
from tests.gateway.conftest import Serve, settings_for_tests, visit
from tests.gateway.insights.conftest import (
    ANALYTICS,
    REFUSED,
    at,
    customer_or_backend,
    figures,
    home,
    row,
    track,
)

NOW = datetime.now(UTC)


def view(
    event_id: str, session: str, item: dict[str, Any], listed: dict[str, Any]
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "type": "VIEW",
        "at": at(NOW + timedelta(hours=1)),
        **visit(session),
        "sku": item["product"]["sku"],
        "listId": listed["listId"],
        "position": item["position"],
    }


def purchase(
    event_id: str, customer: str, sku: str, when: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "type": "PURCHASE",
        "at": at(when),
        "customerId": customer,
        "sku": sku,
        "qty": 2,
        "price": 30.0,
        **extra,
    }


async def test_purchases_are_credited_to_the_list_last_clicked_within_the_window(
    shop: Graph, served: Serve
) -> None:
    settings = settings_for_tests(insights_min_customers=5)
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        lists = {c: await home(client, c, f"{c}-visit") for c in ANALYTICS}
        first = {c: found["items"][0] for c, found in lists.items()}
        for c, found in lists.items():
            await track(client, [view(f"click-{c}", f"{c}-visit", first[c], found)], customer=c)
        carts = [
            {**view(f"cart-{c}", f"{c}-visit", first[c], lists[c]), "type": "ADD_TO_CART"}
            for c in ("u1", "u2", "u3")
        ]
        await track(client, carts, customer="u1")  # a service would name each; u1's own here
        hour = NOW + timedelta(hours=2)
        late = NOW + timedelta(hours=1, days=8)
        second = lists["u5"]["items"][1]
        await track(
            client,
            [
                purchase("buy-u1", "u1", first["u1"]["product"]["sku"], hour),
                purchase("buy-u2", "u2", first["u2"]["product"]["sku"], hour),
                # Eight days after the click: past the seven-day window.
                purchase("buy-u3", "u3", first["u3"]["product"]["sku"], late),
                # A product u4 never clicked in a list.
                purchase("buy-u4", "u4", "parka" if first["u4"]["product"]["sku"] != "parka"
                         else "trench", hour),
                # Sent from the list itself, no click before.
                purchase("buy-u5", "u5", second["product"]["sku"], hour,
                         listId=lists["u5"]["listId"], position=2),
            ],
        )  # fmt: skip
        found = await figures(app, shop)
    everything = row(found, "all", "all lists")
    assert everything.impressions == sum(len(f["items"]) for f in lists.values())
    assert everything.clicks == len(ANALYTICS)
    assert everything.conversions == 3
    assert everything.revenue == 3 * 2 * 30.0
    assert everything.ctr == len(ANALYTICS) / everything.impressions
    assert everything.rpm == 1000 * 180.0 / everything.impressions
    credited = {c.purchase.customer_id: c for c in found.attributed.conversions}
    assert set(credited) == {"u1", "u2", "u5"}
    assert credited["u5"].direct and not credited["u1"].direct
    assert credited["u1"].credit.list.id == lists["u1"]["listId"]
    # Each item is credited to the strategy that chose it.
    by_strategy = Counter(first[c]["strategy"] for c in ANALYTICS)
    for strategy, clicks in by_strategy.items():
        shown = Counter(i["strategy"] for f in lists.values() for i in f["items"])[strategy]
        shoppers = {c for c, f in lists.items() if strategy in {i["strategy"] for i in f["items"]}}
        r = row(found, "strategy", strategy)
        if len(shoppers) >= 5:
            assert (r.impressions, r.clicks) == (shown, clicks)
        else:
            assert r.suppressed and r.clicks is None
    home_row = row(found, "placement", "home")
    assert (home_row.clicks, home_row.add_to_carts) == (len(ANALYTICS), 3)
    assert row(found, "blend", "default").conversions == 3


async def test_a_customer_who_refused_analytics_changes_no_figure(
    shop: Graph, served: Serve
) -> None:
    settings = settings_for_tests(insights_min_customers=2)
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        for c in ANALYTICS[:3]:
            listed = await home(client, c, f"{c}-visit")
            item = listed["items"][0]
            await track(client, [view(f"click-{c}", f"{c}-visit", item, listed)], customer=c)
            await track(client, [purchase(f"buy-{c}", c, item["product"]["sku"], NOW)])
        before = await figures(app, shop)
        listed = await home(client, REFUSED, "bea-visit")
        item = listed["items"][0]
        body = await track(client, [view("click-bea", "bea-visit", item, listed)], customer=REFUSED)
        await track(client, [purchase("buy-bea", REFUSED, item["product"]["sku"], NOW)])
        after = await figures(app, shop)
    assert body["accepted"] == 1  # her events are stored as ever; they just do not count
    assert after.rows == before.rows
    assert await shop.read("MATCH (l:ServedList {customer_id: 'bea'}) RETURN l") == []
    assert await shop.read("MATCH (e:ListEvent {customer_id: 'bea'}) RETURN e") == []


async def test_cells_of_fewer_than_k_shoppers_are_suppressed(shop: Graph, served: Serve) -> None:
    settings = settings_for_tests(insights_min_customers=3)
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        for c in ANALYTICS[:4]:
            await home(client, c, f"{c}-visit")
        for c in ANALYTICS[:2]:
            body = await client.post(
                "/graphql",
                json={
                    "query": "query($s: ID) { recommendations(placement: CATEGORY, "
                    'categoryId: "coats", sessionId: $s) { listId } }',
                    "variables": {"s": visit(f"{c}-visit")["sessionId"]},
                },
                headers={"X-Test-Customer": c},
            )
            assert "errors" not in body.json()
        found = await figures(app, shop)
    shown, hidden = row(found, "placement", "home"), row(found, "placement", "category")
    assert not shown.suppressed and shown.shoppers == 4 and shown.impressions
    assert hidden.suppressed and hidden.shoppers == 2
    assert (hidden.impressions, hidden.clicks, hidden.conversions, hidden.revenue) == (
        None,
        None,
        None,
        None,
    )


async def test_a_bad_list_id_is_ignored_and_the_event_still_stored(
    shop: Graph, served: Serve
) -> None:
    async with served(authenticate=customer_or_backend) as (_, client):
        listed = await home(client, "ana", "ana-visit")
        item = listed["items"][0]
        good = view("click-1", "ana-visit", item, listed)
        body = await track(
            client,
            [
                {**good, "eventId": "bad-1", "listId": "not a list!"},
                {**good, "eventId": "bad-2", "position": 0},
                good,
                good,  # sent twice
            ],
            customer="ana",
        )
    assert body["accepted"] == 3 and body["duplicates"] == 1
    assert [(i["index"], i["field"]) for i in body["ignoredSignals"]] == [
        (0, "listId"),
        (1, "listId"),
    ]
    stored = await shop.read("MATCH (e:ListEvent) RETURN e.list_id AS list, e.position AS p")
    assert stored == [{"list": listed["listId"], "p": item["position"]}]
