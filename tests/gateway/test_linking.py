"""Identity linking through trackEvents: sign-ins, emails, the API for linkers, the queue.

Events are sent over HTTP as a shop sends them; the app's background queue
links their devices after the response, and each test waits for it
(``track`` drains the queue) before looking.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from gateway import (
    CROSS_DEVICE,
    DataCategory,
    Evidence,
    LinkerData,
    Observation,
    Proposal,
    hookimpl,
)
from gateway.host.manager import PluginError
from graph import Graph
from graph.pii import email_hmac
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import Serve, gql, settings_for_tests
from tests.gateway.linking_helpers import (
    HOME,
    IPHONE,
    MAC,
    DeclaresLinking,
    add_customers,
    as_shop_or_customer,
    at,
    links,
    login,
    reports,
    track,
    view,
)

DEVICES = "{ me { devices { id link { method confidence evidence linkedAt } } } }"
START = "mutation { startVisit { deviceId sessionId } }"


async def test_a_sign_in_links_the_device_with_evidence_the_customer_reads(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", consenting=None)  # no consent needed for a proof
    async with served(authenticate=as_shop_or_customer) as (app, client):
        result = await track(
            app,
            client,
            [view("phone", "p1", "sku-001", 0), login("phone", "p1", "ana", 1)],
        )
        body = await gql(client, DEVICES, customer="ana")
    assert result["accepted"] == 2 and result["ignoredSignals"] == []
    [device] = body["data"]["me"]["devices"]
    assert device["id"] == "phone"
    link = device["link"]
    assert (link["method"], link["confidence"]) == ("login", 1.0)
    assert len(link["evidence"]) == 1
    assert link["evidence"][0].startswith("You signed in on this device on ")
    assert link["linkedAt"] is not None


async def test_a_sign_in_without_a_device_links_its_sessions_device(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [view("laptop", "l1", "sku-001", 0)])
        event = login("laptop", "l1", "ana", 1)
        del event["deviceId"]
        await track(app, client, [event])
    assert ("laptop", "ana", "login") in await links(demo_graph)


async def test_a_rejected_sign_in_links_nothing(demo_graph: Graph, served: Serve) -> None:
    # Mallory replays Ana's signed-in session id with a login of her own: the
    # writer rejects it, and the linkers never see it.
    await add_customers(demo_graph, "ana", "mallory")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [login("ana-phone", "shared", "ana", 0)])
        result = await track(app, client, [login("mallory-phone", "shared", "mallory", 1)])
    assert [r["field"] for r in result["rejected"]] == ["session_id"]
    assert {(d, c) for d, c, _ in await links(demo_graph) if c != "c1"} == {("ana-phone", "ana")}


async def test_an_email_given_on_a_device_links_it_to_that_customer_only(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", "ben", consenting=None)
    await demo_graph.write(
        "MATCH (c:Customer {id: 'ana'}) SET c.email_hmac = $h",
        {"h": email_hmac("ana@example.test", TEST_PII_KEY)},
    )
    async with served(authenticate=as_shop_or_customer) as (app, client):
        # The shop's back end forwards a confirmed checkout's email (any case, spaces).
        confirmed = {"email": " Ana@Example.TEST ", "emailVerified": True}
        shop = await track(app, client, [view("kiosk", "k1", "sku-001", 0, **confirmed)])
        # Ben's own token may not claim Ana's address for his device: typed, it
        # proves nothing.
        tablet = (await gql(client, START, customer="ben"))["data"]["startVisit"]
        typed = view(
            tablet["deviceId"], tablet["sessionId"], "sku-002", 0, email="ana@example.test"
        )
        ben = await track(app, client, [typed], "ben")
        nobody = await track(app, client, [view("t2", "x1", "sku-003", 0, email="no@one.test")])
        bad = await track(app, client, [view("t3", "x2", "sku-004", 0, email="not an email")])
        body = await gql(client, DEVICES, customer="ana")
    assert shop["ignoredSignals"] == [] and ben["ignoredSignals"] == []
    assert nobody["accepted"] == 1
    assert bad["accepted"] == 1
    assert bad["ignoredSignals"] == [
        {"index": 0, "eventId": bad_id(bad), "field": "email", "message": "not an email address"}
    ]
    assert {(d, c, m) for d, c, m in await links(demo_graph) if c != "c1"} == {
        ("kiosk", "ana", "email")
    }
    [device] = body["data"]["me"]["devices"]
    assert device["link"]["evidence"] == ["Your verified email address was used on this device"]


def bad_id(result: dict[str, Any]) -> str:
    return str(result["ignoredSignals"][0]["eventId"])


UNLINK = "mutation($id: ID!) { unlinkDevice(id: $id) { id } }"


def linked_at(body: dict[str, Any], device: str) -> tuple[str, datetime]:
    """The method of the device's link, and when it was made, as the customer reads them."""
    [link] = [d["link"] for d in body["data"]["me"]["devices"] if d["id"] == device]
    return link["method"], datetime.fromisoformat(link["linkedAt"])


