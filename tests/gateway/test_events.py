"""trackEvents: the bulk loader's writer behind a mutation; idempotent, validated per event."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from gateway import ClientKind, Principal
from graph import Graph
from tests.gateway.conftest import Serve, codes, device, gql, session, visit

TRACK = """
mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted duplicates rejected { index eventId field message } }
}
"""

EVENTS: list[dict[str, Any]] = [
    {
        "eventId": "e1",
        "type": "VIEW",
        "at": "2025-05-01T10:00:00Z",
        **visit("s2"),
        "sku": "sku-001",
    },
    {
        "eventId": "e2",
        "type": "ADD_TO_CART",
        "at": "2025-05-01T10:01:00Z",
        **visit("s2"),
        "sku": "sku-001",
    },
    {
        "eventId": "e3",
        "type": "LOGIN",
        "at": "2025-05-01T10:02:00Z",
        **visit("s2"),
    },
    {
        "eventId": "e4",
        "type": "PURCHASE",
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
    linked = await demo_graph.read(
        "MATCH (:Device {id: $d})-[u:USED_BY]->(c) RETURN c.id AS id", {"d": device("s2-device")}
    )
    assert linked == [{"id": "c1"}]


async def test_bad_events_are_reported_by_index_and_good_ones_kept(
    demo_graph: Graph, served: Serve
) -> None:
    batch = [
        {
            "eventId": "ok",
            "type": "VIEW",
            "at": "2025-05-01T10:00:00Z",
            **visit("s3"),
            "sku": "sku-002",
        },
        {"eventId": "no-sku", "type": "VIEW", "at": "2025-05-01T10:00:00Z", **visit("s3")},
        {
            "eventId": "no-zone",
            "type": "VIEW",
            "at": "2025-05-01T10:00:00",
            **visit("s3"),
            "sku": "sku-002",
        },
        {
            "eventId": "ghost",
            "type": "VIEW",
            "at": "2025-05-01T10:00:00Z",
            **visit("s3"),
            "sku": "no-such-sku",
        },
    ]
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": batch}, customer="c1")
    result = body["data"]["trackEvents"]
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "sku"),
        (2, "at"),
        (3, "sku"),
    ]
    assert codes(body) == ["BAD_USER_INPUT"] * 3
    assert [e["extensions"]["index"] for e in body["errors"]] == [1, 2, 3]
    assert body["errors"][0]["message"] == "events[1].sku: is required"
    # A time without a timezone passes the DateTime scalar but not the event's rule.
    assert body["errors"][1]["message"].startswith("events[2].at: ")
    assert "has no timezone" in body["errors"][1]["message"]


async def test_a_customer_token_cannot_speak_for_another_customer(
    demo_graph: Graph, served: Serve
) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'c2', created_at: datetime()})")
    event = {
        "eventId": "x",
        "type": "PURCHASE",
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
        "type": "VIEW",
        "at": "2025-05-01T10:00:00Z",
        **visit("s4"),
        "sku": "sku-001",
    }
    batch = [view, dict(view), {**view, "sku": "sku-002"}]
    async with served() as (_, client):
        body = await gql(client, TRACK, {"events": batch}, customer="c1")
    result = body["data"]["trackEvents"]
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(2, "event_id")]


async def shop_backend(request: Request) -> Principal:
    return Principal("shop-backend", ClientKind.FIRST_PARTY, None, frozenset({"events:write"}))


async def add_customers(graph: Graph, *ids: str) -> None:
    await graph.write(
        "UNWIND $ids AS id CREATE (:Customer {id: id, created_at: datetime()})", {"ids": list(ids)}
    )


async def test_concurrent_logins_to_one_session_sign_it_in_as_one_customer(
    demo_graph: Graph, served: Serve
) -> None:
    # Eight customers sign in to the same session at the same moment (a shared
    # cookie, or an attacker racing the victim): exactly one may own it, whether
    # the session is new or an anonymous visit the graph already holds.
    customers = [f"racer-{i}" for i in range(8)]
    await add_customers(demo_graph, *customers)
    sessions = ["new-1", "new-2", "s1"]  # s1: anonymous, seeded with a device

    def login(customer: str, session: str) -> dict[str, Any]:
        return {
            "eventId": f"{customer}-{session}",
            "type": "LOGIN",
            "at": "2025-05-01T10:00:00Z",
            "sessionId": session,
            "deviceId": f"{customer}-phone",
            "customerId": customer,
        }

    # Sent by the shop's back end, which names the ids it keeps: the race is the
    # writer's to settle whoever sends (a customer's token could not even name
    # a session issued for another device).
    async with served(authenticate=shop_backend) as (_, client):
        for session in sessions:
            bodies = await asyncio.gather(
                *(gql(client, TRACK, {"events": [login(c, session)]}) for c in customers)
            )
            results = [body["data"]["trackEvents"] for body in bodies]
            assert sum(r["accepted"] for r in results) == 1, (session, results)
            refused = [r["rejected"] for r in results if r["rejected"]]
            assert len(refused) == 7
            assert all(r == [{"index": 0, "eventId": r[0]["eventId"], "field": "session_id",
                              "message": "the session is signed in as another customer"}]
                       for r in refused)  # fmt: skip
    owners = await demo_graph.read(
        "MATCH (s:Session)-[:SIGNED_IN_AS]->(c:Customer) RETURN s.id AS s, count(c) AS n"
    )
    assert sorted((row["s"], row["n"]) for row in owners) == [(s, 1) for s in sorted(sessions)]
    # The lock leaves nothing behind on the sessions.
    assert await demo_graph.read("MATCH (s:Session) WHERE s._lock IS NOT NULL RETURN s") == []
    # The losers' devices were neither attached to the sessions nor linked to anyone.
    winners = {row["s"]: row["c"] for row in await demo_graph.read(
        "MATCH (s:Session)-[:SIGNED_IN_AS]->(c:Customer) RETURN s.id AS s, c.id AS c"
    )}  # fmt: skip
    attached = await demo_graph.read(
        "MATCH (s:Session)-[:ON]->(d:Device) WHERE d.id ENDS WITH '-phone' "
        "RETURN s.id AS s, d.id AS d"
    )
    assert sorted((row["s"], row["d"]) for row in attached) == sorted(
        (s, f"{c}-phone") for s, c in winners.items()
    )
    linked = await demo_graph.read(
        "MATCH (d:Device)-[:USED_BY]->(c:Customer) WHERE d.id ENDS WITH '-phone' "
        "RETURN d.id AS d, c.id AS c"
    )
    assert {(row["d"], row["c"]) for row in linked} == {(f"{c}-phone", c) for c in winners.values()}


async def test_a_customer_token_writes_only_to_its_own_or_anonymous_sessions(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "mallory")

    def event(event_id: str, type_: str, name: str, sku: str = "sku-001") -> dict[str, Any]:
        found = {"eventId": event_id, "type": type_.upper(), "at": "2025-05-01T10:00:00Z"}
        return {**found, **visit(name), **({"sku": sku} if type_ != "login" else {})}

    async with served() as (_, client):
        ana = await gql(client, TRACK, {"events": [event("a1", "login", "ana-web")]}, "ana")
        assert ana["data"]["trackEvents"]["accepted"] == 1
        # Mallory knows Ana's session and device ids (cookies) and adds to her history.
        attack = [
            event("m1", "view", "ana-web", "sku-002"),
            event("m2", "add_to_cart", "ana-web", "sku-003"),
            event("m3", "view", "anonymous-visit", "sku-004"),  # anyone's to write
            event("m4", "login", "mallory-web"),
            event("m5", "view", "mallory-web", "sku-005"),  # her own, signed in
            event("m6", "purchase", "ana-web", "sku-006"),  # a purchase names a session too
        ]
        body = await gql(client, TRACK, {"events": attack}, customer="mallory")
    # The retailer's own back end holds a token for no customer: it forwards
    # events for any session, as the bulk loader does.
    async with served(authenticate=shop_backend) as (_, client):
        service = await gql(client, TRACK, {"events": [event("o1", "view", "ana-web", "sku-007")]})
    result = body["data"]["trackEvents"]
    assert [(r["index"], r["eventId"], r["field"]) for r in result["rejected"]] == [
        (0, "m1", "session_id"),
        (1, "m2", "session_id"),
        (5, "m6", "session_id"),
    ]
    assert {r["message"] for r in result["rejected"]} == {
        "the session is signed in as another customer"
    }
    assert [e["extensions"]["index"] for e in body["errors"]] == [0, 1, 5]
    assert codes(body) == ["BAD_USER_INPUT"] * 3
    assert result["accepted"] == 3
    assert service["data"]["trackEvents"]["accepted"] == 1
    ana_history = await demo_graph.read(
        "MATCH (:Session {id: $s})-[r]->(p:Product) RETURN type(r) AS t, p.sku AS sku",
        {"s": session("ana-web")},
    )
    assert ana_history == [{"t": "VIEWED", "sku": "sku-007"}]
    assert await demo_graph.read("MATCH ()-[r:PURCHASED]->() RETURN r") == []


async def test_an_event_id_taken_by_a_different_event_is_a_conflict_never_a_duplicate(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "mallory")
    view = {"type": "VIEW", "at": "2025-05-01T10:00:00Z", "sku": "sku-001"}
    async with served() as (_, client):
        # Mallory guesses the id Ana's app will use next and sends it first: ids
        # are each sender's own, so it takes nothing from Ana.
        first = await gql(
            client,
            TRACK,
            {"events": [{**view, "eventId": "ana-next", **visit("mallory-web")}]},
            customer="mallory",
        )
        mine = {**view, "eventId": "ana-next", **visit("ana-web"), "sku": "sku-002"}
        other = {**view, "eventId": "ana-other", **visit("ana-web")}
        body = await gql(client, TRACK, {"events": [other, mine]}, customer="ana")
        # Her own id again for a different event is a clash.
        clash = {**mine, "sku": "sku-003"}
        clashed = await gql(client, TRACK, {"events": [clash]}, customer="ana")
        again = await gql(client, TRACK, {"events": [other]}, customer="ana")
    assert first["data"]["trackEvents"]["accepted"] == 1
    assert body["data"]["trackEvents"] == {"accepted": 2, "duplicates": 0, "rejected": []}
    result = clashed["data"]["trackEvents"]
    assert result["rejected"] == [
        {
            "index": 0,
            "eventId": "ana-next",
            "field": "event_id",
            "message": "was stored before for a different view event: send each event "
            "with an id of its own",
        }
    ]
    assert codes(clashed) == ["BAD_USER_INPUT"]
    assert clashed["errors"][0]["message"].startswith("events[0].event_id: was stored before")
    # The same event sent again is still a harmless duplicate.
    assert again["data"]["trackEvents"] == {"accepted": 0, "duplicates": 1, "rejected": []}
    stored = await demo_graph.read(
        "MATCH (s:Session)-[r:VIEWED]->(p) WHERE r.event_id ENDS WITH '~ana-next' "
        "RETURN s.id AS s, p.sku AS p ORDER BY p"
    )
    assert stored == [
        {"s": session("mallory-web"), "p": "sku-001"},
        {"s": session("ana-web"), "p": "sku-002"},
    ]


EVENT_INPUT = """{ __type(name: "EventInput") { inputFields { name type {
  kind ofType { kind name enumValues { name } } } } } }"""


async def test_event_type_and_time_are_typed_so_validation_refuses_wrong_values(
    demo_graph: Graph, served: Serve
) -> None:
    view = {"eventId": "v", "type": "VIEW", "at": "2025-05-01T10:00:00Z", **visit("s3")}
    view["sku"] = "sku-001"
    async with served() as (_, client):
        schema = await gql(client, EVENT_INPUT)
        wrong_type = await gql(client, TRACK, {"events": [{**view, "type": "view"}]}, "c1")
        wrong_time = await gql(client, TRACK, {"events": [{**view, "at": "yesterday"}]}, "c1")
        right = await gql(client, TRACK, {"events": [view]}, customer="c1")
    fields = {f["name"]: f["type"] for f in schema["data"]["__type"]["inputFields"]}
    # Client code generators get an enum and the schema's DateTime, both required.
    assert fields["type"]["kind"] == fields["at"]["kind"] == "NON_NULL"
    assert fields["type"]["ofType"]["kind"] == "ENUM"
    assert [v["name"] for v in fields["type"]["ofType"]["enumValues"]] == [
        "VIEW",
        "ADD_TO_CART",
        "PURCHASE",
        "LOGIN",
    ]
    assert fields["at"]["ofType"]["name"] == "DateTime"
    # A wrong value refuses the whole request, naming the event and the value.
    for body, where, words in (
        (wrong_type, "[0].type", "'view' does not exist in 'EventType' enum"),
        (wrong_time, "[0].at", "yesterday"),
    ):
        assert body.get("data") is None, body
        assert codes(body) == ["BAD_USER_INPUT"]
        message = body["errors"][0]["message"]
        assert "$events" in message and where in message and words in message, message
    assert right["data"]["trackEvents"]["accepted"] == 1
    stored = await demo_graph.read("MATCH ()-[r:VIEWED]->() RETURN r.event_id AS id")
    assert [row["id"].rsplit("~", 1)[-1] for row in stored] == ["v"]  # in c1's own namespace
