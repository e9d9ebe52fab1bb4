"""Placements: a frontend asks for a list by the place on its page, first visits included."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from gateway import ClientKind, Principal
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, visit
from tests.gateway.recs.conftest import BASKETS, ago, event, store

PLACED = """query($placement: Placement!, $session: ID, $device: ID, $category: ID, $sku: ID,
                 $first: Int) {
  recommendations(placement: $placement, sessionId: $session, deviceId: $device,
                  categoryId: $category, sku: $sku, first: $first) {
    listId placement
    items { product { sku inStock categories { id } } strategy listId position
            reasons { code purpose } } } }"""


async def placed(client: Any, customer: str | None = None, **variables: Any) -> dict[str, Any]:
    body = await gql(client, PLACED, variables, customer=customer)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["recommendations"]
    return found


async def test_a_visit_never_seen_before_gets_a_full_home_list_of_popular_products(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        found = await placed(client, placement="HOME", session="never-seen-1", first=5)
    assert found["placement"] == "HOME"
    items = found["items"]
    assert len(items) == 5
    assert {i["strategy"] for i in items} == {"trending"}
    assert all(i["product"]["inStock"] for i in items)
    assert all(r["purpose"] == "not_personal" for i in items for r in i["reasons"])
    # The session was not written: asking for a list stores no visit.
    assert await shop.read("MATCH (s:Session {id: 'never-seen-1'}) RETURN s") == []


async def test_every_list_has_its_own_opaque_id_and_numbered_items(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        first = await placed(client, placement="HOME", session="v-a", first=4)
        second = await placed(client, placement="HOME", session="v-a", first=4)
    assert first["listId"] != second["listId"]
    assert len(first["listId"]) >= 16
    assert [i["position"] for i in first["items"]] == [1, 2, 3, 4]
    assert {i["listId"] for i in first["items"]} == {first["listId"]}


async def test_home_for_a_signed_in_customer_is_personal(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        found = await placed(client, customer="ana", placement="HOME", session="ana-visit")
    strategies = {i["strategy"] for i in found["items"]}
    assert strategies - {"trending"}, strategies
    bought = {sku for sku, _ in BASKETS["ana"]}
    assert not bought & {i["product"]["sku"] for i in found["items"]}


async def test_a_category_page_lists_what_is_popular_in_that_category(
    shop: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        found = await placed(client, placement="CATEGORY", category="coats", session="v-b")
    skus = [i["product"]["sku"] for i in found["items"]]
    assert skus and all(
        "coats" in {c["id"] for c in i["product"]["categories"]} for i in found["items"]
    )
    assert "rain-coat" not in skus  # out of stock


async def test_a_product_page_lists_what_goes_with_the_product(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        found = await placed(client, placement="PRODUCT", sku="chelsea", session="v-c")
    skus = [i["product"]["sku"] for i in found["items"]]
    assert "chelsea" not in skus
    assert {"socks", "polish"} <= set(skus[:4])


async def test_the_basket_placement_follows_the_visits_basket(shop: Graph, served: Serve) -> None:
    ids = visit("v-d")
    await store(
        shop,
        event(
            "cart-1", "add_to_cart", ago(0.01), session_id=ids["sessionId"],
            device_id=ids["deviceId"], sku="trench",
        ),
    )  # fmt: skip
    async with served() as (_, client):
        found = await placed(client, placement="BASKET", session=ids["sessionId"])
    skus = [i["product"]["sku"] for i in found["items"]]
    assert "trench" not in skus
    assert "in-session" in {i["strategy"] for i in found["items"]}


async def test_a_placement_missing_its_context_is_a_clear_error(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        no_category = await gql(client, PLACED, {"placement": "CATEGORY"})
        no_sku = await gql(client, PLACED, {"placement": "PRODUCT", "sku": "nope"})
        no_visit = await gql(client, PLACED, {"placement": "HOME"})
        long_id = await gql(client, PLACED, {"placement": "HOME", "session": "x" * 201})
    assert codes(no_category) == ["BAD_USER_INPUT"]
    assert "categoryId" in no_category["errors"][0]["message"]
    assert codes(no_sku) == ["NOT_FOUND"]
    assert codes(no_visit) == ["BAD_USER_INPUT"]
    assert codes(long_id) == ["BAD_USER_INPUT"]


async def test_a_visit_signed_in_as_a_customer_is_only_theirs(shop: Graph, served: Serve) -> None:
    await store(
        shop, event("login-ana", "login", ago(0.01), session_id="ana-signed", customer_id="ana")
    )

    async def shop_app(request: Request) -> Principal:
        # A customer's token of the shop's own app: no back-office scope.
        customer = request.headers.get("X-Customer")
        scopes = frozenset({"recommendations:read", "browsing:read"})
        return Principal("shop", ClientKind.PUBLIC, customer, scopes if customer else frozenset())

    asked = {"placement": "BASKET", "session": "ana-signed"}
    async with served(authenticate=shop_app) as (_, client):

        async def ask(customer: str | None) -> dict[str, Any]:
            headers = {"X-Customer": customer} if customer else {}
            response = await client.post(
                "/graphql", json={"query": PLACED, "variables": asked}, headers=headers
            )
            body: dict[str, Any] = response.json()
            return body

        anonymous, other, own = await ask(None), await ask("u1"), await ask("ana")
    assert codes(anonymous) == ["FORBIDDEN"]
    assert codes(other) == ["FORBIDDEN"]
    assert "errors" not in own


async def test_a_visit_under_an_id_the_gateway_did_not_issue_is_nobody_elses_to_name(
    shop: Graph, served: Serve
) -> None:
    # The shop's back end stored an anonymous visit under its own (legacy) id; a
    # customer's app naming that id would read what is in its basket through the
    # in-session strategy. The gate's row rule answers as for no such visit.
    await store(
        shop, event("cart-legacy", "add_to_cart", ago(0.01), session_id="legacy-7", sku="trench")
    )

    async def shop_app(request: Request) -> Principal:
        customer = request.headers.get("X-Customer")
        scopes = frozenset({"recommendations:read", "browsing:read"})
        return Principal("shop", ClientKind.PUBLIC, customer, scopes)

    asked = {"placement": "BASKET", "session": "legacy-7"}
    async with served(authenticate=shop_app) as (_, client):
        response = await client.post(
            "/graphql", json={"query": PLACED, "variables": asked}, headers={"X-Customer": "u1"}
        )
    body: dict[str, Any] = response.json()
    assert codes(body) == ["NOT_FOUND"]
    assert body["data"] is None or body["data"]["recommendations"] is None