async def test_an_email_given_before_the_customer_unlinked_the_device_does_not_link_it_again(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", consenting=None)
    await demo_graph.write(
        "MATCH (c:Customer {id: 'ana'}) SET c.email_hmac = $h",
        {"h": email_hmac("ana@example.test", TEST_PII_KEY)},
    )
    ana = {"email": "ana@example.test", "emailVerified": True}
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [view("kiosk", "k1", "sku-001", 0, **ana)])
        undone = await gql(client, UNLINK, {"id": "kiosk"}, customer="ana")
        # The kiosk's offline buffer, flushed later: the form she filled in
        # before she said "not mine", and a stranger's view after it.
        late = [view("kiosk", "k2", "sku-002", 5, **ana), view("kiosk", "k2", "sku-003", 90)]
        await track(app, client, late)
        apart = await links(demo_graph)
        # She gives her email there again, after her word: that is new evidence.
        again = [view("kiosk", "k3", "sku-004", 95, **ana), view("kiosk", "k3", "sku-005", 99)]
        await track(app, client, again)
        body = await gql(client, DEVICES, customer="ana")
    assert "errors" not in undone, undone
    assert ("kiosk", "ana", "email") not in apart
    # Linked since the event that gave her email, not the batch's last one.
    assert linked_at(body, "kiosk") == ("email", datetime.fromisoformat(at(95)))


async def test_a_new_sign_in_links_an_unlinked_device_again_even_beside_an_old_one(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana", consenting=None)
    old = login("tablet", "t1", "ana", 0)
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [old])
        undone = await gql(client, UNLINK, {"id": "tablet"}, customer="ana")
        await track(app, client, [old])  # the app resends a sign-in she made before
        apart = await links(demo_graph)
        # The app resends it again, with a sign-in she made after her word.
        await track(app, client, [old, login("tablet", "t2", "ana", 90)])
        # A batch with two sign-ins on a device never unlinked: linked since the first.
        await track(app, client, [login("phone", "p1", "ana", 10), login("phone", "p2", "ana", 20)])
        body = await gql(client, DEVICES, customer="ana")
    assert "errors" not in undone, undone
    assert ("tablet", "ana", "login") not in apart
    assert linked_at(body, "tablet") == ("login", datetime.fromisoformat(at(90)))
    assert linked_at(body, "phone") == ("login", datetime.fromisoformat(at(10)))


async def test_malformed_signals_are_ignored_by_index_and_the_events_stored(
    demo_graph: Graph, served: Serve
) -> None:
    events = [
        view("d-a", "s-a", "sku-001", 0, userAgent=IPHONE, network=HOME),
        view("d-b", "s-b", "sku-002", 1, userAgent="\u0007bell", network="999.1.1.1"),
        view("d-c", "s-c", "sku-003", 2, network="10.0.0.7"),  # a private address
        view("d-d", "s-d", "sku-004", 3, network="81.2.0.0/16"),  # wider than a /24
        {**view("d-e", "s-e", "sku-404", 4), "userAgent": "x" * 2000},  # rejected anyway
    ]
    async with served(authenticate=as_shop_or_customer) as (app, client):
        result = await track(app, client, events)
    assert result["accepted"] == 4
    assert [r["index"] for r in result["rejected"]] == [4]
    ignored = [(i["index"], i["field"]) for i in result["ignoredSignals"]]
    assert ignored == [(1, "userAgent"), (1, "network"), (2, "network"), (3, "network")]
    assert (
        "private" in result["ignoredSignals"][2]["message"]
        or "public" in (result["ignoredSignals"][2]["message"])
    )
    stored = await demo_graph.read(
        "MATCH (s:Session)-[:VIEWED]->() WHERE s.id STARTS WITH 's-' RETURN count(*) AS n"
    )
    assert stored == [{"n": 4}]


