"""While Neo4j is down the authorization server says "try again", never a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gateway.oauth import OAuthService, oauth_routes
from gateway.settings import Settings
from graph import Neo4jSettings, connect

from .helpers import BASE, Registered, authorize_url_for


@pytest.fixture
async def http(oauth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on port 1: every graph call raises GraphUnavailable.
    graph = connect(Neo4jSettings("bolt://127.0.0.1:1", "neo4j", "unused", timeout=0.5))
    app = Starlette(routes=oauth_routes())
    app.state.graph = graph
    app.state.oauth = OAuthService(oauth_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client
    finally:
        await graph.close()


async def test_token_revoke_and_introspect_answer_503_temporarily_unavailable(
    http: httpx.AsyncClient,
) -> None:
    auth = ("some-client", "some-secret")
    for path, form in (
        ("/oauth/token", {"grant_type": "client_credentials"}),
        ("/oauth/revoke", {"token": "whatever"}),
        ("/oauth/introspect", {"token": "whatever"}),
    ):
        answer = await http.post(path, data=form, auth=auth)
        assert answer.status_code == 503, (path, answer.text)
        assert answer.json() == {"error": "temporarily_unavailable"}


async def test_the_authorize_page_says_try_again(http: httpx.AsyncClient) -> None:
    client = Registered("some-client", None, "https://public.example/callback")
    page = await http.get(authorize_url_for(client, "profile:read"))
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "try again" in page.text
