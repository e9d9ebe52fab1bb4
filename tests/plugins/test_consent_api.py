"""tightrope-consent in the API: what a customer sees and changes, and the history kept."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway import ClientKind
from graph import Graph
from tests.gateway.conftest import ANA, Serve, codes, gql, grant
from tests.gateway.test_consent import FIRST_PARTY, principal

CONSENTS = "{ me { consents { purpose granted answered updatedAt source version } } }"
HISTORY = """query($purpose: String) { me { consentHistory(purpose: $purpose, first: 50) {
    purpose granted at source version } } }"""
SET = """mutation($purpose: String!, $granted: Boolean!) {
    setConsent(purpose: $purpose, granted: $granted) {
        purpose granted answered source version } }"""


async def history_edges(graph: Graph, customer: str = ANA) -> list[dict[str, Any]]:
    return await graph.read(
        "MATCH (:Customer {id: $id})-[h:CONSENT_CHANGE]->() "
        "RETURN h.purpose AS purpose, h.granted AS granted, h.seq AS seq ORDER BY h.seq",
        {"id": customer},
    )


async def test_every_purpose_is_listed_with_what_applies(ana: Graph, served: Serve) -> None:
    await grant(ana, ANA, "marketing")
    await grant(ana, ANA, "analytics", granted=False)
    async with served(authenticate=FIRST_PARTY) as (_, client):
        body = await gql(client, CONSENTS)
    assert "errors" not in body, body
    consents = {c["purpose"]: c for c in body["data"]["me"]["consents"]}
    assert list(consents) == [
        "personalisation",
        "cross_device",
        "analytics",
        "third_party_sharing",
        "marketing",
    ]
    assert consents["marketing"]["granted"] is True
    assert consents["marketing"]["source"] == "api"
    assert consents["analytics"]["granted"] is False
    # Never answered: the default regime (opt-in) applies.
    assert consents["personalisation"] == {
        "purpose": "personalisation",
        "granted": False,
        "answered": False,
        "updatedAt": None,
        "source": None,
        "version": None,
    }


async def test_set_consent_keeps_every_change(ana: Graph, served: Serve) -> None:
    async with served(authenticate=FIRST_PARTY) as (_, client):
        first = await gql(client, SET, {"purpose": "marketing", "granted": True})
        second = await gql(client, SET, {"purpose": "marketing", "granted": False})
        await gql(client, SET, {"purpose": "analytics", "granted": True})
        marketing = await gql(client, HISTORY, {"purpose": "marketing"})
        everything = await gql(client, HISTORY)
        now = await gql(client, CONSENTS)
    assert first["data"]["setConsent"] == {
        "purpose": "marketing",
        "granted": True,
        "answered": True,
        "source": "api",
        "version": "1",
    }
    assert second["data"]["setConsent"]["granted"] is False
    changes = marketing["data"]["me"]["consentHistory"]
    assert [(c["granted"], c["source"], c["version"]) for c in changes] == [
        (False, "api", "1"),
        (True, "api", "1"),
    ]
    assert changes[0]["at"] >= changes[1]["at"]
    assert [c["purpose"] for c in everything["data"]["me"]["consentHistory"]] == [
        "analytics",
        "marketing",
        "marketing",
    ]
    current = {c["purpose"]: c["granted"] for c in now["data"]["me"]["consents"]}
    assert current["marketing"] is False and current["analytics"] is True


async def test_the_policy_version_in_force_is_kept(
    ana: Graph, served: Serve, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TIGHTROPE_CONSENT_POLICY_VERSION", "2026-11")
    async with served(authenticate=FIRST_PARTY) as (_, client):
        await gql(client, SET, {"purpose": "marketing", "granted": True})
        body = await gql(client, HISTORY)
    assert body["data"]["me"]["consentHistory"][0]["version"] == "2026-11"


async def test_concurrent_changes_all_stay_in_the_history(ana: Graph, served: Serve) -> None:
    async with served(authenticate=FIRST_PARTY) as (_, client):
        answers = await asyncio.gather(
            *(gql(client, SET, {"purpose": "marketing", "granted": i % 2 == 0}) for i in range(16))
        )
        now = await gql(client, CONSENTS)
    # The customer's lock serialises the changes; on a busy machine the last
    # in the queue may wait past the write deadline and hear UNAVAILABLE
    # (try again) instead. Every change acknowledged is in the history.
    acknowledged = [a for a in answers if "errors" not in a]
    assert all(codes(a) == ["UNAVAILABLE"] for a in answers if "errors" in a), answers
    assert len(acknowledged) >= 2, answers
    edges = await history_edges(ana)
    # One change each, in one order, none lost (a change cut off at the
    # deadline is rolled back, or else stored whole).
    assert [e["seq"] for e in edges] == list(range(1, len(edges) + 1))
    assert len(acknowledged) <= len(edges) <= 16
    current = {c["purpose"]: c["granted"] for c in now["data"]["me"]["consents"]}
    assert current["marketing"] is edges[-1]["granted"]


async def test_bad_input_writes_nothing(ana: Graph, served: Serve) -> None:
    nobody = principal(ClientKind.FIRST_PARTY, "ghost", "consent:write", "consent:read")
    service = principal(ClientKind.FIRST_PARTY, None, "consent:write", "consent:read")
    async with served(authenticate=FIRST_PARTY) as (_, client):
        unknown = await gql(client, SET, {"purpose": "selling", "granted": True})
        service_purpose = await gql(client, SET, {"purpose": "service", "granted": False})
        bad_filter = await gql(client, HISTORY, {"purpose": "selling"})
    async with served(authenticate=nobody) as (_, client):
        missing = await gql(client, SET, {"purpose": "marketing", "granted": True})
    async with served(authenticate=service) as (_, client):
        no_customer = await gql(client, SET, {"purpose": "marketing", "granted": True})
        no_me = await gql(client, CONSENTS)
    assert codes(unknown) == codes(service_purpose) == codes(bad_filter) == ["BAD_USER_INPUT"]
    assert "selling" in unknown["errors"][0]["message"]
    assert codes(missing) == ["NOT_FOUND"]
    assert codes(no_customer) == codes(no_me) == ["UNAUTHENTICATED"]
    assert await history_edges(ana) == []
    assert await ana.read("MATCH (c:Customer {id: 'ghost'}) RETURN c") == []
