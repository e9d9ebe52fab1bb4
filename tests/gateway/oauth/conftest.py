"""An app with the OAuth endpoints over the real test Neo4j, driven through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.oauth import InvalidToken, OAuthService, oauth_routes
from gateway.oauth.clients import register_client
from gateway.oauth.passwords import hash_password
from gateway.settings import Settings, load_settings
from graph import Graph
from graph.oauth import set_password_hash

from .helpers import BASE, PASSWORD, Registered


async def whoami(request: Request) -> Response:
    """A protected resource: who the bearer token says is asking."""
    service: OAuthService = request.app.state.oauth
    try:
        p = await service.authenticate(request)
    except InvalidToken as exc:
        return JSONResponse(
            {"error": "invalid_token", "error_description": str(exc)},
            status_code=401,
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc}"'
            },
        )
    return JSONResponse(
        {
            "client_id": p.client_id,
            "client_kind": p.client_kind,
            "customer_id": p.customer_id,
            "scopes": sorted(p.scopes),
        }
    )


@pytest.fixture(scope="session")
def oauth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = tmp_path_factory.mktemp("oauth-keys")
    return load_settings(oauth_issuer=BASE, oauth_keys_dir=str(keys))


@pytest.fixture
async def app(clean_graph: Graph, oauth_settings: Settings) -> Starlette:
    app = Starlette(routes=[*oauth_routes(), Route("/whoami", whoami)])
    app.state.graph = clean_graph
    app.state.oauth = OAuthService(oauth_settings)
    return app


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def add_customer(graph: Graph, customer_id: str, password: str = PASSWORD) -> None:
    await graph.write("MERGE (:Customer {id: $id})", {"id": customer_id})
    await set_password_hash(graph, customer_id, hash_password(password), 0)


async def add_client(
    app: Starlette, kind: str, scopes: str, *, trusted: bool = False, name: str | None = None
) -> Registered:
    service: OAuthService = app.state.oauth
    redirect = f"https://{kind.replace('_', '-')}.example/callback"
    record, secret = await register_client(
        app.state.graph,
        service.catalogue,
        name=name or f"{kind} app",
        kind=kind,
        scopes=scopes.split(),
        redirect_uris=[redirect],
        trusted=trusted,
    )
    return Registered(record.client_id, secret, redirect)


@pytest.fixture
async def customer(clean_graph: Graph) -> str:
    await add_customer(clean_graph, "c-1")
    return "c-1"
