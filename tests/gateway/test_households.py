"""Households: a device several consenting customers share is their household's, nobody's own.

Ana and Ben live together: each signs in on their own phone at home and
looks at a few things. A family tablet both sign in on, and a laptop
nobody signed in on that looks at what both of them looked at, are their
household's (gateway/linking/households.py): no member's history shows what
was done there signed out, and no household is made or kept without each
member's ``cross_device`` consent.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.linking import households as households_rules
from graph import Graph
from graph.erasure import erase_customer
from graph.export import export_customer
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import TEST_CUSTOMER_HEADER, Serve, gql, grant
from tests.gateway.linking_helpers import (
    HOME,
    HOME_2,
    IPAD,
    IPHONE,
    add_customers,
    as_shop_or_customer,
    links,
    login,
    track,
    view,
)
from tests.gateway.test_linking_network import guessing, laptop, phone_of
from tests.gateway.test_linking_network import served as served  # the fixture

BENS = ("sku-020", "sku-021", "sku-022", "sku-023")
# A laptop at home that looks at what both of them looked at.
BOTH = ("sku-001", "sku-002", "sku-020", "sku-021")
TABLET = {"network": HOME, "userAgent": IPAD}

HOUSEHOLDS = """
MATCH (h:Household)
RETURN h.id AS id,
       [(c:Customer)-[m:MEMBER_OF]->(h) | [c.id, m.method]] AS members,
       [(d:Device)-[x:SHARED_BY]->(h) | [d.id, x.method]] AS devices
