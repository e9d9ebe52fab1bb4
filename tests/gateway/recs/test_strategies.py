"""Each built-in strategy on the small shop (tests/gateway/recs/conftest.py), over HTTP.

A strategy is asked alone with ``strategy:``; its reasons must be true: the
sentence names what the shopper really bought or looked at.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from gateway import ClientKind, Principal
from graph import Graph
from tests.gateway.conftest import Serve, gql
from tests.gateway.recs.conftest import BASKETS, FIRST_DEVICE, FIRST_VISIT, ago, event, store

ONE = """query($strategy: String) { me { recommendations(first: 5, strategy: $strategy) {
  product { sku name inStock } score strategy reasons { code text categories purpose } } } }"""

SESSION = """query($id: ID!) { session(id: $id) { recommendations(first: 4) {
  product { sku } strategy reasons { code text categories purpose } } } }"""

SIMILAR = """{ product(sku: "chelsea") { similar(first: 4) {
  product { sku } strategy reasons { code text categories purpose } } } }"""


async def alone(client: httpx.AsyncClient, strategy: str, customer: str = "ana") -> list[Any]:
    body = await gql(client, ONE, {"strategy": strategy}, customer=customer)
    assert "errors" not in body, body
    items: list[Any] = body["data"]["me"]["recommendations"]
    return items


def skus(items: list[Any]) -> list[str]:
    return [item["product"]["sku"] for item in items]


def texts(item: dict[str, Any]) -> list[str]:
    return [reason["text"] for reason in item["reasons"]]


async def test_collaborative_names_the_purchase_behind_each_suggestion(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        items = await alone(client, "collaborative")
    # Shoppers who bought Chelsea Boots bought socks and polish; Ana bought them not.
    assert skus(items)[:1] == ["socks"]
    assert {"socks", "polish"} <= set(skus(items))
    socks = items[0]
    assert socks["strategy"] == "collaborative"
    assert socks["reasons"] == [
        {
            "code": "BOUGHT",
            "text": "Because you bought Chelsea Boots by Northbrook",
            "categories": ["purchase_history"],
            "purpose": "personalisation",
        }
    ]
    bought = {sku for sku, _ in BASKETS["ana"]}
    assert not bought & set(skus(items))
    # Every sentence names one of her purchases, never something she did not buy.
    assert all(
        t
        in (
            "Because you bought Chelsea Boots by Northbrook",
            "Because you bought Hiking Boots by Northbrook",
        )
        for item in items
        for t in texts(item)
    )
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)


async def test_bought_together_suggests_partners_of_her_purchases(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        items = await alone(client, "bought-together")
    by_sku = {item["product"]["sku"]: item for item in items}
    assert {"socks", "polish", "ankle"} <= set(by_sku)
    assert texts(by_sku["socks"]) == [
        "Often bought together with Chelsea Boots by Northbrook, which you bought"
    ]
    assert texts(by_sku["ankle"]) == [
        "Often bought together with Hiking Boots by Northbrook, which you bought"
    ]
    assert "chelsea" not in by_sku and "hiking" not in by_sku


async def test_affinity_follows_the_brand_she_keeps_choosing(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        items = await alone(client, "affinity")
    # Her two purchases are both Northbrook boots: other Northbrook boots follow,
    # and the sentence says how many things she bought there.
    assert set(skus(items)) == {"ankle", "rain-boots", "desert"}
    for item in items:
        assert item["reasons"][0]["code"] == "AFFINITY"
        assert item["reasons"][0]["categories"] == ["derived_preferences"]
        assert texts(item)[0] in (
            "Because you often choose Northbrook: you bought 2 things by Northbrook",
            "Because you often choose Boots: you bought 2 things in Boots",
        )


async def test_a_customer_with_no_history_gets_no_personal_suggestions(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        for strategy in ("collaborative", "bought-together", "affinity"):
            assert await alone(client, strategy, customer="bea") == []


async def test_trending_is_what_sells_now_but_never_what_is_out_of_stock(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        items = await alone(client, "trending", customer="bea")
    # The rain coat sold most, and most recently, but cannot be bought.
    assert "rain-coat" not in skus(items)
    assert skus(items)[0] == "socks"
    assert all(item["product"]["inStock"] for item in items)
    assert items[0]["reasons"] == [
        {
            "code": "TRENDING",
            "text": "Popular right now",
            "categories": [],
            "purpose": "not_personal",
        }
    ]


async def test_a_first_visit_gets_popular_products(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, SESSION, {"id": FIRST_VISIT})
    items = body["data"]["session"]["recommendations"]
    assert len(items) == 4
    assert {item["strategy"] for item in items} == {"trending"}
    assert all(texts(item)[0] == "Popular right now" for item in items)
    assert "rain-coat" not in skus(items)


async def test_in_session_follows_this_visit_as_its_events_arrive(
    shop: Graph, served: Serve
) -> None:
    track = """mutation($events: [EventInput!]!) { trackEvents(events: $events) { accepted } }"""

    async def web_shop(request: Request) -> Principal:
        # The retailer's web shop: a public client that sends an anonymous visit's events.
        return Principal("web-shop", ClientKind.PUBLIC, None, frozenset({"events:write"}))

    async with served(authenticate=web_shop) as (_, client):
        before = await gql(client, SESSION, {"id": FIRST_VISIT})
        view = {
            "eventId": "fv-1",
            "type": "VIEW",
            "at": ago(0.01),
            "sessionId": FIRST_VISIT,
            "deviceId": FIRST_DEVICE,
            "sku": "trench",
        }
        sent = await gql(client, track, {"events": [view]})
        after_view = await gql(client, SESSION, {"id": FIRST_VISIT})
        cart = {
            "eventId": "fv-2",
            "type": "ADD_TO_CART",
            "at": ago(0.005),
            "sessionId": FIRST_VISIT,
            "deviceId": FIRST_DEVICE,
            "sku": "desert",
        }
        await gql(client, track, {"events": [cart]})
        after_cart = await gql(client, SESSION, {"id": FIRST_VISIT})
    assert sent["data"]["trackEvents"]["accepted"] == 1
    assert {i["strategy"] for i in before["data"]["session"]["recommendations"]} == {"trending"}

    viewed = after_view["data"]["session"]["recommendations"]
    # Visits that looked at the trench coat also looked at the parka and the wool coat.
    assert skus(viewed)[:2] == ["parka", "wool-coat"]
    assert viewed[0]["strategy"] == "in-session"
    assert viewed[0]["reasons"][0] == {
        "code": "VIEWED",
        "text": "Because you looked at Trench Coat by Zen",
        "categories": ["browsing_history"],
        "purpose": "personalisation",
    }
    assert "trench" not in skus(viewed)

    basket = after_cart["data"]["session"]["recommendations"]
    # The boots in the basket count double: what was viewed with them comes first,
    # and the basket's own product is never suggested.
    assert skus(basket)[0] == "chelsea"
    assert texts(basket[0])[0] == "Goes with Desert Boots by Northbrook in your basket"
    assert "desert" not in skus(basket)


async def test_similar_products_of_a_product_page(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, SIMILAR)
    items = body["data"]["product"]["similar"]
    assert len(items) == 4
    by_sku = {item["product"]["sku"]: item for item in items}
    assert "chelsea" not in by_sku
    assert texts(by_sku["socks"])[0] == "Often bought together with Chelsea Boots"
    assert by_sku["socks"]["reasons"][0]["purpose"] == "not_personal"
    assert texts(by_sku["desert"])[0] == (
        "Shoppers who looked at Chelsea Boots also looked at this"
    )
    # The page is filled from what is popular in the product's category.
    fillers = [item for item in items if item["strategy"] == "trending"]
    assert all(texts(item)[0] == "Popular in Boots right now" for item in fillers)


async def test_a_purchase_bought_elsewhere_leaves_the_list(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        before = await alone(client, "collaborative")
        await store(shop, event("ana-socks", "purchase", ago(0.01), customer_id="ana", sku="socks"))
        after = await alone(client, "collaborative")
    assert "socks" in skus(before)
    assert "socks" not in skus(after)


async def test_a_visit_signed_in_as_a_customer_follows_her_consent(
    shop: Graph, served: Serve
) -> None:
    # Ana signs in during a visit that looked at the trench coat. That visit is
    # her browsing: once she withdraws personalisation, it is not personalised
    # either, while an anonymous visit's own data still is.
    await store(
        shop,
        event("av-1", "view", ago(0.02), session_id="ana-visit", sku="trench"),
        event("av-2", "login", ago(0.01), session_id="ana-visit", customer_id="ana"),
    )
    withdraw = 'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }'
    async with served() as (_, client):
        before = await gql(client, SESSION, {"id": "ana-visit"}, customer="ana")
        assert (await gql(client, withdraw, customer="ana"))["data"]["setConsent"] == {
            "granted": False
        }
        after = await gql(client, SESSION, {"id": "ana-visit"}, customer="ana")
        anonymous = await gql(client, SESSION, {"id": "v1"}, back_end=True)
    assert "errors" not in after, after
    assert before["data"]["session"]["recommendations"][0]["strategy"] == "in-session"
    items = after["data"]["session"]["recommendations"]
    assert items and "in-session" not in {item["strategy"] for item in items}
    [skipped] = [r for r in items[0]["reasons"] if r["code"] == "STRATEGY_SKIPPED"]
    assert "in-session" in skipped["text"] and "personalisation" in skipped["text"]
    assert "in-session" in {i["strategy"] for i in anonymous["data"]["session"]["recommendations"]}
