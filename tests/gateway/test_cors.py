"""A shop's page on another origin calls /graphql from a real browser; other origins cannot.

The gateway and two pages (the shop's allowed origin, and a stranger's) run
under uvicorn on 127.0.0.1, each on its own port, so each is its own origin;
headless Chromium loads a page and runs its ``fetch``. Skipped where Chromium
or Playwright is not installed (CI installs both).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway import create_app
from graph import Graph
from tests.gateway.conftest import authenticate_for_tests, settings_for_tests
from tests.gateway.oauth.test_browser import ARGS, CHROMIUM, free_port

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"), reason="no Chromium"
)

QUERY = '{ product(sku: "sku-002") { name } }'

# What a shop's script does: a JSON POST (which needs a preflight) with a
# header of its own, reading the answer and an exposed response header.
CALL = """async ([url, query, credentials]) => {
  try {
    const r = await fetch(url + "/graphql", {
      method: "POST",
      credentials,
      headers: {"Content-Type": "application/json", "X-Request-ID": "from-the-shop"},
      body: JSON.stringify({query}),
    });
    return {status: r.status, body: await r.json(), requestId: r.headers.get("x-request-id")};
  } catch (e) {
    return {error: String(e)};
  }
}"""


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>shop</title><p>a page</p>")


@asynccontextmanager
async def origins() -> AsyncIterator[tuple[str, str]]:
    """Two pages, each on its own origin: the shop's and a stranger's."""
    site = Starlette(routes=[Route("/", page)])
    async with running(site) as shop, running(site) as stranger:
        yield shop, stranger


@asynccontextmanager
async def gateway_allowing(origin: str, **settings: Any) -> AsyncIterator[str]:
    app = create_app(
        settings_for_tests(cors_origins=(origin,), **settings),
        authenticate=authenticate_for_tests,
    )
    async with running(app) as url:
        yield url


async def fetch_from(browser: Any, origin: str, gateway: str, credentials: str = "omit") -> Any:
    tab = await browser.new_page()
    try:
        await tab.goto(origin + "/")
        return await tab.evaluate(CALL, [gateway, QUERY, credentials])
    finally:
        await tab.close()


async def test_a_page_on_an_allowed_origin_calls_graphql_and_others_cannot(
    demo_graph: Graph,
) -> None:
    import playwright.async_api as playwright_api

    async with (
        origins() as (shop, stranger),
        gateway_allowing(shop) as api,
        playwright_api.async_playwright() as p,
    ):
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            allowed = await fetch_from(browser, shop, api)
            refused = await fetch_from(browser, stranger, api)
            # Credentials are off by default: a page asking to send cookies is refused.
            with_cookies = await fetch_from(browser, shop, api, credentials="include")
        finally:
            await browser.close()
    assert allowed == {
        "status": 200,
        "body": {"data": {"product": {"name": "Trail Runner 2"}}},
        "requestId": "from-the-shop",
    }
    assert "Failed to fetch" in refused["error"]
    assert "Failed to fetch" in with_cookies["error"]


async def test_the_preflight_names_exactly_the_origin_and_is_cached(graph: Graph) -> None:
    shop = "https://shop.example"
    app = create_app(settings_for_tests(cors_origins=(shop, "https://m.shop.example")))
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            ok = await http.options("/graphql", headers={"Origin": shop, **preflight})
            evil = await http.options(
                "/graphql", headers={"Origin": "https://shop.example.evil.test", **preflight}
            )
            posted = await http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"Origin": shop}
            )
            stranger = await http.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"Origin": "https://evil.test"},
            )
            token = await http.options(
                "/oauth/token",
                headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
            )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == shop
    assert ok.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in ok.headers
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    assert posted.headers["access-control-allow-origin"] == shop
    assert "x-request-id" in posted.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers
    assert json.loads(stranger.text)["data"] == {"__typename": "Query"}  # not a browser: served
    # The OAuth endpoints keep their own rules (any origin, no credentials).
    assert token.headers.get("access-control-allow-origin") == "*"


@pytest.mark.parametrize(
    "origin",
    ["*", "https://*.shop.example", "https://shop.example/", "https://shop.example/app", "shop"],
)
def test_only_exact_origins_are_accepted(origin: str) -> None:
    from gateway.settings import SettingsError

    with pytest.raises(SettingsError, match="cors_origins"):
        settings_for_tests(cors_origins=(origin,))