"""


async def households(graph: Graph) -> list[tuple[set[tuple[str, str]], set[tuple[str, str]]]]:
    """Each household: its (member, how they joined) and (device, how it became its)."""
    rows = await graph.read(HOUSEHOLDS)
    return [
        ({(c, m) for c, m in row["members"]}, {(d, m) for d, m in row["devices"]}) for row in rows
    ]


def tablet_sign_in(customer: str, minutes: float) -> list[dict[str, Any]]:
    session = f"t-{customer}"
    return [
        login("tablet", session, customer, minutes, **TABLET),
        view("tablet", session, "sku-005", minutes + 1, **TABLET),
    ]


async def home_of_ana_and_ben(app: Any, client: Any, *more: str) -> None:
    """Their phones at home, and each of them (and ``more``) signed in on the tablet."""
    await track(app, client, phone_of("ana"))
    await track(app, client, phone_of("ben", skus=BENS))
    for i, customer in enumerate(("ana", "ben", *more)):
        if customer not in ("ana", "ben"):
            await track(app, client, phone_of(customer, skus=("sku-040",)))
        await track(app, client, tablet_sign_in(customer, 40 + 10 * i))


async def test_a_tablet_two_consenting_customers_signed_in_on_at_home_is_their_households(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await home_of_ana_and_ben(app, client)
    assert await households(demo_graph) == [
        ({("ana", "proved"), ("ben", "proved")}, {("tablet", "proved")})
    ]
    # Each proved it theirs: their sign-ins stay links of their own.
    assert {("tablet", "ana", "login"), ("tablet", "ben", "login")} <= await links(demo_graph)
    # A member's export holds the membership (every relationship of the customer).
    exported = await export_customer(demo_graph, "ana")
    assert exported is not None
    [member] = exported["relationships"]["MEMBER_OF"]
    assert member["other"]["labels"] == ["Household"] and member["method"] == "proved"


async def test_a_laptop_the_evidence_fits_both_of_is_the_households_not_either_ones(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, phone_of("ben", skus=BENS))
        await track(app, client, laptop(skus=BOTH))
    # Neither guess (about 0.63 each) reaches the threshold, nor could one be
    # told from the other; together they are 0.86 sure it is one of theirs.
    assert await households(demo_graph) == [
        ({("ana", "probabilistic"), ("ben", "probabilistic")}, {("laptop", "probabilistic")})
    ]
    assert not {c for d, c, _ in await links(demo_graph) if d == "laptop"}


async def test_no_household_without_each_members_cross_device_consent(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    await add_customers(demo_graph, "ben", consenting=None)  # never asked: opt-in says no
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await home_of_ana_and_ben(app, client)
        await track(app, client, laptop(skus=BOTH))
    assert await households(demo_graph) == []
    # The tablet two customers signed in on is still shared: nobody's (graph/sessions.py).
    assert {("tablet", "ana", "login"), ("tablet", "ben", "login")} <= await links(demo_graph)


async def test_withdrawing_cross_device_leaves_the_household_and_its_guesses(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben", "cat")
    change = 'mutation { setConsent(purpose: "cross_device", granted: false) { granted } }'
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await home_of_ana_and_ben(app, client, "cat")
        await track(app, client, laptop(skus=BOTH))
        [(members, devices)] = await households(demo_graph)
        assert {c for c, _ in members} == {"ana", "ben", "cat"}
        assert devices == {("tablet", "proved"), ("laptop", "probabilistic")}

        headers = {TEST_CUSTOMER_HEADER: "ben"}
        withdrawn = await client.post("/graphql", json={"query": change}, headers=headers)
        assert withdrawn.json()["data"]["setConsent"] == {"granted": False}
        # Ben is out; the guess that rested on his browsing goes; what Ana and
        # Cat proved stays theirs.
        assert await households(demo_graph) == [
            ({("ana", "proved"), ("cat", "proved")}, {("tablet", "proved")})
        ]
        # Seen again, the laptop is not his household's any more.
        await track(app, client, laptop(skus=BOTH, start=80))
        assert await households(demo_graph) == [
            ({("ana", "proved"), ("cat", "proved")}, {("tablet", "proved")})
        ]

        headers = {TEST_CUSTOMER_HEADER: "cat"}
        await client.post("/graphql", json={"query": change}, headers=headers)
    # A household of one is none: it goes, with its devices' SHARED_BY.
    assert await households(demo_graph) == []
    assert await demo_graph.read("MATCH ()-[x:SHARED_BY|MEMBER_OF]->() RETURN x") == []


async def test_a_withdrawal_while_a_household_is_being_decided_joins_nobody(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    change = 'mutation { setConsent(purpose: "cross_device", granted: false) { granted } }'
    write = households_rules.apply_households
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, phone_of("ana"))
        await track(app, client, phone_of("ben", skus=BENS))

        async def withdrawn_meanwhile(*args: Any, **kwargs: Any) -> Any:
            # Ben withdraws after the gate said yes, before the household is written.
            answer = await client.post(
                "/graphql", json={"query": change}, headers={TEST_CUSTOMER_HEADER: "ben"}
            )
            assert answer.json()["data"]["setConsent"] == {"granted": False}
            return await write(*args, **kwargs)

        monkeypatch.setattr(households_rules, "apply_households", withdrawn_meanwhile)
        await track(app, client, laptop(skus=BOTH))
    assert await households(demo_graph) == []


async def test_erasure_removes_the_membership_and_a_household_left_with_one_member(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await home_of_ana_and_ben(app, client)
        await track(app, client, laptop(skus=BOTH))
    assert len(await households(demo_graph)) == 1
    erased = await erase_customer(demo_graph, "ben", TEST_PII_KEY)
    assert erased is not None
    assert erased["household memberships"] == 1 and erased["households"] == 1
    assert await demo_graph.read("MATCH (h:Household) RETURN h") == []
    assert await demo_graph.read("MATCH ()-[x:SHARED_BY|MEMBER_OF]->() RETURN x") == []
    # Ana keeps what she proved.
    assert ("tablet", "ana", "login") in await links(demo_graph)


async def test_erasure_leaves_a_household_of_the_others_without_its_guesses(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben", "cat")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await home_of_ana_and_ben(app, client, "cat")
        await track(app, client, laptop(skus=BOTH))
    erased = await erase_customer(demo_graph, "ben", TEST_PII_KEY)
    assert erased is not None and erased["household memberships"] == 1
    assert "households" not in erased  # none went
    assert await households(demo_graph) == [
        ({("ana", "proved"), ("cat", "proved")}, {("tablet", "proved")})
    ]


VISIT = "mutation($d: ID) { startVisit(deviceId: $d) { deviceId sessionId } }"
TRACK = """
mutation($events: [EventInput!]!) { trackEvents(events: $events) { accepted rejected { message } } }
"""
MINE = """
{ me { recentlyViewed { product { sku } } journey(first: 50) { sessionId device { id } } } }
"""
SESSION = """
query($id: ID!) { session(id: $id) {
  views { product { sku } }
  recommendations { product { sku } reasons { text } }
} }
"""


async def test_an_anonymous_visit_on_a_household_device_shows_no_members_history(
    demo_graph: Graph, served: Serve
) -> None:
    # Everyone said yes to everything: only the household rule stands in the way.
    await add_customers(demo_graph, "ana", "ben")
    for customer in ("ana", "ben"):
        await grant(demo_graph, customer, "personalisation")
    async with served(guessing()) as (app, client):

        async def visit(device: str | None = None) -> tuple[str, str]:
            started = (await gql(client, VISIT, {"d": device}))["data"]["startVisit"]
            return started["deviceId"], started["sessionId"]

        async def send(events: list[dict[str, Any]]) -> None:
            # The shop's back end sends the visits, with the shopper's network.
            body = await gql(client, TRACK, {"events": events}, back_end=True)
            assert body["data"]["trackEvents"]["accepted"] == len(events), body
            await app.state.linking.drain()

        for customer, skus in (("ana", ("sku-001", "sku-002", "sku-003")), ("ben", BENS)):
            phone, session = await visit()
            signals = {"network": HOME, "userAgent": IPHONE}
            views = [view(phone, session, s, 1 + i, **signals) for i, s in enumerate(skus)]
            await send([login(phone, session, customer, 0, **signals), *views])
        # Ben browses on the laptop signed out: it looks like both of theirs.
        laptop_id, bens = await visit()
        await send([view(laptop_id, bens, s, 30 + i, network=HOME_2) for i, s in enumerate(BOTH)])
        # Ana signs in on it once; later somebody picks it up, signed out.
        _, anas = await visit(laptop_id)
        await send([login(laptop_id, anas, "ana", 50), view(laptop_id, anas, "sku-007", 51)])
        _, later = await visit(laptop_id)
        await send([view(laptop_id, later, "sku-030", 60)])

        ana = await gql(client, MINE, customer="ana")
        ben = await gql(client, MINE, customer="ben")
        holder = await gql(client, SESSION, {"id": later})  # whoever holds the visit's id

    def seen(body: dict[str, Any]) -> set[str]:
        me = body["data"]["me"]
        return {v["product"]["sku"] for v in me["recentlyViewed"]} | {
            s["sessionId"] for s in me["journey"]
        }

    # Ana sees her own signed-in visit on the laptop, nothing done there signed out.
    assert {"sku-007", anas} <= seen(ana)
    assert not {bens, later, "sku-020", "sku-021", "sku-030"} & seen(ana)
    assert not {bens, later, anas, "sku-007", "sku-030"} & seen(ben)
    # The visit itself is the session's alone: its views, and suggestions from them.
    session = holder["data"]["session"]
    assert session["views"] == [{"product": {"sku": "sku-030"}}]
    names = await demo_graph.read(
        "MATCH (p:Product) WHERE p.sku IN $skus RETURN p.name AS name",
        {"skus": ["sku-001", "sku-002", "sku-007", "sku-020", "sku-021"]},
    )
    reasons = {r["text"] for item in session["recommendations"] for r in item["reasons"]}
    assert not any(row["name"] in text for row in names for text in reasons)
    # What keeps them apart: the laptop is the household's, nobody's own.
    [(_, devices)] = await households(demo_graph)
    assert devices == {(laptop_id, "probabilistic")}