async def test_no_raw_address_or_user_agent_is_stored(demo_graph: Graph, served: Serve) -> None:
    async with served(authenticate=as_shop_or_customer) as (app, client):
        await track(app, client, [view("mac", "m1", "sku-001", 0, userAgent=MAC, network=HOME)])
    rows = await demo_graph.read(
        """MATCH (n) WITH n, [k IN keys(n) | toString(n[k])] AS values
        UNWIND values AS value RETURN value
        UNION ALL
        MATCH ()-[r]->() WITH r, [k IN keys(r) | toString(r[k])] AS values
        UNWIND values AS value RETURN value"""
    )
    stored = " ".join(str(r["value"]) for r in rows)
    for secret in (HOME, "81.2.69", "Chrome", "Macintosh", MAC):
        assert secret not in stored
    hashed = await demo_graph.read(
        "MATCH (d:Device {id: 'mac'})-[:SEEN_ON]->(n:Network) RETURN d.ua_hmac AS ua, n.id AS n"
    )
    assert len(hashed) == 1 and len(hashed[0]["ua"]) == 32 and len(hashed[0]["n"]) == 32


async def test_signals_may_come_from_the_request(demo_graph: Graph, served: Serve) -> None:
    query = """mutation($events: [EventInput!]!) {
      trackEvents(events: $events, signalsFromRequest: true) { accepted ignoredSignals { field } }
    }"""
    async with served(authenticate=as_shop_or_customer) as (app, client):
        body = await gql(
            client, query, {"events": [view("req", "r1", "sku-001", 0)]}, customer=None
        )
        await app.state.linking.drain()
    # httpx's in-process transport calls from 127.0.0.1: not a public address,
    # so the network is ignored and said so; its User-Agent is a family.
    assert body["data"]["trackEvents"]["accepted"] == 1
    assert body["data"]["trackEvents"]["ignoredSignals"] == [{"field": "network"}]
    rows = await demo_graph.read("MATCH (d:Device {id: 'req'}) RETURN d.ua_hmac AS ua")
    assert rows[0]["ua"] is not None


class Gate(DeclaresLinking):
    """A linker that waits for the test to let it go, then proposes nothing."""

    tightrope_name = "test-gated-linker"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @hookimpl
    def register_identity_linkers(self) -> list[Any]:
        gate = self

        class Waiting:
            name = "waiting"
            purpose = CROSS_DEVICE
            categories = frozenset({DataCategory.DEVICE})

            async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
                gate.entered.set()
                await asyncio.wait_for(gate.release.wait(), 30)
                return []

        return [Waiting()]


async def test_linking_runs_after_the_response(demo_graph: Graph, served: Serve) -> None:
    await add_customers(demo_graph, "ana")
    gate = Gate()
    async with served(authenticate=as_shop_or_customer, plugins=[gate]) as (app, client):
        body = await gql(
            client,
            "mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }",
            {"e": [login("phone", "p1", "ana", 0)]},
        )
        # The answer came while a linker of this very batch is still waiting.
        assert body["data"]["trackEvents"]["accepted"] == 1
        await asyncio.wait_for(gate.entered.wait(), 10)
        assert ("phone", "ana", "login") not in await links(demo_graph)
        gate.release.set()
        await app.state.linking.drain()
        assert ("phone", "ana", "login") in await links(demo_graph)


