"""Erasure: forgetMe and `customers forget` leave nothing that names the customer, for good."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette

from gateway import ErasureRefused, Manifest, create_app, hookimpl
from gateway.app import assemble
from gateway.cli import cli
from gateway.strategies import recompute
from graph import Event, Graph, parse_event, set_consent, write_events
from graph.ingest import load_file
from graph.oauth import merge_grant, set_password_hash
from tests.conftest import TEST_DATA_KEYS, TEST_PII_KEY
from tests.gateway.conftest import settings_for_tests, write_and_link
from tests.gateway.oauth.conftest import add_client
from tests.gateway.oauth.helpers import BASE, bearer, bearer_for

KIM = "kim-5e1f"  # distinctive, so a scan cannot mistake anything else for her
LOU = "lou-0c2d"
FORGET = "mutation($c: String) { forgetMe(confirmation: $c) { erased confirmation removed { what count heldBy } } }"  # noqa: E501


class LoyaltyPlugin:
    """A third party's plugin keeping its own node per customer: exported, erased when told."""

    @hookimpl
    def plugin_manifest(self) -> Manifest:
        # Its own nodes need its own Cypher: declared, so its hooks' graph runs it.
        return Manifest(raw_cypher="keeps a LoyaltyCard node per customer")

    @hookimpl
    def export_customer_data(self, customer_id: str, graph: Graph) -> Any:
        async def export() -> dict[str, Any] | None:
            rows = await graph.read(
                "MATCH (n:LoyaltyCard {customer_id: $id}) RETURN n.number AS number",
                {"id": customer_id},
            )
            return {"cards": [row["number"] for row in rows]} if rows else None

        return export()

    @hookimpl
    def erase_customer_data(self, customer_id: str, graph: Graph) -> Any:
        async def erase() -> int:
            rows = await graph.write(
                "MATCH (n:LoyaltyCard {customer_id: $id}) DETACH DELETE n RETURN count(*) AS n",
                {"id": customer_id},
            )
            return int(rows[0]["n"])

        return erase()


@asynccontextmanager
async def gateway() -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(settings_for_tests(oauth_issuer=BASE), (LoyaltyPlugin(),))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield app, http


def history(who: str, sku_a: str = "sku-001", sku_b: str = "sku-003") -> list[Any]:
    """An anonymous visit on the customer's phone, then a signed-in one that buys twice."""
    rows = [
        {"type": "view", "session_id": f"{who}-anon", "device_id": f"{who}-phone", "sku": sku_a},
        {"type": "login", "session_id": f"{who}-s1", "device_id": f"{who}-phone",
         "customer_id": who},
        {"type": "view", "session_id": f"{who}-s1", "sku": sku_a},
        {"type": "add_to_cart", "session_id": f"{who}-s1", "sku": sku_a},
        {"type": "purchase", "session_id": f"{who}-s1", "sku": sku_a, "customer_id": who,
         "order_id": f"{who}-order-1"},
        {"type": "purchase", "session_id": f"{who}-s1", "sku": sku_b, "customer_id": who,
         "order_id": f"{who}-order-2"},
    ]  # fmt: skip
    return [
        parse_event({**row, "event_id": f"{who}-ev-{i}", "at": f"2026-11-20T10:0{i}:00Z"})
        for i, row in enumerate(rows)
    ]


