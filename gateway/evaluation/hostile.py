"""The hostile set: after the replay, customers try to take others' devices, visits and ids.

Each attempt goes through the gateway as a client's would: the app itself
(``create_app``, in process over HTTP), real access tokens of a first-party
web shop for the customers of the scenario, ``startVisit`` for the ids a
browser holds, ``trackEvents`` for the events, the linking queue after the
response. A **victim** is a consenting customer of the scenario with a device
they signed in on alone and visits there they did not sign in to; the
**attacker** is another consenting customer, from another household. Per
victim, the attacker tries:

* **named device**: a sign-in naming the victim's device id as the shop sent
  it; and, with an id the gateway issued (the victim's new phone), a sign-in
  on it after the attacker got hold of the id;
* **named session**: a sign-in naming one of the victim's signed-out visits
  (as the shop named it, and one the gateway issued), from the attacker's own
  device;
* **typed email**: the victim's address typed (and claimed verified) into a
  checkout on the attacker's device;
* **squatted event id**: the id of the shop's next order line for the
  victim, sent first with the attacker's token.

A **takeover** is any of: a link from a device of the victim's to the
attacker, a visit of the victim's among the attacker's own sessions (the rule
of graph/sessions.py) or in the attacker's ``journey`` over HTTP, the
attacker's device linked to the victim by proof or among the victim's own, or
the shop's own event refused. The count must be 0. Whether the attacker ends
up in the victim's household (a device both signed in on is their
household's when both consent) is reported beside it: a household shows its
members nothing of each other's.
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, LiteralString

import httpx

from gateway.app import create_app
from gateway.evaluation.households import END, Scenario
from gateway.oauth.clients import register_client
from gateway.oauth.devtokens import dev_token
from gateway.settings import Settings
from graph import Graph
from graph.pii import email_hmac
from graph.sessions import OWN_SESSIONS

VICTIMS = 10
# Each kind of attempt, and how many of it each victim gets.
TRIES = {"named device": 2, "named session": 2, "typed email": 1, "squatted event id": 1}
KINDS = tuple(TRIES)
BASE = "http://127.0.0.1:8000"

TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted duplicates rejected { index field message } }
}
"""
START = "mutation($d: ID) { startVisit(deviceId: $d) { deviceId sessionId } }"
JOURNEY = "{ me { journey(first: 100) { sessionId device { id } } } }"

SET_EMAIL: LiteralString = "MATCH (c:Customer {id: $id}) SET c.email_hmac = $hash"

OWN: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
WITH c, 1.0 AS min_confidence
"""
    + OWN_SESSIONS
    + """