class Broken(DeclaresLinking):
    tightrope_name = "test-broken-linker"

    @hookimpl
    def register_identity_linkers(self) -> list[Any]:
        class Failing:
            name = "failing"
            purpose = CROSS_DEVICE
            categories = frozenset({DataCategory.DEVICE})

            async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
                raise RuntimeError("this linker is broken")

        class Nosy:
            name = "nosy"
            purpose = CROSS_DEVICE
            categories = frozenset({DataCategory.DEVICE})

            async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
                # Asks for browsing it did not declare.
                await data.products_of_devices([observation.device_id], observation)
                return []

        return [Failing(), Nosy()]


async def test_a_failing_linker_loses_no_event_and_stops_no_other_linker(
    demo_graph: Graph,
    served: Serve,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer, plugins=[Broken()]) as (app, client):
        done = reports(app, monkeypatch)
        result = await track(
            app, client, [view("phone", "p1", "sku-001", 0), login("phone", "p1", "ana", 1)]
        )
        failed = app.state.linking.linker_failures
    assert result["accepted"] == 2
    assert ("phone", "ana", "login") in await links(demo_graph)
    assert failed == 2
    failures = " ".join(f for report in done for f in report.failures)
    assert "test-broken-linker/failing: RuntimeError" in failures
    assert "test-broken-linker/nosy: Undeclared" in failures
    assert "browsing_history" in caplog.text and "nosy" in caplog.text


async def test_the_queue_is_flushed_when_the_app_stops(demo_graph: Graph, served: Serve) -> None:
    await add_customers(demo_graph, "ana")
    gate = Gate()
    async with served(authenticate=as_shop_or_customer, plugins=[gate]) as (_, client):
        await gql(
            client,
            "mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }",
            {"e": [login("phone", "p1", "ana", 0)]},
        )
        await asyncio.wait_for(gate.entered.wait(), 10)
        gate.release.set()  # the app stops while the batch is still being linked
    assert ("phone", "ana", "login") in await links(demo_graph)


async def test_the_queue_keeps_counts_not_the_customers_it_linked(
    demo_graph: Graph, served: Serve
) -> None:
    # The queue lives as long as the process: what it keeps of each batch must
    # not grow with the batches, nor keep a customer's id after she is erased.
    await add_customers(demo_graph, "erin-7f3a", consenting=None)
    async with served(authenticate=as_shop_or_customer) as (app, client):
        for i in range(3):
            await track(app, client, [login(f"device-{i}", f"s-{i}", "erin-7f3a", i)])
        queue = app.state.linking
        counts, kept = dict(queue.verdicts), repr(vars(queue))
    assert counts["linked"] == 3
    assert "erin-7f3a" not in kept


# -- the plugin API -------------------------------------------------------------


def _linker(**overrides: Any) -> object:
    class Candidate:
        name = overrides.get("name", "candidate")
        purpose = overrides.get("purpose", CROSS_DEVICE)
        categories = overrides.get("categories", frozenset({DataCategory.DEVICE}))

        async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
            return []

    if overrides.get("sync"):
        Candidate.propose = lambda self, o, d: []  # type: ignore[assignment,method-assign,misc]
    return Candidate()


class Offers(DeclaresLinking):
    def __init__(self, name: str, *linkers: object) -> None:
        self.tightrope_name = name
        self.linkers = list(linkers)

    @hookimpl
    def register_identity_linkers(self) -> list[object]:
        return self.linkers


@pytest.mark.parametrize(
    ("linker", "words"),
    [
        (_linker(name=""), "without a name"),
        (_linker(purpose="personalisation"), "purpose must be 'cross_device'"),
        (_linker(categories=frozenset()), "non-empty frozenset"),
        (_linker(categories={"device"}), "non-empty frozenset"),
        (_linker(sync=True), "propose must be an async method"),
    ],
)
def test_hook_register_identity_linkers_refuses_what_does_not_say_what_it_reads(
    linker: object, words: str
) -> None:
    from gateway.app import assemble

    with pytest.raises(PluginError, match=words):
        assemble(settings_for_tests(), [Offers("careless", linker)])


def test_hook_register_identity_linkers_a_name_registered_twice_names_both_plugins() -> None:
    from gateway.app import assemble

    with pytest.raises(PluginError, match="'first' and 'second'"):
        assemble(settings_for_tests(), [Offers("first", _linker()), Offers("second", _linker())])


