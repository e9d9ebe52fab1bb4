"""OAuth inside the served gateway: tokens at /graphql, grants as fields, the sign-in hook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from gateway import create_app, hookimpl
from graph import Graph
from tests.gateway.conftest import grant, settings_for_tests

from .conftest import PASSWORD, add_client, add_customer
from .helpers import (
    BASE,
    authorize_url_for,
    bearer,
    bearer_for,
    forms,
    query_of,
    refresh,
    tokens_for,
)


@asynccontextmanager
async def gateway(
    plugins: tuple[object, ...] = (), **settings: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The real app (installed plugins, bearer tokens verified), served in process."""
    app = create_app(settings_for_tests(oauth_issuer=BASE, **settings), plugins)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield app, http


async def gql(http: httpx.AsyncClient, query: str, token: str | None) -> httpx.Response:
    headers = bearer(token) if token else {}
    return await http.post("/graphql", json={"query": query}, headers=headers)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_a_third_party_app_reads_only_what_the_customer_granted(demo_graph: Graph) -> None:
    await add_customer(demo_graph, "c1")
    # Scopes and third-party sharing both: without the consent it reads nothing
    # personal (tests/gateway/test_consent.py).
    await grant(demo_graph, "c1", "third_party_sharing")
    async with gateway() as (app, http):
        client = await add_client(app, "third_party", "profile:read devices:read")
        tokens = await tokens_for(
            http, client, "profile:read devices:read", "c1", untick={"devices:read"}
        )
        answer = await gql(http, "{ me { id createdAt devices { id } } }", tokens.access_token)
    body = answer.json()
    assert answer.status_code == 200
    assert body["data"]["me"]["id"] == "c1"
    assert body["data"]["me"]["createdAt"]
    assert body["data"]["me"]["devices"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["me", "devices"]
    assert "devices:read" in error["message"]


async def test_a_bad_token_at_graphql_is_refused_with_401(demo_graph: Graph) -> None:
    async with gateway() as (_, http):
        answer = await gql(http, "{ products { nodes { sku } } }", "not.a.token")
        anonymous = await gql(http, "{ products(first: 1) { nodes { sku } } }", None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert codes(answer.json()) == ["UNAUTHENTICATED"]
    assert anonymous.status_code == 200
    assert anonymous.json()["data"]["products"]["nodes"]


async def test_the_dev_header_no_longer_stands_in_for_a_token(demo_graph: Graph) -> None:
    async with gateway() as (_, http):
        answer = await http.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"X-Tightrope-Dev-Customer": "c1"}
        )
    assert codes(answer.json()) == ["UNAUTHENTICATED"]


async def test_me_needs_a_customer_bound_token(demo_graph: Graph) -> None:
    async with gateway() as (app, http):
        service_token = await bearer_for(app, None, {"profile:read", "customers:read"})
        answer = await gql(http, "{ me { id } }", service_token)
        by_id = await gql(http, '{ customer(id: "c1") { id } }', service_token)
    assert codes(answer.json()) == ["UNAUTHENTICATED"]
    assert by_id.json()["data"]["customer"]["id"] == "c1"


