"""The customer's privacy page: in a real headless Chromium end to end, and its refusals over HTTP.

The browser test runs the whole gateway under uvicorn (as the consent page's
browser test does) and saves a screenshot of each step in test-artefacts/.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.oauth.devtokens import dev_token
from gateway.oauth.passwords import hash_password
from graph import Graph, access_log_page, consent_history, set_consent
from graph.oauth import merge_grant, set_password_hash
from tests.gateway.conftest import settings_for_tests
from tests.gateway.oauth.conftest import add_client
from tests.gateway.oauth.helpers import BASE, PASSWORD, bearer, bearer_for
from tests.gateway.oauth.test_browser import ARGS, CHROMIUM, running_gateway
from tests.gateway.oauth.test_browser import pytestmark as needs_chromium
from tests.gateway.recs.conftest import shop
from tests.gateway.test_erasure import MALFORMED, gateway, scan

__all__ = ["shop"]  # the recommendations tests' shop, used here too

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
RECS = "{ me { recommendations(first: 3) { strategy reasons { code text } } } }"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@needs_chromium  # skipped where Chromium is missing, like the consent page's test
async def test_the_page_end_to_end_in_a_browser(shop: Graph) -> None:
    import playwright.async_api as playwright_api

    await set_password_hash(shop, "ana", hash_password(PASSWORD), 0)
    await set_consent(shop, "ana", "personalisation", True, source="api", version="t")
    ARTEFACTS.mkdir(exist_ok=True)
    async with running_gateway() as base, playwright_api.async_playwright() as p:
        from gateway.oauth.clients import register_client
        from gateway.oauth.scopes import ScopeCatalogue

        # An app Ana authorised, with a live token; and the shop's own frontend's token.
        record, _ = await register_client(
            shop, ScopeCatalogue(), name="Budget Buddy", kind="third_party",
            scopes=["profile:read"], redirect_uris=[f"{base}/cb"],
        )  # fmt: skip
        await merge_grant(shop, "ana", record.client_id, ["profile:read"], int(time.time()))
        shop_app, _ = await register_client(
            shop, ScopeCatalogue(), name="Shop", kind="first_party",
            scopes=["recommendations:read"], redirect_uris=[f"{base}/shop"],
        )  # fmt: skip

        async def token(client_id: str, scope: str) -> str:
            from gateway.oauth import OAuthService
            from tests.gateway.conftest import settings_for_tests

            service = OAuthService(settings_for_tests(oauth_issuer=base))
            return await dev_token(
                shop, service, client_id=client_id, customer_id="ana", scopes=[scope]
            )

        app_token = await token(record.client_id, "profile:read")
        shop_token = await token(shop_app.client_id, "recommendations:read")

        async with http_client(base) as http:
            before = (
                await http.post("/graphql", json={"query": RECS}, headers=bearer(shop_token))
            ).json()
        assert {i["strategy"] for i in before["data"]["me"]["recommendations"]} - {"trending"}

        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(
                accept_downloads=True, viewport={"width": 390, "height": 844}
            )
            await page.goto(f"{base}/privacy")
            if not await page.locator("form#sign-in").count():
                raise AssertionError(f"no sign-in form; the page said: {await page.content()}")
            await page.get_by_label("Email or customer number").fill("ana")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_selector("h2#consents-h")
            await page.screenshot(path=ARTEFACTS / "privacy-1-signed-in.png", full_page=True)

            # Withdraw personalisation: recommendations become non-personal, and say so.
            await page.locator("form#consent-personalisation button").click()
            await page.wait_for_selector("form#consent-personalisation >> text=Allow this")
            # Revoke the app.
            await page.get_by_role("button", name="Revoke access of Budget Buddy").click()
            await page.wait_for_selector("text=None.")
            await page.screenshot(path=ARTEFACTS / "privacy-2-withdrawn.png", full_page=True)

            async with http_client(base) as http:
                after = (
                    await http.post("/graphql", json={"query": RECS}, headers=bearer(shop_token))
                ).json()
                revoked = await http.post(
                    "/graphql", json={"query": "{ me { createdAt } }"}, headers=bearer(app_token)
                )
            items = after["data"]["me"]["recommendations"]
            assert {i["strategy"] for i in items} == {"trending"}
            reasons = [
                r["text"] for i in items for r in i["reasons"] if r["code"] == "STRATEGY_SKIPPED"
            ]
            assert reasons and "personalisation" in reasons[0]
            assert revoked.status_code == 401

            # Download everything.
            async with page.expect_download() as downloading:
                await page.locator("a#export").click()
            download = await downloading.value
            saved = ARTEFACTS / "privacy-export.json"
            await download.save_as(saved)
            document = json.loads(saved.read_text())
            assert document["customer_id"] == "ana" and document["relationships"]["PURCHASED"]

            # Delete, after confirming.
            await page.get_by_role("button", name="Delete my account…").click()
            await page.wait_for_selector("form#delete-confirm")
            await page.screenshot(path=ARTEFACTS / "privacy-3-confirm-delete.png", full_page=True)
            await page.get_by_role("button", name="Yes, delete everything").click()
            await page.wait_for_selector("text=Your account was deleted")
            await page.screenshot(path=ARTEFACTS / "privacy-4-deleted.png", full_page=True)
        finally:
            await browser.close()

        async with http_client(base) as http:
            gone = await http.post("/graphql", json={"query": RECS}, headers=bearer(shop_token))
    assert gone.status_code == 401
    rows = await shop.read("MATCH (c:Customer {id: 'ana'}) RETURN count(c) AS n")
    assert rows[0]["n"] == 0
    assert '"ana"' not in await scan(shop)


def http_client(base: str) -> httpx.AsyncClient:
    # Patient: on a loaded machine a cold gateway's first answers take seconds.
    return httpx.AsyncClient(base_url=base, timeout=60.0)


async def sign_in(http: httpx.AsyncClient) -> str:
    page = await http.get("/privacy")
    csrf = CSRF.search(page.text)
    assert csrf, page.text
    signed = await http.post(
        "/privacy",
        data={"csrf_token": csrf[1], "action": "sign_in", "customer": "kim", "password": PASSWORD},
    )
    assert signed.status_code == 303, signed.text
    dashboard = await http.get("/privacy")
    found = CSRF.search(dashboard.text)
    assert found and "Your privacy" in dashboard.text
    return found[1]


async def test_a_forged_form_and_an_ended_session_are_refused(demo_graph: Graph) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    async with gateway() as (app, http):
        other = await add_client(app, "third_party", "profile:read", name="Budget Buddy")
        await merge_grant(demo_graph, "kim", other.client_id, ["profile:read"], int(time.time()))
        csrf = await sign_in(http)
        cookies = dict(http.cookies)

        # A form another site made: no valid token for this browser's nonce.
        forged = await http.post(
            "/privacy",
            data={"csrf_token": "forged", "action": "revoke", "client_id": other.client_id},
        )
        assert forged.status_code == 403 and "expired or was not sent by this site" in forged.text
        assert await grants(demo_graph) == 1

        # Signed out: the old cookie, replayed, no longer signs anyone in.
        out = await http.post("/privacy", data={"csrf_token": csrf, "action": "sign_out"})
        assert out.status_code == 303
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE, cookies=cookies
        ) as replay:
            refused = await replay.post(
                "/privacy",
                data={"csrf_token": csrf, "action": "revoke", "client_id": other.client_id},
            )
            download = await replay.get("/privacy/export.json")
        assert refused.status_code == 401 and "form" in refused.text and "sign-in" in refused.text
        assert download.status_code == 303  # back to the sign-in page, no data
        assert await grants(demo_graph) == 1


async def test_erasing_the_customer_ends_their_page_session(demo_graph: Graph) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    async with gateway() as (app, http):
        await sign_in(http)
        token = await bearer_for(app, "kim")
        asked = await http.post(
            "/graphql",
            json={"query": "mutation { forgetMe { confirmation } }"},
            headers=bearer(token),
        )
        code = asked.json()["data"]["forgetMe"]["confirmation"]
        done = await http.post(
            "/graphql",
            json={"query": f'mutation {{ forgetMe(confirmation: "{code}") {{ erased }} }}'},
            headers=bearer(token),
        )
        assert done.json()["data"]["forgetMe"]["erased"] is True
        page = await http.get("/privacy")
    assert "form" in page.text and 'id="sign-in"' in page.text  # signed out, nothing shown
    assert "PageSession" not in await scan(demo_graph)


async def grants(graph: Graph) -> int:
    rows: list[dict[str, Any]] = await graph.read(
        "MATCH (:Customer {id: 'kim'})-[g:AUTHORISED]->() RETURN count(g) AS n"
    )
    return int(rows[0]["n"])


async def test_a_malformed_confirmation_is_refused_and_deletes_nothing(demo_graph: Graph) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    async with gateway() as (_, http):
        csrf = await sign_in(http)
        for code in MALFORMED:
            sent = {"csrf_token": csrf, "action": "delete_confirmed", "confirmation": code}
            refused = await http.post("/privacy", data=sent)
            assert refused.status_code == 400, (code, refused.status_code)
            assert "confirmation expired" in refused.text
    rows = await demo_graph.read("MATCH (c:Customer {id: 'kim'}) RETURN count(c) AS n")
    assert rows[0]["n"] == 1


async def test_the_page_says_how_long_the_shop_keeps_the_list_of_reads(demo_graph: Graph) -> None:
    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    app = create_app(settings_for_tests(oauth_issuer=BASE, retention_access_log_days=400))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        await sign_in(http)
        page = (await http.get("/privacy")).text
    assert "This shop keeps this list for 400 days." in page


async def test_what_the_page_reads_is_in_the_customers_access_log(
    demo_graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page reads consents, apps, data held and the log itself through the
    # gate, as the shop's own client "privacy-page": like any GraphQL read.
    monkeypatch.setenv("TIGHTROPE_CONSENT_POLICY_VERSION", "2026-12")
    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    async with gateway() as (app, http):
        csrf = await sign_in(http)
        changed = await http.post(
            "/privacy",
            data={"csrf_token": csrf, "action": "consent", "purpose": "analytics", "granted": "no"},
        )
        assert changed.status_code == 303
        await app.state.access_log.flush()
        page = (await http.get("/privacy")).text
    records = await access_log_page(demo_graph, "kim", 50, None, None)
    read = {f for r in records if r.client_id == "privacy-page" for f in r.fields}
    assert {"Customer.consents", "Customer.dataAboutMe", "Customer.accessLog"} <= read
    assert "Customer.authorisedApps" in read and "Mutation.setConsent" in read
    assert {r.client_kind for r in records} == {"first_party"}
    assert "you, on this page read profile for service" in page
    # The consent changed on the page: its source, and the version the consent plugin passed.
    [change] = await consent_history(demo_graph, "kim", 5, "analytics")
    assert (change.granted, change.source, change.version) == (False, "page", "2026-12")


async def test_disabling_the_privacy_plugin_takes_the_page_away(demo_graph: Graph) -> None:
    settings = settings_for_tests(oauth_issuer=BASE, disabled_plugins=("tightrope-privacy",))
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        page = await http.get("/privacy")
        download = await http.get("/privacy/export.json")
    assert page.status_code == 404 and download.status_code == 404


@needs_chromium
async def test_devices_suggested_as_hers_are_confirmed_and_rejected_in_a_browser(
    demo_graph: Graph,
) -> None:
    import playwright.async_api as playwright_api

    from gateway.linking import Arrival, EventSignals
    from graph import parse_event, write_events
    from graph.pii import email_hmac
    from tests.conftest import TEST_PII_KEY
    from tests.gateway.conftest import linking_service

    typed = email_hmac("kim@example.test", TEST_PII_KEY)
    await demo_graph.write(
        "CREATE (:Customer {id: 'kim', created_at: datetime(), email_hmac: $h})", {"h": typed}
    )
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    await set_consent(demo_graph, "kim", "cross_device", True, source="api", version="t")
    # Her address was typed on a tablet and on a laptop (guest checkouts): each
    # is a suggestion, not a link.
    events = [
        parse_event({"event_id": f"typed-{d}", "type": "view", "at": "2026-11-24T19:30:00Z",
                     "session_id": f"{d}-visit", "device_id": d, "sku": "sku-001"})
        for d in ("kims-tablet", "strangers-laptop")
    ]  # fmt: skip
    assert (await write_events(demo_graph, events, pii_key=TEST_PII_KEY)).rejected == []
    arrivals = [Arrival(e, EventSignals(typed_email=typed)) for e in events]
    await linking_service().link(demo_graph, arrivals)
    ARTEFACTS.mkdir(exist_ok=True)
    async with running_gateway() as base, playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"{base}/privacy")
            await page.get_by_label("Email or customer number").fill("kim")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_selector("h2#suggested-h")
            listed = await page.locator("ul#suggested > li").all_inner_texts()
            await page.screenshot(path=ARTEFACTS / "privacy-5-suggested.png", full_page=True)
            assert len(listed) == 2
            assert all("Your email address was typed on this device" in item for item in listed)
            assert not any("sku-001" in item for item in listed)
            # The first is hers; the other is not.
            await page.get_by_role("button", name="This is mine").first.click()
            await page.wait_for_function(
                "document.querySelectorAll('ul#suggested > li').length == 1"
            )
            await page.get_by_role("button", name="Not mine").click()
            await page.wait_for_selector("h2#held-h")
            assert await page.locator("h2#suggested-h").count() == 0
            await page.screenshot(path=ARTEFACTS / "privacy-6-answered.png", full_page=True)
        finally:
            await browser.close()
    links = await demo_graph.read(
        "MATCH (d:Device)-[u:USED_BY]->(:Customer {id: 'kim'}) RETURN d.id AS d, u.method AS m"
    )
    said = await demo_graph.read(
        "MATCH (d:Device)-[t:UNLINKED]->(:Customer {id: 'kim'}) RETURN d.id AS d, t.method AS m"
    )
    assert len(links) == 1 and links[0]["m"] == "confirmed"
    assert len(said) == 1 and said[0]["m"] == "rejected"
    assert {links[0]["d"], said[0]["d"]} == {"kims-tablet", "strangers-laptop"}
