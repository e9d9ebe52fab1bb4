"""exportMyData: everything held about the customer in one JSON document, and who gave what."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.strategies import recompute
from graph import Graph, data_held, write_events
from graph.links import SignalRow, record_signals
from graph.oauth import merge_grant
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import write_and_link
from tests.gateway.oauth.conftest import add_client
from tests.gateway.oauth.helpers import bearer, bearer_for
from tests.gateway.test_erasure import KIM, LOU, gateway, seed_customer, visit

EXPORT = "{ exportMyData }"


async def export(http: Any, token: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": EXPORT}, headers=bearer(token))
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    document: dict[str, Any] = body["data"]["exportMyData"]
    return document


async def test_the_export_holds_every_category_and_names_its_contributors(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM, card=True)
    async with gateway() as (app, http):
        token = await bearer_for(app, KIM)
        other = await add_client(app, "third_party", "profile:read", name="Style Advisor")
        await merge_grant(demo_graph, KIM, other.client_id, ["profile:read"], int(time.time()))
        await recompute(list(app.state.assembly.recommendations.strategies.values()), demo_graph)
        await http.post("/graphql", json={"query": "{ me { createdAt } }"}, headers=bearer(token))
        await app.state.access_log.flush()
        document = await export(http, token)

    text = json.dumps(document)  # it is one JSON document
    assert document["customer_id"] == KIM
    assert document["profile"]["id"] == KIM and document["profile"]["created_at"]
    assert document["contact"] == {
        "email": f"{KIM}@example.test",
        "name": f"Name of {KIM}",
        "phone": "+44 7700 900555",
    }
    # Nothing but what a person can read: no hash, no ciphertext.
    assert "email_hmac" not in text and "contact_enc" not in text and "v1:test-" not in text
    rels = document["relationships"]
    assert {e["purpose"] for e in rels["CONSENT"]} == {"marketing", "personalisation"}
    assert len(rels["CONSENT_CHANGE"]) == 2  # the history, each change with its time
    assert {e["order_id"] for e in rels["PURCHASED"]} == {f"{KIM}-order-1", f"{KIM}-order-2"}
    links = {e["other"]["id"]: e for e in rels["USED_BY"]}
    assert set(links) == {f"{KIM}-phone", f"{KIM}-tablet"}
    assert links[f"{KIM}-phone"]["method"] == "login"  # how each device was linked
    assert {e["other"]["id"] for e in rels["AUTHORISED"]} == {other.client_id}
    assert rels["PREFERS"] and all(e["source"] for e in rels["PREFERS"])  # derived, and by whom
    assert any(e["record"]["fields"] for e in rels["ABOUT"])  # the access log
    sessions = {s["id"]: s for s in document["sessions"]}
    assert set(sessions) == {f"{KIM}-anon", f"{KIM}-s1"}
    assert {e["type"] for e in sessions[f"{KIM}-s1"]["events"]} == {"VIEWED", "ADDED_TO_CART"}
    assert sessions[f"{KIM}-anon"]["device_id"] == f"{KIM}-phone"
    assert document["app_sessions"] and document["app_sessions"][0]["scopes"]
    # A plugin's own data, under its name, and the list of who contributed what.
    assert document["plugins"]["LoyaltyPlugin"] == {"cards": [f"{KIM}-card"]}
    assert document["contributors"]["LoyaltyPlugin"] == ["cards"]
    assert {"contact", "profile", "relationships", "sessions"} <= set(
        document["contributors"]["tightrope"]
    )
    assert document["not_exported"] == []


async def test_a_customer_with_no_data_gets_an_export_that_says_so(demo_graph: Graph) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'new-one', created_at: datetime()})")
    async with gateway() as (app, http):
        document = await export(http, await bearer_for(app, "new-one"))
    assert document["contact"] is None
    assert document["sessions"] == [] and document["plugins"] == {}
    # Only what signing in itself left: the app session of this very token.
    assert set(document["relationships"]) <= {"ABOUT"}


async def test_hook_export_customer_data_failing_is_named_not_hidden(
    demo_graph: Graph, tmp_path: Path
) -> None:
    from gateway import create_app, hookimpl
    from tests.gateway.conftest import settings_for_tests
    from tests.gateway.oauth.helpers import BASE

    class Broken:
        @hookimpl
        def export_customer_data(self, customer_id: str) -> Any:
            raise RuntimeError("the warehouse is down")

    await seed_customer(demo_graph, tmp_path, KIM)
    app = create_app(settings_for_tests(oauth_issuer=BASE), (Broken(),))
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            document = await export(http, await bearer_for(app, KIM))
    assert document["not_exported"] == [
        {"plugin": "Broken", "reason": "the plugin failed; ask again later"}
    ]
    assert "warehouse" not in json.dumps(document)  # the error itself is not shown


async def test_the_export_leaves_out_anonymous_visits_that_may_be_someone_elses(
    demo_graph: Graph, tmp_path: Path
) -> None:
    # Kim's own phone's anonymous visit is hers. A laptop only guessed hers, and
    # a family laptop Lou signed in on too, hold anonymous visits that may be
    # someone else's browsing: the export shows the links, not those visits,
    # and what the privacy summary counts is what the export holds.
    await seed_customer(demo_graph, tmp_path, KIM)
    await seed_customer(demo_graph, tmp_path, LOU)
    visits = [
        visit("g-1", "guessed-visit", "guessed-laptop"),
        visit("f-0", "family-anon", "family-laptop"),
        visit("f-1", "family-kim", "family-laptop", type="login", customer_id=KIM, sku=""),
        visit("f-2", "family-lou", "family-laptop", type="login", customer_id=LOU, sku=""),
    ]
    assert (await write_and_link(demo_graph, visits)).rejected == []
    await demo_graph.write(
        "MATCH (d:Device {id: 'guessed-laptop'}), (c:Customer {id: $id})"
        " CREATE (d)-[:USED_BY {method: 'probabilistic', confidence: 0.9,"
        " linked_at: datetime(), linker: 'network'}]->(c)",
        {"id": KIM},
    )
    async with gateway() as (app, http):
        document = await export(http, await bearer_for(app, KIM))
    sessions = {s["id"] for s in document["sessions"]}
    assert f"{KIM}-anon" in sessions and "family-kim" in sessions
    assert not {"guessed-visit", "family-anon", "family-lou"} & sessions
    assert "guessed-laptop" in {e["other"]["id"] for e in document["relationships"]["USED_BY"]}
    held = await data_held(demo_graph, KIM)
    assert held is not None
    events = sum(len(s["events"]) for s in document["sessions"])
    assert held["browsing_history"].count == events


async def test_the_export_holds_her_own_devices_and_when_each_was_seen_on_a_network(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    first, last = datetime(2026, 11, 21, 9, tzinfo=UTC), datetime(2026, 11, 21, 10, tzinfo=UTC)
    sightings = [
        SignalRow(f"{KIM}-phone", "hash-of-home", "hash-of-safari", "mobile", first, last),
        SignalRow(f"{KIM}-phone", "hash-of-cafe", None, None, last, last),
        SignalRow("someone-elses-laptop", "hash-of-home", None, "desktop", first, last),
    ]
    await write_events(demo_graph, [visit("x-1", "elsewhere", "someone-elses-laptop")],
                       pii_key=TEST_PII_KEY)  # fmt: skip
    await record_signals(demo_graph, sightings)
    async with gateway() as (app, http):
        document = await export(http, await bearer_for(app, KIM))
    devices = {d["id"]: d for d in document["devices"]}
    assert set(devices) == {f"{KIM}-phone", f"{KIM}-tablet"}  # hers, nobody else's
    phone = devices[f"{KIM}-phone"]
    assert phone["kind"] == "mobile" and phone["last_seen"]
    seen = [(n["first_seen"][:19], n["last_seen"][:19]) for n in phone["networks"]]
    home, cafe = ("2026-11-21T09:00:00", "2026-11-21T10:00:00"), ("2026-11-21T10:00:00",) * 2
    assert seen == [home, cafe]  # first seen first; the times as ISO 8601
    assert devices[f"{KIM}-tablet"]["networks"] == []
    # No hash a person cannot read: neither the network's nor the browser's.
    text = json.dumps(document["devices"])
    assert "hash-of" not in text and "ua_hmac" not in text
    assert "devices" in document["contributors"]["tightrope"]