async def test_customer_by_id_needs_customers_read_which_third_parties_never_hold(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway() as (app, http):
        client = await add_client(app, "third_party", "profile:read")
        tokens = await tokens_for(http, client, "profile:read", "c1")
        answer = await gql(http, '{ customer(id: "c1") { id } }', tokens.access_token)
        # Even a forged grant in the graph cannot give a third party customers:read.
        await demo_graph.write(
            "MATCH (c:Client {client_id: $id}) "
            "SET c.allowed_scopes = c.allowed_scopes + 'customers:read'",
            {"id": client.client_id},
        )
        again = await gql(http, '{ customer(id: "c1") { id } }', tokens.access_token)
    assert answer.json()["data"]["customer"] is None
    assert codes(answer.json()) == ["FORBIDDEN"]
    assert codes(again.json()) == ["FORBIDDEN"]


async def test_customer_sees_and_revokes_an_app_and_its_tokens_fail_at_once(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway() as (app, http):
        third = await add_client(app, "third_party", "profile:read", name="Budget Buddy")
        tokens = await tokens_for(http, third, "profile:read", "c1")
        dashboard = await bearer_for(app, "c1", {"apps:read", "apps:write"})
        listed = await gql(
            http, "{ me { authorisedApps { client clientName scopes grantedAt } } }", dashboard
        )
        [entry] = listed.json()["data"]["me"]["authorisedApps"]
        assert entry["client"] == third.client_id
        assert entry["clientName"] == "Budget Buddy"
        assert entry["scopes"] == ["profile:read"]
        assert entry["grantedAt"]
        assert (await gql(http, "{ me { id } }", tokens.access_token)).status_code == 200

        revoked = await gql(
            http, f'mutation {{ revokeApp(clientId: "{third.client_id}") }}', dashboard
        )
        assert revoked.json()["data"]["revokeApp"] is True

        after = await gql(http, "{ me { id } }", tokens.access_token)
        assert after.status_code == 401
        refreshed = await refresh(http, third, tokens.refresh_token)
        assert refreshed.json()["error"] == "invalid_grant"
        listed = await gql(http, "{ me { authorisedApps { client } } }", dashboard)
        assert listed.json()["data"]["me"]["authorisedApps"] == []


async def test_third_parties_cannot_ask_to_see_or_revoke_apps(demo_graph: Graph) -> None:
    async with gateway() as (app, _):
        from gateway.oauth.clients import ClientError

        try:
            await add_client(app, "third_party", "apps:read")
        except ClientError as exc:
            assert "apps:read" in str(exc)
        else:
            raise AssertionError("a third party was allowed apps:read")


class SingleSignOn:
    """A retailer's SSO: trusts a header its own proxy sets (a test stand-in)."""

    @hookimpl
    def authenticate_customer(self, request: Request, graph: Graph) -> str | None:
        return request.headers.get("X-Retailer-SSO") or None


async def test_hook_authenticate_customer_lets_a_plugin_sign_customers_in(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(plugins=(SingleSignOn(),)) as (app, http):
        client = await add_client(app, "third_party", "profile:read")
        url = authorize_url_for(client, "profile:read")
        via_sso = await http.get(url, headers={"X-Retailer-SSO": "c1"})
        assert via_sso.status_code == 200
        assert forms(via_sso.text)[0].checkboxes  # straight to consent: no sign-in form
        assert "customer c1" in via_sso.text

    # Without the header the plugin passes (None) and the built-in password login answers.
    async with gateway(plugins=(SingleSignOn(),)) as (app, http):
        client = await add_client(app, "public", "profile:read")
        tokens = await tokens_for(http, client, "profile:read", "c1")
        assert (await gql(http, "{ me { id } }", tokens.access_token)).json()["data"]["me"]


class AsyncSingleSignOn:
    """The same SSO written as ``async def``: its None is a coroutine until awaited."""

    @hookimpl
    async def authenticate_customer(self, request: Request) -> str | None:
        return request.headers.get("X-Retailer-SSO") or None


async def test_an_async_sign_in_plugin_that_passes_leaves_the_password_login(
    demo_graph: Graph,
) -> None:
    await add_customer(demo_graph, "c1")
    async with gateway(plugins=(AsyncSingleSignOn(),)) as (app, http):
        client = await add_client(app, "public", "profile:read")
        via_sso = await http.get(
            authorize_url_for(client, "profile:read"), headers={"X-Retailer-SSO": "c1"}
        )
        assert "customer c1" in via_sso.text
        # No header: the async plugin answers None and the password form still signs in.
        tokens = await tokens_for(http, client, "profile:read", "c1")
        assert (await gql(http, "{ me { id } }", tokens.access_token)).json()["data"]["me"]


async def test_metadata_is_valid_rfc8414(demo_graph: Graph) -> None:
    from authlib.oauth2 import rfc9207
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    async with gateway() as (_, http):
        body = (await http.get("/.well-known/oauth-authorization-server")).json()
    AuthorizationServerMetadata(body).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata]
    )
    assert body["issuer"] == BASE
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "apps:read" in body["scopes_supported"]


async def test_a_code_redeemed_at_the_gateway_query_string(demo_graph: Graph) -> None:
    """The redirect carries code, state and the issuer (RFC 9207), nothing else."""
    await add_customer(demo_graph, "c1")
    async with gateway() as (app, http):
        client = await add_client(app, "first_party", "profile:read", trusted=True)
        url = authorize_url_for(client, "profile:read")
        page = await http.get(url)
        form = forms(page.text)[0]
        posted = await http.post(url, data=form.fields | {"customer": "c1", "password": PASSWORD})
        landed = await http.get(posted.headers["location"])
    assert set(query_of(landed.headers["location"])) == {"code", "state", "iss"}