async def seed_customer(
    graph: Graph, tmp_path: Path, who: str, card: bool = False, linked: bool = True
) -> None:
    path = tmp_path / f"{who}.jsonl"
    rows = [
        {"record": "customer", "id": who, "created_at": "2025-01-02T09:00:00Z",
         "email": f"{who}@example.test", "name": f"Name of {who}", "phone": "+44 7700 900555"},
        {"record": "device", "id": f"{who}-tablet", "kind": "tablet",  # she signed in on it
         "first_seen": "2025-01-02T09:00:00Z", "customer_id": who, "method": "login"},
        {"record": "consent", "customer_id": who, "purpose": "marketing", "granted": True,
         "at": "2025-01-02T09:01:00Z"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = await load_file(
        graph, path, progress=False, pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS
    )
    assert not report.bad, report.bad
    # Stored and linked as trackEvents and its linking queue do (``linked``
    # False: the erasure comes before the queue linked the sign-in's device).
    write = write_and_link if linked else partial(write_events, pii_key=TEST_PII_KEY)
    assert (await write(graph, history(who))).rejected == []
    await set_consent(graph, who, "personalisation", True, source="api", version="t")
    await set_password_hash(graph, who, "not-a-real-hash", 0)
    if card:  # held by LoyaltyPlugin, which only the in-process gateway loads
        await graph.write(
            "MATCH (c:Customer {id: $id}) CREATE (:LoyaltyCard {customer_id: $id, number: $n})",
            {"id": who, "n": f"{who}-card"},
        )


async def identifiers(graph: Graph, who: str) -> list[str]:
    """Every stored value that identifies the customer: ids, hashes, sealed contact."""
    rows = await graph.read(
        "MATCH (c:Customer {id: $id}) RETURN c.email_hmac AS h, c.contact_enc AS s", {"id": who}
    )
    return [who, rows[0]["h"], rows[0]["s"]]


async def scan(graph: Graph) -> str:
    """Every label, type and property of every node and relationship, as one text."""
    nodes = await graph.read("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels = await graph.read("MATCH ()-[r]->() RETURN type(r) AS l, properties(r) AS p")
    return json.dumps([(row["l"], row["p"]) for row in nodes + rels], default=str)


async def forget(http: httpx.AsyncClient, token: str, code: str | None) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": FORGET, "variables": {"c": code}}, headers=bearer(token)
    )
    body: dict[str, Any] = response.json()
    return body


async def run_cli(args: list[str]) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


async def test_forget_me_erases_through_hook_erase_customer_data_leaves_no_trace_kills_the_token(
    demo_graph: Graph, tmp_path: Path
) -> None:
    for who in (KIM, LOU):
        await seed_customer(demo_graph, tmp_path, who, card=True)
    async with gateway() as (app, http):
        # Everything a customer can leave behind: a token family, an app's grant,
        # access log records, and preferences derived from their purchases.
        token = await bearer_for(app, KIM)
        lou_token = await bearer_for(app, LOU)
        other = await add_client(app, "third_party", "profile:read")
        await merge_grant(demo_graph, KIM, other.client_id, ["profile:read"], int(time.time()))
        await recompute(list(app.state.assembly.recommendations.strategies.values()), demo_graph)
        read = await http.post(
            "/graphql", json={"query": "{ me { createdAt } }"}, headers=bearer(token)
        )
        assert read.status_code == 200
        await app.state.access_log.flush()
        known = await identifiers(demo_graph, KIM)
        before = await scan(demo_graph)
        for kind in ("PREFERS", "AccessRecord", "TokenFamily", "AUTHORISED", "CONSENT_CHANGE"):
            assert kind in before  # the fixture really holds each kind

        asked = await forget(http, token, None)
        code = asked["data"]["forgetMe"]["confirmation"]
        assert asked["data"]["forgetMe"]["erased"] is False and code
        wrong = await forget(http, token, code[:-1] + ("0" if code[-1] != "0" else "1"))
        assert wrong["data"] is None or wrong["data"]["forgetMe"] is None
        assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert KIM in await scan(demo_graph)  # nothing happens without the right code

        done = await forget(http, token, code)
        assert "errors" not in done, done
        result = done["data"]["forgetMe"]
        assert result["erased"] is True
        removed = {(r["heldBy"], r["what"]): r["count"] for r in result["removed"]}
        assert removed[("tightrope", "purchases")] == 2
        assert removed[("tightrope", "sessions")] == 2  # the signed-in and the anonymous visit
        assert removed[("tightrope", "devices")] == 2
        assert removed[("LoyaltyPlugin", "derived data")] == 1
        assert removed[("tightrope-affinity", "derived data")] >= 1  # its PREFERS edges

        # The old token is refused at once, as a token.
        again = await http.post(
            "/graphql", json={"query": "{ me { createdAt } }"}, headers=bearer(token)
        )
        assert again.status_code == 401
        # Lou is untouched.
        lous = await http.post(
            "/graphql", json={"query": "{ me { createdAt } }"}, headers=bearer(lou_token)
        )
        assert lous.status_code == 200 and lous.json()["data"]["me"]["createdAt"]

    after = await scan(demo_graph)
    for value in known:
        assert value not in after
    assert f"{LOU}-order-1" in after and "sku-001" in after


async def test_erasing_twice_says_so_and_late_events_do_not_bring_them_back(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    known = await identifiers(demo_graph, KIM)
    first = await run_cli(["customers", "forget", KIM, "--yes"])
    assert first.exit_code == 0, first.output
    assert f"customer {KIM} erased" in first.output

    second = await run_cli(["customers", "forget", KIM, "--yes"])
    assert second.exit_code == 1
    assert "already erased" in second.output
    unknown = await run_cli(["customers", "forget", "nobody-ever", "--yes"])
    assert unknown.exit_code == 1 and "no customer 'nobody-ever'" in unknown.output

    # A tab left open, a nightly export: events and records for her keep coming.
    late = history(KIM)
    late += [
        parse_event({"event_id": "late-1", "type": "view", "at": "2026-11-21T10:00:00Z",
                     "session_id": f"{KIM}-s1", "sku": "sku-002"}),
        parse_event({"event_id": "late-2", "type": "view", "at": "2026-11-21T10:00:00Z",
                     "session_id": "fresh-visit", "device_id": f"{KIM}-phone", "sku": "sku-002"}),
    ]  # fmt: skip
    result = await write_events(demo_graph, late, pii_key=TEST_PII_KEY)
    assert sum(result.created.values()) == 0
    assert {r.event_id for r in result.rejected} == {e.event_id for e in late}
    assert all("erased" in r.reason for r in result.rejected)
    await seed_customer_again(demo_graph, tmp_path)

    after = await scan(demo_graph)
    for value in [*known, f"{KIM}-phone", f"{KIM}-s1", f"{KIM}-anon", f"{KIM}-order-1"]:
        assert value not in after


async def test_a_device_signed_in_on_but_not_yet_linked_is_erased_too(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM, linked=False)
    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    assert erased.exit_code == 0, erased.output
    after = await scan(demo_graph)
    for value in (f"{KIM}-phone", f"{KIM}-s1", f"{KIM}-anon"):
        assert value not in after, value


async def seed_customer_again(graph: Graph, tmp_path: Path) -> None:
    """The retailer's customer export still lists her: the load refuses the row."""
    path = tmp_path / "again.jsonl"
    path.write_text(
        json.dumps({"record": "customer", "id": KIM, "created_at": "2025-01-02T09:00:00Z",
                    "email": f"{KIM}@example.test"}) + "\n"
    )  # fmt: skip
    report = await load_file(
        graph, path, progress=False, pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS
    )
    assert [(b.line, b.field) for b in report.bad] == [(1, "id")]
    assert "erased" in report.bad[0].reason


async def test_events_arriving_during_the_erasure_do_not_resurrect_the_customer(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    known = await identifiers(demo_graph, KIM)
    stop = asyncio.Event()
    AT = "2026-11-22T10:00:00Z"

    async def keep_sending() -> int:
        n = 0
        while not stop.is_set():
            n += 1
            batch = [
                parse_event({"event_id": f"busy-{n}-{i}", "type": kind, "at": AT,
                             "session_id": f"busy-{n}", "device_id": f"{KIM}-phone",
                             "sku": "sku-004", **extra})
                for i, (kind, extra) in enumerate(
                    [("view", {}), ("login", {"customer_id": KIM, "sku": None}),
                     ("purchase", {"customer_id": KIM})]
                )
            ]  # fmt: skip
            await write_events(demo_graph, batch, pii_key=TEST_PII_KEY)
        return n

    sender = asyncio.create_task(keep_sending())
    await asyncio.sleep(0.5)
    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    await asyncio.sleep(0.5)
    stop.set()
    batches = await sender
    assert erased.exit_code == 0, erased.output
    assert batches >= 2
    after = await scan(demo_graph)
    for value in [*known, f"{KIM}-phone"]:
        assert value not in after


class UndeclaredEraser:
    """Erases with Cypher of its own, without declaring it in a manifest."""

    tightrope_name = "undeclared-eraser"

    @hookimpl
    def erase_customer_data(self, customer_id: str, graph: Graph) -> Any:
        return graph.write(
            "MATCH (n:LoyaltyCard {customer_id: $id}) DETACH DELETE n", {"id": customer_id}
        )


async def test_hook_erase_customer_data_gets_the_plugins_own_checked_graph(
    demo_graph: Graph, tmp_path: Path
) -> None:
    # The host's erasure hands each plugin its own graph, as every other hook
    # does: Cypher of its own is refused unless its manifest declares it, and
    # the erasure stops there, naming the plugin, with the customer untouched.
    await seed_customer(demo_graph, tmp_path, KIM, card=True)
    rights = assemble(settings_for_tests(), [UndeclaredEraser()]).rights
    with pytest.raises(ErasureRefused, match="'undeclared-eraser'"):
        await rights.erase(demo_graph, KIM)
    assert KIM in await scan(demo_graph)


def visit(event_id: str, session_id: str, device_id: str, **extra: str) -> Event:
    row = {"event_id": event_id, "type": "view", "at": "2026-11-21T10:00:00Z",
           "session_id": session_id, "device_id": device_id, "sku": "sku-002", **extra}  # fmt: skip
    return parse_event(row)


async def device_ids(graph: Graph) -> set[str]:
    rows = await graph.read("MATCH (d:Device) RETURN d.id AS id")
    return {row["id"] for row in rows}


async def test_a_device_only_guessed_hers_survives_her_erasure(
    demo_graph: Graph, tmp_path: Path
) -> None:
    # A laptop the network linker guessed (0.9) is Kim's; guesses are wrong
    # 6-13 % of the time (docs/linking.md), so its real user must not lose it.
    await seed_customer(demo_graph, tmp_path, KIM)
    laptop_visit = visit("laptop-1", "laptop-visit", "guessed-laptop")
    assert (await write_events(demo_graph, [laptop_visit], pii_key=TEST_PII_KEY)).rejected == []
    await demo_graph.write(
        "MATCH (d:Device {id: 'guessed-laptop'}), (c:Customer {id: $id})"
        " CREATE (d)-[:USED_BY {method: 'probabilistic', confidence: 0.9,"
        " linked_at: datetime(), linker: 'network'}]->(c)",
        {"id": KIM},
    )

    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    assert erased.exit_code == 0, erased.output
    after = await scan(demo_graph)
    assert "guessed-laptop" in await device_ids(demo_graph)
    assert "laptop-visit" in after and "laptop-1" in after  # its anonymous visit stays
    links = await demo_graph.read("MATCH (:Device {id: 'guessed-laptop'})-[u:USED_BY]->() RETURN u")
    assert links == []  # only the guess went, with Kim
    for value in (f"{KIM}-phone", f"{KIM}-tablet", f"{KIM}-anon", f"{KIM}-s1"):
        assert value not in after, value  # what was proved hers went, as before

    later = [
        visit("laptop-2", "laptop-visit", "guessed-laptop"),
        visit("laptop-3", "laptop-visit-2", "guessed-laptop"),
        visit("phone-1", "phone-visit", f"{KIM}-phone"),
    ]
    result = await write_events(demo_graph, later, pii_key=TEST_PII_KEY)
    assert [r.event_id for r in result.rejected] == ["phone-1"]
    assert "erased" in result.rejected[0].reason


async def test_a_family_laptop_keeps_the_others_visits_but_not_the_anonymous_ones(
    demo_graph: Graph, tmp_path: Path
) -> None:
    for who in (KIM, LOU):
        await seed_customer(demo_graph, tmp_path, who)
    visits = [
        visit("fam-0", "fam-anon", "family-laptop"),
        visit("fam-1", "fam-kim", "family-laptop", type="login", customer_id=KIM, sku=""),
        visit("fam-2", "fam-kim", "family-laptop"),
        visit("fam-3", "fam-lou", "family-laptop", type="login", customer_id=LOU, sku=""),
        visit("fam-4", "fam-lou", "family-laptop"),
    ]
    assert (await write_and_link(demo_graph, visits)).rejected == []

    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    assert erased.exit_code == 0, erased.output
    after = await scan(demo_graph)
    assert "family-laptop" in await device_ids(demo_graph)
    assert "fam-kim" not in after and "fam-2" not in after  # her own visit went
    # The anonymous visit may have been hers: Lou's sign-in there does not make
    # it his, so it must not keep it from her erasure.
    assert "fam-anon" not in after and "fam-0" not in after
    for value in ("fam-lou", "fam-4"):
        assert value in after, value  # Lou's stay
    result = await write_events(
        demo_graph, [visit("fam-5", "fam-lou-2", "family-laptop")], pii_key=TEST_PII_KEY
    )
    assert result.rejected == []


# Digits only to str.isdigit (a superscript two), and a non-ASCII MAC.
MALFORMED = ("\u00b2.abc", "99999999999.\u00e9")


async def test_a_malformed_confirmation_is_a_bad_code_and_erases_nothing(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    async with gateway() as (app, http):
        token = await bearer_for(app, KIM)
        for code in MALFORMED:
            refused = await forget(http, token, code)
            assert refused["data"] is None or refused["data"]["forgetMe"] is None, code
            error = refused["errors"][0]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", (code, error)
            assert "not a valid confirmation" in error["message"]
        assert KIM in await scan(demo_graph)
        asked = await forget(http, token, None)
        done = await forget(http, token, asked["data"]["forgetMe"]["confirmation"])
        assert done["data"]["forgetMe"]["erased"] is True, done


async def test_a_device_left_with_nothing_and_a_network_only_she_used_go(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    await seed_customer(demo_graph, tmp_path, LOU)
    # A laptop guessed hers with no visit of its own; her phone seen at home and
    # at a café where Lou's phone was seen too.
    await demo_graph.write(
        """
        MATCH (kim:Customer {id: $kim}), (phone:Device {id: $phone}), (lou:Device {id: $lou})
        CREATE (laptop:Device {id: 'kim-quiet-laptop', kind: 'desktop'})
               -[:USED_BY {method: 'probabilistic', confidence: 0.9, linker: 'network'}]->(kim)
        CREATE (home:Network {id: 'net-kim-home', devices: 1, first_seen: datetime()}),
               (cafe:Network {id: 'net-cafe', devices: 2, first_seen: datetime()})
        CREATE (phone)-[:SEEN_ON {first_at: datetime(), last_at: datetime()}]->(home),
               (phone)-[:SEEN_ON {first_at: datetime(), last_at: datetime()}]->(cafe),
               (lou)-[:SEEN_ON {first_at: datetime(), last_at: datetime()}]->(cafe)
        """,
        {"kim": KIM, "phone": f"{KIM}-phone", "lou": f"{LOU}-phone"},
    )

    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    assert erased.exit_code == 0, erased.output
    after = await scan(demo_graph)
    assert "kim-quiet-laptop" not in after  # nothing was left on it
    assert "net-kim-home" not in after  # where she lived
    cafe = await demo_graph.read("MATCH (n:Network {id: 'net-cafe'}) RETURN n.devices AS n")
    assert cafe == [{"n": 1}]  # Lou is still seen there


async def test_events_her_own_token_sent_go_even_on_a_visit_that_stays(
    demo_graph: Graph, tmp_path: Path
) -> None:
    await seed_customer(demo_graph, tmp_path, KIM)
    # From her token, a view on a visit that is not hers to erase (the graph
    # does not know whose it is): the event carries her sender prefix.
    mine = visit("kim-token-view", "somebodys-visit", "somebodys-laptop")
    assert (
        await write_events(demo_graph, [mine], pii_key=TEST_PII_KEY, as_customer=KIM)
    ).rejected == []
    stays = visit("shop-view", "somebodys-visit", "somebodys-laptop", sku="sku-004")
    assert (await write_events(demo_graph, [stays], pii_key=TEST_PII_KEY)).rejected == []

    erased = await run_cli(["customers", "forget", KIM, "--yes"])
    assert erased.exit_code == 0, erased.output
    after = await scan(demo_graph)
    assert "kim-token-view" not in after
    assert "shop-view" in after and "somebodys-visit" in after


async def test_erasure_ends_the_sign_in_of_the_authorization_pages(demo_graph: Graph) -> None:
    from tests.gateway.oauth.conftest import add_customer
    from tests.gateway.oauth.helpers import PASSWORD, authorize_url_for, sign_in

    await add_customer(demo_graph, KIM)
    async with gateway() as (app, http):
        client = await add_client(app, "first_party", "profile:read")
        url = authorize_url_for(client, "profile:read")
        page = await sign_in(http, url, KIM, PASSWORD)
        assert 'name="password"' not in page.text, page.text  # signed in: the consent page
        erased = await run_cli(["customers", "forget", KIM, "--yes"])
        assert erased.exit_code == 0, erased.output
        # The browser still holds its signed cookie; it signs nobody in now.
        again = await http.get(url)
    assert again.status_code == 200
    assert 'name="password"' in again.text  # the sign-in form, not the consent page