class Fixed(DeclaresLinking):
    """A linker proposing exactly what the test says, to probe the host's rules."""

    tightrope_name = "test-fixed-linker"

    def __init__(self, *proposals: tuple[str, str, str, float]) -> None:
        self.proposals = proposals

    @hookimpl
    def register_identity_linkers(self) -> list[Any]:
        wanted = self.proposals

        class Claims:
            name = "claims"
            purpose = CROSS_DEVICE
            categories = frozenset({DataCategory.DEVICE})

            async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
                said = (Evidence("CLAIM", "Said so"),)
                return [Proposal(d, c, m, p, said) for d, c, m, p in wanted]

        return [Claims()]


async def test_a_deterministic_link_only_joins_the_customer_who_signed_in(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plugin claims sign-ins and emails that did not happen, and for other
    # devices than the one observed: the host refuses every one.
    await add_customers(demo_graph, "ana", "ben")
    claims = Fixed(
        ("phone", "ben", "login", 1.0),  # Ben did not sign in on Ana's phone
        ("phone", "ben", "email", 1.0),  # nor give his email there
        ("other", "ana", "login", 1.0),  # a device not observed
    )
    async with served(authenticate=as_shop_or_customer, plugins=[claims]) as (app, client):
        done = reports(app, monkeypatch)
        # The shop's back end forwards Ana's sign-in (a customer's token would
        # be refused for Ben at once: it speaks for Ana only).
        await track(app, client, [login("phone", "p1", "ana", 0, network=HOME)])
        await track(app, client, [view("other", "o1", "sku-001", 0, network=HOME)])
    assert {(d, c, m) for d, c, m in await links(demo_graph) if c != "c1"} == {
        ("phone", "ana", "login")
    }
    refused: dict[tuple[str, str, str], str] = {}
    for o in (o for report in done for o in report.outcomes):  # the phone's answers first
        if o.linker == "claims":
            p = o.proposal
            refused.setdefault((p.device_id, p.customer_id, p.method), o.reason)
    assert refused[("phone", "ben", "login")] == "the customer did not sign in on this device"
    assert refused[("phone", "ben", "email")] == "no email was given on this device"
    assert "only joins the device where the proof was seen" in refused[("other", "ana", "login")]


async def test_hook_register_identity_linkers_a_third_partys_proposals_are_held_to_the_limits(
    demo_graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests/plugin_example's loyalty linker, found through its entry point,
    # claims every device it sees for the customers it is told, at 0.99.
    await add_customers(demo_graph, "ana", "ben", "cat")
    await add_customers(demo_graph, "dan", consenting=False)
    settings = settings_for_tests(linking_max_devices_per_customer=2)

    async def scan(customers: str, devices: list[str], method: str = "loyalty-card") -> None:
        monkeypatch.setenv("TIGHTROPE_EXAMPLE_LINK_CUSTOMERS", customers)
        monkeypatch.setenv("TIGHTROPE_EXAMPLE_LINK_METHOD", method)
        async with served(settings, authenticate=as_shop_or_customer) as (app, client):
            for i, device in enumerate(devices):
                await track(app, client, [view(device, f"{device}-s", "sku-001", i, network=HOME)])

    await scan("ana", ["till-1", "till-2", "till-3"])  # at most two devices each
    await scan("ben,cat", ["till-4"])  # two customers for one device: neither
    await scan("dan", ["till-5"])  # no cross_device consent
    await scan("cat", ["till-6"], method="login")  # a sign-in that did not happen
    found = {(d, c, m) for d, c, m in await links(demo_graph) if c != "c1"}
    assert found == {("till-1", "ana", "loyalty-card"), ("till-2", "ana", "loyalty-card")}
    linker = await demo_graph.read(
        "MATCH (:Device {id: 'till-1'})-[u:USED_BY]->() RETURN u.linker AS l, u.evidence AS e"
    )
    assert linker == [
        {"l": "example-loyalty", "e": ["Your loyalty card was scanned on this device"]}
    ]
