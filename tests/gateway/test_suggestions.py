"""Devices suggested to a customer: seen, confirmed or rejected by them, never by anyone else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graph import Graph, SuggestedDevice
from graph.pii import email_hmac
from plugins.devices import describe
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import Serve, codes, gql, grant
from tests.gateway.linking_helpers import (
    HOME,
    IPAD,
    add_customers,
    as_shop_or_customer,
    track,
    view,
)

SUGGESTED = """{ me {
  suggestedDevices { id kind description evidence confidence }
  devices { id link { method confidence evidence } }
  recentlyViewed { product { sku } }
} }"""
CONFIRM = "mutation($id: ID!) { confirmDevice(id: $id) { id } }"
REJECT = "mutation($id: ID!) { rejectDevice(id: $id) { id } }"
TYPED = {"email": "ana@example.test", "network": HOME, "userAgent": IPAD}


async def ana_with_email(graph: Graph, consenting: bool | None = True) -> None:
    await add_customers(graph, "ana", "ben", consenting=consenting)
    await graph.write(
        "MATCH (c:Customer {id: 'ana'}) SET c.email_hmac = $h",
        {"h": email_hmac("ana@example.test", TEST_PII_KEY)},
    )
    await grant(graph, "ana", "personalisation")  # recentlyViewed needs it


async def typed_on_the_tablet(app: Any, client: Any, minutes: float = 0) -> None:
    """Someone types Ana's address into a form on the family tablet (unverified)."""
    await track(app, client, [view("tablet", f"t{minutes}", "sku-007", minutes, **TYPED)])


async def test_a_typed_email_is_suggested_described_without_browsing_and_confirmed(
    demo_graph: Graph, served: Serve
) -> None:
    await ana_with_email(demo_graph)
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await typed_on_the_tablet(app, client)
        before = await gql(client, SUGGESTED, customer="ana")
        ben_tries = await gql(client, CONFIRM, {"id": "tablet"}, customer="ben")
        confirmed = await gql(client, CONFIRM, {"id": "tablet"}, customer="ana")
        after = await gql(client, SUGGESTED, customer="ana")
    me = before["data"]["me"]
    assert "errors" not in before, before
    [suggested] = me["suggestedDevices"]
    assert suggested["id"] == "tablet" and suggested["kind"] == "tablet"
    assert suggested["evidence"] == ["Your email address was typed on this device"]
    assert suggested["description"].startswith("A tablet")
    assert "sku-007" not in suggested["description"]
    assert me["devices"] == [] and me["recentlyViewed"] == []  # a suggestion is no link
    assert codes(ben_tries) == ["NOT_FOUND"]
    assert confirmed["data"]["confirmDevice"] == {"id": "tablet"}
    mine = after["data"]["me"]
    assert mine["suggestedDevices"] == []
    [device] = mine["devices"]
    assert device["link"]["method"] == "confirmed" and device["link"]["confidence"] == 1.0
    assert device["link"]["evidence"][0].startswith("You confirmed this device is yours on ")
    # Her word is a proof: the tablet's visits are hers now.
    assert [v["product"]["sku"] for v in mine["recentlyViewed"]] == ["sku-007"]


async def test_a_rejected_device_is_never_suggested_again(demo_graph: Graph, served: Serve) -> None:
    await ana_with_email(demo_graph)
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await typed_on_the_tablet(app, client)
        rejected = await gql(client, REJECT, {"id": "tablet"}, customer="ana")
        await typed_on_the_tablet(app, client, minutes=5)
        after = await gql(client, SUGGESTED, customer="ana")
        again = await gql(client, REJECT, {"id": "tablet"}, customer="ana")
    assert rejected["data"]["rejectDevice"] == {"id": "tablet"}
    assert after["data"]["me"]["suggestedDevices"] == []
    assert codes(again) == ["NOT_FOUND"]
    said = await demo_graph.read(
        "MATCH (:Device {id: 'tablet'})-[t:UNLINKED]->(:Customer {id: 'ana'}) RETURN t.method AS m"
    )
    assert said == [{"m": "rejected"}]


async def test_suggestions_need_cross_device_consent_and_go_when_it_is_withdrawn(
    demo_graph: Graph, served: Serve
) -> None:
    await ana_with_email(demo_graph, consenting=None)
    withdraw = 'mutation { setConsent(purpose: "cross_device", granted: false) { granted } }'
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await typed_on_the_tablet(app, client)
        never_asked = await demo_graph.read("MATCH ()-[s:SUGGESTED]->() RETURN count(s) AS n")
        refused = await gql(client, SUGGESTED, customer="ana")
        await grant(demo_graph, "ana", "cross_device")
        await typed_on_the_tablet(app, client, minutes=5)
        granted = await gql(client, SUGGESTED, customer="ana")
        await gql(client, withdraw, customer="ana")
    assert never_asked == [{"n": 0}]  # opt-in: no answer, no guess
    assert codes(refused) == ["CONSENT_REQUIRED"]
    assert [d["id"] for d in granted["data"]["me"]["suggestedDevices"]] == ["tablet"]
    left = await demo_graph.read("MATCH ()-[s:SUGGESTED]->() RETURN count(s) AS n")
    assert left == [{"n": 0}]


async def test_a_linker_cannot_claim_the_customers_word(demo_graph: Graph) -> None:
    from gateway.linking.rules import shape_problem
    from gateway.linking.types import Evidence, Proposal

    forged = Proposal("tablet", "ana", "confirmed", 1.0, (Evidence("X", "You said so"),))
    problem = shape_problem(forged)
    assert problem == "the method confirmed is the customer's own word, not a linker's"


def suggestion(*starts: datetime, **fields: Any) -> SuggestedDevice:
    values: dict[str, Any] = {
        "id": "d",
        "kind": "tablet",
        "ua_family": "Safari",
        "first_seen": None,
        "last_seen": datetime(2026, 11, 20, tzinfo=UTC),
        "confidence": 0.6,
        "evidence": (),
        "suggested_at": None,
        "near_own": True,
        "starts": starts,
    }
    return SuggestedDevice(**{**values, **fields})


def test_a_suggestion_says_when_the_device_is_used_in_words() -> None:
    # Tuesdays and a Wednesday, 19:00 to 21:00: weekday evenings.
    evenings = [datetime(2026, 11, d, h, tzinfo=UTC) for d, h in ((17, 19), (18, 20), (24, 21))]
    assert describe(suggestion(*evenings)) == (
        "A tablet (Safari), seen on a network your devices use, mostly on weekday evenings, "
        "last seen 20 November 2026"
    )
    mixed = [datetime(2026, 11, 21, 9, tzinfo=UTC), datetime(2026, 11, 17, 23, tzinfo=UTC)]
    assert describe(suggestion(*mixed, kind=None, near_own=False, last_seen=None)) == (
        "A device (Safari)"
    )