RETURN collect(s.id) AS sessions, [d IN own | d.id] AS devices
"""
)

LINKED_TO: LiteralString = """
UNWIND $devices AS id
MATCH (:Device {id: id})-[u:USED_BY]->(c:Customer {id: $customer_id})
RETURN count(u) AS n
"""

SAME_HOUSEHOLD: LiteralString = """
MATCH (:Customer {id: $a})-[:MEMBER_OF]->(h:Household)<-[:MEMBER_OF]-(:Customer {id: $b})
RETURN count(h) AS n
"""


@dataclass
class Victim:
    id: str
    attacker: str
    devices: tuple[str, ...]  # proved theirs alone in the scenario
    anonymous: tuple[str, ...]  # their signed-out visits on those devices
    issued_device: str = ""
    issued_sessions: list[str] = field(default_factory=list)
    squatted: bool = False  # the shop's own event was refused after the attacker's


def victims(scenario: Scenario, count: int = VICTIMS) -> list[Victim]:
    """Consenting customers with a device only they signed in on, and visits there
    they did not sign in to; each with an attacker from another household."""
    anonymous: dict[str, list[str]] = defaultdict(list)
    for visit in scenario.visits:
        events = [e for e, _, _ in visit.events]
        if not any(e.type == "login" for e in events) and events[0].device_id:
            anonymous[events[0].device_id].append(events[0].session_id or "")
    alone: dict[str, list[str]] = defaultdict(list)
    for device, customers in scenario.signed_in.items():
        if len(customers) == 1 and anonymous.get(device):
            alone[next(iter(customers))].append(device)
    consenting = sorted(p.id for p in scenario.people.values() if p.customer and p.consent is True)
    rng = random.Random(f"{scenario.seed}:hostile")  # noqa: S311 - a reproducible pick
    chosen = sorted(rng.sample(sorted(alone), min(count, len(alone))))
    found = []
    for v in chosen:
        home = scenario.people[v].household
        others = [c for c in consenting if c != v and scenario.people[c].household != home]
        devices = tuple(sorted(alone[v]))
        visits = tuple(s for d in devices for s in anonymous[d])
        found.append(Victim(v, rng.choice(others), devices, visits))
    return found


class _Shop:
    """The web shop's client: a customer's token, or its own back end's."""

    def __init__(self, client: httpx.AsyncClient, tokens: Mapping[str | None, str]) -> None:
        self.client = client
        self.tokens = tokens
        self._n = 0

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, who: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        answer = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = answer.json()
        return body

    async def visit(self, device: str | None = None) -> tuple[str, str]:
        started = (await self.gql(START, {"d": device}))["data"]["startVisit"]
        return str(started["deviceId"]), str(started["sessionId"])

    async def track(self, events: list[dict[str, Any]], who: str | None) -> dict[str, Any]:
        body = await self.gql(TRACK, {"events": events}, who)
        result: dict[str, Any] = body["data"]["trackEvents"]
        return result

    def event(
        self, kind: str, session: str | None, device: str | None, **more: Any
    ) -> dict[str, Any]:
        self._n += 1
        at = (END + timedelta(minutes=self._n)).isoformat()
        return {"eventId": f"hostile-{self._n}", "type": kind, "at": at, "sessionId": session,
                "deviceId": device, **more}  # fmt: skip


async def _attack(shop: _Shop, graph: Graph, v: Victim, sku: str, pii_key: str) -> str:
    """The attacker's attempts on one victim; the attacker's device."""
    m = v.attacker
    mine, session = await shop.visit()
    # Named device: the victim's device id as the shop knows it.
    await shop.track([shop.event("LOGIN", session, v.devices[0])], m)
    # Named device, issued: the victim's new phone signs in, browses signed out;
    # the attacker got hold of its id and signs in on it too.
    v.issued_device, signed = await shop.visit()
    await shop.track([shop.event("LOGIN", signed, v.issued_device)], v.id)
    _, anonymous = await shop.visit(v.issued_device)
    v.issued_sessions += [signed, anonymous]
    await shop.track([shop.event("VIEW", anonymous, v.issued_device, sku=sku)], None)
    _, hers = await shop.visit(v.issued_device)
    await shop.track([shop.event("LOGIN", hers, v.issued_device)], m)
    # Named session: one of the victim's signed-out visits, as the shop named it
    # and as the gateway issued it, from the attacker's device.
    await shop.track([shop.event("LOGIN", v.anonymous[0], mine)], m)
    await shop.track([shop.event("LOGIN", anonymous, mine)], m)
    # Typed email: the victim's address in a checkout on the attacker's device.
    address = f"{v.id.lower()}@hostile.example"
    await graph.write(SET_EMAIL, {"id": v.id, "hash": email_hmac(address, pii_key)})
    _, checkout = await shop.visit(mine)
    typed = shop.event("VIEW", checkout, mine, sku=sku, email=address, emailVerified=True)
    await shop.track([typed], m)
    # Squatted event id: the shop's next order line for the victim, sent first.
    line = {"eventId": f"O-{v.id}-1", "type": "PURCHASE", "at": END.isoformat(), "sku": sku}
    await shop.track([line], m)
    shops = await shop.track([{**line, "customerId": v.id}], None)
    v.squatted = shops["accepted"] != 1
    return mine


