"""tightrope-history: purchases, recently viewed products and the basket, over HTTP.

Events are written through the same path as trackEvents and the bulk loader.
A basket item counts only if it was added within the last 30 days, so events
here are dated relative to now. The customers here granted personalisation,
which "recently viewed" serves (test_consent.py covers the refusals).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.requests import Request

from gateway import ClientKind, Principal, encode_cursor
from graph import Event, Graph, parse_event
from tests.gateway.conftest import BACK_OFFICE, ISSUED, Serve, codes, gql, grant, write_and_link

NOW = datetime.now(UTC)
CUSTOMER = "ana"


def ago(hours: float = 0, days: float = 0) -> str:
    return (NOW - timedelta(hours=hours, days=days)).isoformat()


def event(event_id: str, type: str, at: str, **fields: Any) -> Event:
    return parse_event({"event_id": event_id, "type": type, "at": at, **fields})


async def store(graph: Graph, *events: Event) -> None:
    """Store events and link their devices, as trackEvents and its queue do."""
    result = await write_and_link(graph, events)
    assert result.rejected == []


@pytest.fixture
async def history_graph(demo_graph: Graph) -> Graph:
    """The seeded catalogue plus a customer ``ana`` with no history yet."""
    await demo_graph.write(
        "CREATE (:Customer {id: $id, created_at: datetime('2025-05-01T00:00:00Z')})",
        {"id": CUSTOMER},
    )
    await grant(demo_graph, CUSTOMER, "personalisation")
    return demo_graph


def skus(items: list[dict[str, Any]]) -> list[str]:
    return [item["product"]["sku"] for item in items]


CART = "{ me { cart { product { sku name } addedAt } } }"


async def test_the_basket_started_on_the_phone_is_there_on_the_laptop(
    history_graph: Graph, served: Serve
) -> None:
    phone = {"device_id": "phone", "channel": "app"}
    await store(
        history_graph,
        # Ana signed in on her phone once, which links the phone to her...
        event("e1", "login", ago(hours=50), session_id="phone-1", customer_id=CUSTOMER, **phone),
        # ... so a later visit on the phone is hers even though she did not sign in.
        event("e2", "add_to_cart", ago(hours=30), session_id="phone-2", sku="sku-001", **phone),
        event("e3", "add_to_cart", ago(hours=29), session_id="phone-2", sku="sku-002", **phone),
        event("e4", "add_to_cart", ago(hours=28), session_id="phone-2", sku="sku-001", **phone),
        # Too long ago to still be in a basket.
        event("e5", "add_to_cart", ago(days=40), session_id="phone-0", sku="sku-004", **phone),
        # A session on a kiosk she signed in to (no device of hers).
        event("e6", "login", ago(hours=20), session_id="kiosk-1", customer_id=CUSTOMER),
        event("e7", "add_to_cart", ago(hours=19), session_id="kiosk-1", sku="sku-005"),
        # Someone else's phone, never signed in: not her basket.
        event("e8", "add_to_cart", ago(hours=10), session_id="other-1", sku="sku-006"),
        # Now she signs in on her laptop.
        event("e9", "login", ago(hours=2), session_id="laptop-1", customer_id=CUSTOMER),
    )
    async with served() as (_, client):
        before = await gql(client, CART, customer=CUSTOMER)
        await store(
            history_graph,
            event("e10", "purchase", ago(hours=1), customer_id=CUSTOMER, sku="sku-001"),
        )
        after_purchase = await gql(client, CART, customer=CUSTOMER)
        await store(
            history_graph,
            event("e11", "add_to_cart", ago(hours=0.5), session_id="laptop-1", sku="sku-001"),
        )
        added_again = await gql(client, CART, customer=CUSTOMER)

    assert "errors" not in before, before
    cart = before["data"]["me"]["cart"]
    # Last added first; sku-001, added twice, counts once, at its latest add.
    assert skus(cart) == ["sku-005", "sku-001", "sku-002"]
    assert cart[1] == {
        "product": {"sku": "sku-001", "name": "Wool Coat 1"},
        "addedAt": datetime.fromisoformat(ago(hours=28)).isoformat(),
    }
    assert skus(after_purchase["data"]["me"]["cart"]) == ["sku-005", "sku-002"]
    assert skus(added_again["data"]["me"]["cart"]) == ["sku-001", "sku-005", "sku-002"]


async def test_purchases_come_newest_first_in_pages(history_graph: Graph, served: Serve) -> None:
    # Seven order lines; two share an instant (ties go by event id, highest first)
    # and fall on either side of a page boundary.
    lines = [
        event("p1", "purchase", ago(days=9), customer_id=CUSTOMER, sku="sku-001", qty=2),
        event("p2", "purchase", ago(days=8), customer_id=CUSTOMER, sku="sku-002", price=5.5),
        event("p3", "purchase", ago(days=7), customer_id=CUSTOMER, sku="sku-003", order_id="o-7"),
        event("p4", "purchase", ago(days=7), customer_id=CUSTOMER, sku="sku-004", order_id="o-7"),
        event("p5", "purchase", ago(days=3), customer_id=CUSTOMER, sku="sku-005"),
        event("p6", "purchase", ago(days=2), customer_id=CUSTOMER, sku="sku-006"),
        event("p7", "purchase", ago(days=1), customer_id=CUSTOMER, sku="sku-007"),
        # Another customer's purchase never shows.
        event("x1", "purchase", ago(days=1), customer_id="c1", sku="sku-008"),
    ]
    await store(history_graph, *lines)
    query = """query($after: String) { me { purchases(first: 2, after: $after) {
        edges { cursor node { product { sku } at qty price orderId } }
        pageInfo { hasNextPage endCursor } } } }"""
    pages = []
    after = None
    async with served() as (_, client):
        while True:
            body = await gql(client, query, {"after": after}, customer=CUSTOMER)
            assert "errors" not in body, body
            page = body["data"]["me"]["purchases"]
            pages.append([edge["node"] for edge in page["edges"]])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]
        garbled = await gql(client, query, {"after": "not-a-cursor"}, customer=CUSTOMER)

    assert [[n["product"]["sku"] for n in p] for p in pages] == [
        ["sku-007", "sku-006"],
        ["sku-005", "sku-004"],
        ["sku-003", "sku-002"],
        ["sku-001"],
    ]
    by_sku = {n["product"]["sku"]: n for p in pages for n in p}
    # qty defaults to 1 and price to the product's price (10 + its number).
    assert by_sku["sku-001"]["qty"] == 2 and by_sku["sku-001"]["price"] == 11.0
    assert by_sku["sku-002"]["price"] == 5.5
    assert by_sku["sku-003"]["orderId"] == by_sku["sku-004"]["orderId"] == "o-7"
    assert by_sku["sku-005"]["orderId"] == "p5"  # a one-line order is its event
    assert by_sku["sku-007"]["at"] == datetime.fromisoformat(ago(days=1)).isoformat()
    assert codes(garbled) == ["BAD_USER_INPUT"]


async def test_a_cursor_whose_time_has_no_timezone_is_bad_user_input(
    history_graph: Graph, served: Serve
) -> None:
    await store(
        history_graph,
        event("p1", "purchase", ago(days=2), customer_id=CUSTOMER, sku="sku-001"),
        event("p2", "purchase", ago(days=1), customer_id=CUSTOMER, sku="sku-002"),
    )
    query = """query($after: String) { me { purchases(first: 1, after: $after) {
        nodes { product { sku } } } } }"""
    # A hand-made cursor: the API's own always carry the offset of the time.
    naive = (NOW - timedelta(hours=36)).replace(tzinfo=None).isoformat()
    aware = (NOW - timedelta(hours=36)).isoformat()
    async with served() as (_, client):
        refused = await gql(client, query, {"after": encode_cursor({"at": naive, "id": "p2"})},
                            customer=CUSTOMER)  # fmt: skip
        answered = await gql(client, query, {"after": encode_cursor({"at": aware, "id": "p2"})},
                             customer=CUSTOMER)  # fmt: skip
    assert codes(refused) == ["BAD_USER_INPUT"]
    assert "timezone" in refused["errors"][0]["message"]
    assert refused["data"]["me"]["purchases"] is None
    assert answered["data"]["me"]["purchases"]["nodes"] == [{"product": {"sku": "sku-001"}}]


VIEWED = "query($first: Int) { me { recentlyViewed(first: $first) { product { sku } viewedAt } } }"


async def test_recently_viewed_lists_each_product_once_across_devices(
    history_graph: Graph, served: Serve
) -> None:
    phone, laptop = {"device_id": "phone"}, {"device_id": "laptop"}
    await store(
        history_graph,
        event("l1", "login", ago(hours=30), session_id="phone-1", customer_id=CUSTOMER, **phone),
        event("l2", "login", ago(hours=30), session_id="laptop-1", customer_id=CUSTOMER, **laptop),
        event("v1", "view", ago(hours=10), session_id="phone-1", sku="sku-001", **phone),
        event("v2", "view", ago(hours=9), session_id="phone-1", sku="sku-002", **phone),
        event("v3", "view", ago(hours=8), session_id="laptop-1", sku="sku-001", **laptop),
        event("v4", "view", ago(hours=7), session_id="phone-2", sku="sku-003", **phone),
        event("v5", "view", ago(hours=6), session_id="phone-2", sku="sku-002", **phone),
        # Viewed by someone else, on a device never linked to her.
        event("v6", "view", ago(hours=1), session_id="other-1", sku="sku-009"),
    )
    async with served() as (_, client):
        everything = await gql(client, VIEWED, customer=CUSTOMER)
        two = await gql(client, VIEWED, {"first": 2}, customer=CUSTOMER)
        too_many = await gql(client, VIEWED, {"first": 101}, customer=CUSTOMER)

    viewed = everything["data"]["me"]["recentlyViewed"]
    assert skus(viewed) == ["sku-002", "sku-003", "sku-001"]
    assert viewed[0]["viewedAt"] == datetime.fromisoformat(ago(hours=6)).isoformat()
    assert viewed[2]["viewedAt"] == datetime.fromisoformat(ago(hours=8)).isoformat()
    assert skus(two["data"]["me"]["recentlyViewed"]) == ["sku-002", "sku-003"]
    # The list is bounded by the page size limit (100 by default).
    assert codes(too_many) == ["BAD_USER_INPUT"]


async def test_a_guessed_device_link_does_not_share_history_unless_allowed(
    history_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tablet linked to Ana by a guess (same network and browser): maybe her
    # partner's. Its browsing is not hers unless the operator trusts such guesses.
    await store(
        history_graph,
        event("t1", "view", ago(hours=3), session_id="tablet-1", sku="sku-010", device_id="tab"),
        event("t2", "add_to_cart", ago(hours=3), session_id="tablet-1", sku="sku-011"),
    )
    await history_graph.write(
        """MATCH (d:Device {id: 'tab'}), (c:Customer {id: $id})
        CREATE (d)-[:USED_BY {method: 'probabilistic', confidence: 0.7}]->(c)""",
        {"id": CUSTOMER},
    )
    query = "{ me { recentlyViewed { product { sku } } cart { product { sku } } } }"
    async with served() as (_, client):
        strict = await gql(client, query, customer=CUSTOMER)
    monkeypatch.setenv("TIGHTROPE_HISTORY_MIN_LINK_CONFIDENCE", "0.6")
    async with served() as (_, client):
        trusting = await gql(client, query, customer=CUSTOMER)

    assert strict["data"]["me"] == {"recentlyViewed": [], "cart": []}
    assert skus(trusting["data"]["me"]["recentlyViewed"]) == ["sku-010"]
    assert skus(trusting["data"]["me"]["cart"]) == ["sku-011"]


async def test_an_anonymous_visitor_sees_their_session_views_and_basket(
    history_graph: Graph, served: Serve
) -> None:
    kiosk = ISSUED.new_device()
    visit = {"session_id": ISSUED.new_session(kiosk), "device_id": kiosk}
    await store(
        history_graph,
        event("a1", "view", ago(hours=3), sku="sku-001", **visit),
        event("a2", "view", ago(hours=2), sku="sku-002", **visit),
        event("a3", "view", ago(hours=1), sku="sku-001", **visit),
        event("a4", "add_to_cart", ago(hours=1), sku="sku-002", **visit),
        event("a5", "add_to_cart", ago(days=31), sku="sku-003", **visit),
        # Another visitor's session.
        event("a6", "view", ago(hours=1), session_id="visit-2", sku="sku-009"),
    )
    query = """query($id: ID!) { session(id: $id) {
        views { product { sku } viewedAt } one: views(first: 1) { product { sku } }
        cart { product { sku } addedAt } } }"""
    async with served() as (_, client):
        body = await gql(client, query, {"id": visit["session_id"]})  # no token at all

    assert "errors" not in body, body
    session = body["data"]["session"]
    assert skus(session["views"]) == ["sku-001", "sku-002"]
    assert skus(session["one"]) == ["sku-001"]
    assert session["cart"] == [
        {"product": {"sku": "sku-002"}, "addedAt": datetime.fromisoformat(ago(hours=1)).isoformat()}
    ]


def principal_with(*scopes: str) -> Any:
    async def authenticate(request: Request) -> Principal:
        return Principal("app", ClientKind.THIRD_PARTY, CUSTOMER, frozenset(scopes))

    return authenticate


ALL_HISTORY = """{ me { id
    purchases { nodes { product { sku } } }
    recentlyViewed { product { sku } }
    cart { product { sku } } } }"""


async def test_history_needs_its_scopes(history_graph: Graph, served: Serve) -> None:
    await store(
        history_graph,
        event("s1", "login", ago(hours=5), session_id="web-1", customer_id=CUSTOMER),
        event("s2", "view", ago(hours=4), session_id="web-1", sku="sku-001"),
        event("s3", "add_to_cart", ago(hours=4), session_id="web-1", sku="sku-001"),
        event("s4", "purchase", ago(hours=3), customer_id=CUSTOMER, sku="sku-002"),
    )
    await grant(history_graph, CUSTOMER, "third_party_sharing")  # the principal is a third party
    answers = {}
    for scopes in ((), ("browsing:read",), ("purchases:read",)):
        async with served(authenticate=principal_with("profile:read", *scopes)) as (_, client):
            answers[scopes] = await gql(client, ALL_HISTORY)

    def refused(body: dict[str, Any]) -> dict[str, list[str]]:
        return {e["path"][-1]: e["extensions"]["missingScopes"] for e in body.get("errors", [])}

    assert answers[()]["data"]["me"] == {
        "id": CUSTOMER,
        "purchases": None,
        "recentlyViewed": None,
        "cart": None,
    }
    assert codes(answers[()]) == ["FORBIDDEN"] * 3
    assert refused(answers[()]) == {
        "purchases": ["purchases:read"],
        "recentlyViewed": ["browsing:read"],
        "cart": ["browsing:read"],
    }
    browsing = answers[("browsing:read",)]
    assert browsing["data"]["me"]["purchases"] is None
    assert skus(browsing["data"]["me"]["recentlyViewed"]) == ["sku-001"]
    assert skus(browsing["data"]["me"]["cart"]) == ["sku-001"]
    assert refused(browsing) == {"purchases": ["purchases:read"]}
    buying = answers[("purchases:read",)]
    assert skus(buying["data"]["me"]["purchases"]["nodes"]) == ["sku-002"]
    assert refused(buying) == {"recentlyViewed": ["browsing:read"], "cart": ["browsing:read"]}


# -- no N+1 -------------------------------------------------------------------


async def many_customers(graph: Graph, count: int) -> list[str]:
    """``count`` customers, each with purchases, views and a basket of their own."""
    ids = [f"cust-{i}" for i in range(count)]
    await graph.write(
        "UNWIND $ids AS id CREATE (:Customer {id: id, created_at: datetime()})", {"ids": ids}
    )
    for cid in ids:
        await grant(graph, cid, "personalisation")
    events = []
    for i, cid in enumerate(ids):
        session = {"session_id": f"{cid}-web", "device_id": f"{cid}-phone"}
        events += [
            event(f"{cid}-in", "login", ago(hours=9), customer_id=cid, **session),
            event(f"{cid}-v", "view", ago(hours=8), sku=f"sku-{i + 1:03}", **session),
            event(f"{cid}-a", "add_to_cart", ago(hours=7), sku=f"sku-{i + 11:03}", **session),
            event(f"{cid}-p", "purchase", ago(hours=6), customer_id=cid, sku=f"sku-{i + 21:03}"),
        ]
    await store(graph, *events)
    return ids


def customers_query(ids: list[str]) -> str:
    fields = """id purchases(first: 5) { nodes { product { sku } qty } }
        recentlyViewed(first: 5) { product { sku } } cart { product { sku } }"""
    return (
        "{ "
        + " ".join(f'c{i}: customer(id: "{cid}") {{ {fields} }}' for i, cid in enumerate(ids))
        + " }"
    )


def sessions_query(ids: list[str]) -> str:
    fields = "id views(first: 5) { product { sku } } cart { product { sku } }"
    return (
        "{ "
        + " ".join(f's{i}: session(id: "{sid}-web") {{ {fields} }}' for i, sid in enumerate(ids))
        + " }"
    )


async def round_trips(serve: Serve, document: str) -> tuple[int, dict[str, Any]]:
    context: AbstractAsyncContextManager[Any] = serve()
    async with context as (app, client):
        graph: Graph = app.state.graph
        # The client's registered operations are read on its first request, then kept.
        await gql(client, "{ __typename }", customer=BACK_OFFICE)
        before = graph.round_trips
        body = await gql(client, document, customer=BACK_OFFICE)
        return graph.round_trips - before, body


# One read for the customers, one for all their consents (recentlyViewed serves
# personalisation), then one per history field for all of them.
CUSTOMER_ROUND_TRIPS = 5
# One read for the sessions, one for all their views, one for all their baskets.
SESSION_ROUND_TRIPS = 3


async def test_many_customers_cost_one_read_per_field(history_graph: Graph, served: Serve) -> None:
    ids = await many_customers(history_graph, 8)
    for count in (2, 8):
        used, body = await round_trips(served, customers_query(ids[:count]))
        assert "errors" not in body, body
        assert len(body["data"]) == count
        for i in range(count):
            answer = body["data"][f"c{i}"]
            assert skus(answer["purchases"]["nodes"]) == [f"sku-{i + 21:03}"]
            assert skus(answer["recentlyViewed"]) == [f"sku-{i + 1:03}"]
            assert skus(answer["cart"]) == [f"sku-{i + 11:03}"]
        assert used == CUSTOMER_ROUND_TRIPS


async def test_many_sessions_cost_one_read_per_field(history_graph: Graph, served: Serve) -> None:
    ids = await many_customers(history_graph, 8)
    for count in (2, 8):
        used, body = await round_trips(served, sessions_query(ids[:count]))
        assert "errors" not in body, body
        for i in range(count):
            answer = body["data"][f"s{i}"]
            assert skus(answer["views"]) == [f"sku-{i + 1:03}"]
            assert skus(answer["cart"]) == [f"sku-{i + 11:03}"]
        assert used == SESSION_ROUND_TRIPS


TRACK = """
mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted rejected { index eventId field message } }
}
"""
HISTORY = "{ me { recentlyViewed { product { sku } } cart { product { sku } } } }"


async def add_customer(graph: Graph, customer_id: str) -> None:
    await graph.write(
        "CREATE (:Customer {id: $id, created_at: datetime('2025-05-01T00:00:00Z')})",
        {"id": customer_id},
    )
    await grant(graph, customer_id, "personalisation")


async def test_another_customer_cannot_sign_in_to_a_victims_session_or_device(
    history_graph: Graph, served: Serve
) -> None:
    # Ana browses signed in on her phone. Mallory has learnt the phone's session
    # and device ids (they are cookies) and replays them in logins of her own.
    await add_customer(history_graph, "mallory")
    ana_phone = ISSUED.new_device()
    ana_1 = ISSUED.new_session(ana_phone)
    phone = {"device_id": ana_phone}
    await store(
        history_graph,
        event("a1", "login", ago(hours=5), session_id=ana_1, customer_id=CUSTOMER, **phone),
        event("a2", "view", ago(hours=4), session_id=ana_1, sku="sku-001", **phone),
        event("a3", "add_to_cart", ago(hours=4), session_id=ana_1, sku="sku-002", **phone),
    )
    attack = [
        {
            "eventId": "m1",
            "type": "LOGIN",
            "at": ago(hours=1),
            "sessionId": ana_1,
            "deviceId": ana_phone,
        },
        {
            "eventId": "m2",
            "type": "LOGIN",
            "at": ago(hours=1),
            # A visit of the phone Mallory starts herself (startVisit with its id).
            "sessionId": ISSUED.new_session(ana_phone),
            "deviceId": ana_phone,
        },
    ]
    async with served() as (_, client):
        tracked = await gql(client, TRACK, {"events": attack}, customer="mallory")
        mallory = await gql(client, HISTORY, customer="mallory")
        ana = await gql(client, HISTORY, customer=CUSTOMER)

    result = tracked["data"]["trackEvents"]
    assert result["rejected"] == [
        {
            "index": 0,
            "eventId": "m1",
            "field": "session_id",
            "message": "the session is signed in as another customer",
        }
    ]
    assert codes(tracked) == ["BAD_USER_INPUT"]
    # The login on a fresh session of the phone is accepted (she holds its id),
    # but it reaches none of Ana's signed-in browsing: the phone is now shared.
    assert result["accepted"] == 1
    assert mallory["data"]["me"] == {"recentlyViewed": [], "cart": []}
    assert skus(ana["data"]["me"]["recentlyViewed"]) == ["sku-001"]
    assert skus(ana["data"]["me"]["cart"]) == ["sku-002"]
    owners = await history_graph.read(
        "MATCH (:Session {id: $s})-[:SIGNED_IN_AS]->(c) RETURN c.id AS id", {"s": ana_1}
    )
    assert owners == [{"id": CUSTOMER}]


async def test_on_a_shared_device_each_customer_sees_only_their_own_signed_in_sessions(
    history_graph: Graph, served: Serve
) -> None:
    await add_customer(history_graph, "bo")
    laptop = {"device_id": "family-laptop"}
    await store(
        history_graph,
        event("f1", "login", ago(hours=9), session_id="ana-s", customer_id=CUSTOMER, **laptop),
        event("f2", "view", ago(hours=9), session_id="ana-s", sku="sku-001", **laptop),
        event("f3", "add_to_cart", ago(hours=9), session_id="ana-s", sku="sku-002", **laptop),
        event("f4", "login", ago(hours=8), session_id="bo-s", customer_id="bo", **laptop),
        event("f5", "view", ago(hours=8), session_id="bo-s", sku="sku-003", **laptop),
        event("f6", "add_to_cart", ago(hours=8), session_id="bo-s", sku="sku-004", **laptop),
        # Nobody signed in on a device two customers use: whose visit it was is
        # unknown, so it is nobody's history (graph/sessions.py).
        event("f7", "view", ago(hours=7), session_id="anon-s", sku="sku-005", **laptop),
        event("f8", "add_to_cart", ago(hours=7), session_id="anon-s", sku="sku-006", **laptop),
    )
    async with served() as (_, client):
        ana = await gql(client, HISTORY, customer=CUSTOMER)
        bo = await gql(client, HISTORY, customer="bo")

    assert skus(ana["data"]["me"]["recentlyViewed"]) == ["sku-001"]
    assert skus(ana["data"]["me"]["cart"]) == ["sku-002"]
    assert skus(bo["data"]["me"]["recentlyViewed"]) == ["sku-003"]
    assert skus(bo["data"]["me"]["cart"]) == ["sku-004"]
