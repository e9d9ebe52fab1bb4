"""The consent page in a real browser: sign in, untick a scope, allow, land with a code.

Runs the whole gateway under uvicorn on 127.0.0.1 and drives headless Chromium
with Playwright. Skipped where Chromium or Playwright is not installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from gateway import create_app
from graph import Graph
from tests.gateway.conftest import settings_for_tests

from .conftest import PASSWORD, add_customer
from .helpers import authorize_url, pkce_pair, query_of

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A developer without Chromium may skip this; CI installs it and must run it.
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"), reason="no Chromium"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_gateway() -> AsyncIterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # This test is about the pages, not about timeouts: on a loaded CI machine the
    # first reads of a cold graph can take longer than the one-second default.
    app = create_app(settings_for_tests(oauth_issuer=base, neo4j_timeout=10.0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def test_customer_unticks_a_scope_in_the_browser_and_the_app_gets_less(
    demo_graph: Graph,
) -> None:
    import playwright.async_api as playwright_api

    from gateway.oauth.clients import register_client
    from gateway.oauth.scopes import ScopeCatalogue

    await add_customer(demo_graph, "c1")
    verifier, challenge = pkce_pair()
    async with running_gateway() as base, playwright_api.async_playwright() as p:
        # The app's callback is on loopback too (it answers 404: only the URL matters).
        redirect = f"{base}/budget-buddy/callback"
        record, secret = await register_client(
            demo_graph,
            ScopeCatalogue(),
            name="Budget Buddy",
            kind="third_party",
            scopes=["profile:read", "purchases:read"],
            redirect_uris=[redirect],
        )
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            url = base + authorize_url(
                record.client_id, redirect, "profile:read purchases:read", challenge
            )
            await page.goto(url)
            sign_in = page.locator("form#sign-in")
            if not await sign_in.count():
                raise AssertionError(f"no sign-in form; the page said: {await page.content()}")
            await page.get_by_label("Email or customer number").fill("c1")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            try:
                await page.wait_for_selector("form#consent")
            except playwright_api.TimeoutError as exc:
                shown = await page.content()
                raise AssertionError(f"no consent form; the page said: {shown}") from exc
            assert await page.get_by_text("what you have bought").is_visible()
            await page.locator('input[value="purchases:read"]').uncheck()
            async with page.expect_navigation(url=f"{redirect}?**"):
                await page.get_by_role("button", name="Allow").click()
            landed = page.url
        finally:
            await browser.close()

        params = query_of(landed)
        assert params["state"] == "xyz"
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": params["code"],
                    "redirect_uri": redirect,
                    "code_verifier": verifier,
                },
                auth=(record.client_id, secret or ""),
            )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "profile:read"