async def _reached(graph: Graph, shop: _Shop, v: Victim, mine: str) -> dict[str, bool]:
    """What of the victim's reached the attacker (each True is a takeover)."""
    m = v.attacker
    visits = set(v.anonymous) | set(v.issued_sessions)
    [own] = await graph.read(OWN, {"customer_id": m})
    [victim_own] = await graph.read(OWN, {"customer_id": v.id})
    # The issued phone is the attacker's to sign in on once he holds its id (it
    # is then shared: nobody's visits); the devices the shop named are not.
    [linked] = await graph.read(LINKED_TO, {"devices": list(v.devices), "customer_id": m})
    [typed] = await graph.read(LINKED_TO, {"devices": [mine], "customer_id": v.id})
    body = await shop.gql(JOURNEY, who=m)
    journey = (body.get("data") or {}).get("me", {}).get("journey")
    if journey is None:
        raise RuntimeError(f"the attacker's journey did not answer: {body.get('errors')}")
    shown = {step["sessionId"] for step in journey}
    return {
        "named device": linked["n"] > 0 or bool(set(own["sessions"]) & visits),
        "named session": bool(shown & visits),
        "typed email": typed["n"] > 0 or mine in victim_own["devices"],
        "squatted event id": v.squatted,
    }


async def hostile(
    graph: Graph, settings: Settings, scenario: Scenario, count: int = VICTIMS
) -> dict[str, Any]:
    """Run the hostile set against the replayed graph: attempts and takeovers by kind."""
    chosen = victims(scenario, count)
    sku = scenario.catalogue.products[0].sku
    with tempfile.TemporaryDirectory(prefix="tightrope-hostile-") as keys:
        # It measures what reaches whom, not how fast: the serving deadlines (a
        # second for a read) would fail attempts on a busy machine instead.
        relaxed = {"graph_deadline": 60.0, "plugin_budget_seconds": 60.0, "warm_up": False}
        app = create_app(
            settings.model_copy(update={"dev_mode": True, "oauth_keys_dir": keys, **relaxed})
        )
        async with app.router.lifespan_context(app):
            oauth = app.state.oauth
            catalogue = oauth.catalogue
            client, _ = await register_client(
                graph,
                catalogue,
                name="web shop (hostile set)",
                kind="first_party",
                scopes=catalogue.allowed_for("first_party"),
            )
            every = catalogue.allowed_for("first_party")
            people = {v.id for v in chosen} | {v.attacker for v in chosen}
            tokens: dict[str | None, str] = {
                None: await dev_token(
                    graph, oauth, client_id=client.client_id, customer_id=None, scopes=every
                )
            }
            for p in sorted(people):
                tokens[p] = await dev_token(
                    graph,
                    oauth,
                    client_id=client.client_id,
                    customer_id=p,
                    scopes=catalogue.allowed_for("first_party", customer=True),
                )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                shop = _Shop(http, tokens)
                theirs = {}
                for v in chosen:
                    theirs[v.id] = await _attack(shop, graph, v, sku, settings.pii_secret())
                await app.state.linking.drain()
                takeovers = dict.fromkeys(KINDS, 0)
                joined = 0
                for v in chosen:
                    reached = await _reached(graph, shop, v, theirs[v.id])
                    for kind in KINDS:
                        takeovers[kind] += int(reached[kind])
                    [same] = await graph.read(SAME_HOUSEHOLD, {"a": v.id, "b": v.attacker})
                    joined += int(same["n"] > 0)
    return {
        "victims": len(chosen),
        "attempts": {kind: len(chosen) * TRIES[kind] for kind in KINDS},
        "takeovers": takeovers,
        "takeovers_total": sum(takeovers.values()),
        "attacker_in_victims_household": joined,
    }
