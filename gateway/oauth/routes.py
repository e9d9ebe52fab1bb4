"""The HTTP endpoints of the authorization server, and the service they share.

``/oauth/authorize`` (GET shows sign-in, then consent; POST handles either
form), ``/oauth/token``, ``/oauth/revoke`` (RFC 7009), ``/oauth/introspect``
(RFC 7662), ``/.well-known/oauth-authorization-server`` (RFC 8414) and
``/.well-known/jwks.json``. Handlers find the :class:`OAuthService` on
``app.state.oauth`` and the graph on ``app.state.graph``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.oauth.grants import create_server
from gateway.oauth.keys import KeyStore
from gateway.oauth.login import password_sign_in
from gateway.oauth.pages import (
    SECURITY_HEADERS,
    CookieSigner,
    consent_page,
    error_response,
    sign_in_page,
)
from gateway.oauth.resource import ResourceServer
from gateway.oauth.scopes import ScopeCatalogue, parse
from gateway.oauth.server import AuthorizationServer, HttpRequest, OAuthConfig, Subject
from gateway.principal import Principal
from gateway.settings import Settings
from graph import Graph, GraphUnavailable
from graph.oauth import merge_grant

# How a customer is recognised on the sign-in form (the authenticate_customer hook).
CustomerAuthenticator = Callable[[Request, Graph], Awaitable[str | None]]


class OAuthService:
    """Everything OAuth one app needs: keys, catalogue, servers, cookie signer."""

    def __init__(
        self,
        settings: Settings,
        catalogue: ScopeCatalogue | None = None,
        authenticate_customer: CustomerAuthenticator = password_sign_in,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or ScopeCatalogue()
        self.config = OAuthConfig(
            issuer=settings.oauth_issuer.rstrip("/"),
            audience=settings.oauth_audience or settings.oauth_issuer.rstrip("/"),
            access_token_ttl=settings.oauth_access_token_ttl,
            refresh_token_ttl=settings.oauth_refresh_token_ttl,
            code_ttl=settings.oauth_code_ttl,
        )
        # A retired key verifies for as long as any token it signed can live.
        self.keys = KeyStore(settings.oauth_keys_dir, retention=self.config.access_token_ttl + 60)
        self.resource = ResourceServer(
            self.keys,
            self.catalogue,
            issuer=self.config.issuer,
            audience=self.config.audience,
            external=settings.oauth_external_issuers,
        )
        self.authenticate_customer = authenticate_customer
        # An app has one graph; the server is built for it on first use (and
        # again only if a test swaps the graph).
        self._server: AuthorizationServer | None = None
        self._signer: CookieSigner | None = None

    def server(self, graph: Graph) -> AuthorizationServer:
        server = self._server
        if server is None or server.graph is not graph:
            server = self._server = create_server(graph, self.keys, self.catalogue, self.config)
        return server

    @property
    def signer(self) -> CookieSigner:
        if self._signer is None:
            secure = urlsplit(self.config.issuer).scheme == "https"
            self._signer = CookieSigner(self.keys.cookie_key(), secure)
        return self._signer

    async def authenticate(self, request: Request) -> Principal:
        """The gateway's ``authenticate(request)``: bearer token → Principal.

        Behind :class:`gateway.oauth.asgi.BearerTokens` the token was verified
        already and its Principal waits in the request's state.
        """
        checked = request.scope.get("state", {}).get("principal")
        if isinstance(checked, Principal):
            return checked
        return await self.resource.authenticate(request, request.app.state.graph)

    def metadata(self) -> dict[str, Any]:
        base = self.config.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "scopes_supported": sorted(self.catalogue.names),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            # RFC 9207: authorization responses carry ``iss`` (server.py).
            "authorization_response_iss_parameter_supported": True,
        }


def _service(request: Request) -> tuple[OAuthService, AuthorizationServer]:
    service: OAuthService = request.app.state.oauth
    return service, service.server(request.app.state.graph)


# ------------------------------------------------------------------ /oauth/authorize


async def authorize(request: Request) -> Response:
    try:
        return await _authorize(request)
    except GraphUnavailable:
        # Neither a crash nor the client's fault: tell the customer to retry.
        return error_response(
            "temporarily_unavailable",
            "Sign-in is unavailable for a moment. Please try again shortly.",
            status=503,
        )


async def _authorize(request: Request) -> Response:
    service, server = _service(request)
    # The authorization request travels in the query string on every step; the
    # forms' own fields (csrf, action, ticked scopes) are read separately.
    http = HttpRequest.read_query(request)
    try:
        grant = await server.run(server.get_consent_grant, http, None)
    except OAuth2Error as error:
        if error.redirect_uri:
            # The client and its redirect URI are known good: tell the client.
            return await server.run(server.handle_error_response, None, error)
        # Never redirect to an unverified URI: show the customer the problem.
        return error_response(error.error, error.get_error_description() or "")
    client = grant.request.client
    requested = parse(grant.request.scope)
    signer = service.signer
    customer = signer.session_customer(request)

    if request.method == "POST":
        form = await request.form()
        token = form.get("csrf_token")
        if not signer.csrf_ok(request, token if isinstance(token, str) else None):
            return error_response(
                "invalid_request", "This form expired or was not sent by this site. Start again."
            )
        action = form.get("action")
        if action == "sign_in":
            signed_in = await service.authenticate_customer(request, request.app.state.graph)
            if signed_in is None:
                typed = form.get("customer")
                return signer.page(
                    request,
                    sign_in_page(
                        client.record.name,
                        "That customer number and password do not match.",
                        typed if isinstance(typed, str) else "",
                    ),
                    status=401,
                )
            # Back to the same authorization request, as a relative URL: the
            # Host header never decides where a signed-in customer is sent.
            back = f"{request.url.path}?{request.url.query}"
            response = RedirectResponse(back, status_code=303)
            signer.set_session(response, signed_in)
            return response
        if customer is None:
            return signer.page(request, sign_in_page(client.record.name), status=401)
        if action == "deny":
            return await server.run(
                server.create_authorization_response, grant.request, None, grant
            )
        if action == "approve":
            ticked = {s for s in form.getlist("grant_scope") if isinstance(s, str)}
            approved = [s for s in requested if s in ticked]
            if not approved:
                return await server.run(
                    server.create_authorization_response, grant.request, None, grant
                )
            return await _issue_code(server, grant, customer, approved)
        return error_response("invalid_request", "Unknown action.")

    if customer is None:
        # A retailer's single sign-on may recognise the customer without a form.
        customer = await service.authenticate_customer(request, request.app.state.graph)
    if customer is None:
        return signer.page(request, sign_in_page(client.record.name))
    if client.trusted:
        return await _issue_code(server, grant, customer, requested)
    return signer.page(
        request,
        consent_page(
            client.record.name,
            customer,
            requested,
            {name: service.catalogue[name].description for name in requested},
        ),
    )


async def _issue_code(
    server: AuthorizationServer, grant: Any, customer_id: str, scopes: list[str]
) -> Response:
    """Record the customer's grant and redirect to the client with a code."""
    client = grant.request.client
    await merge_grant(server.graph, customer_id, client.client_id, scopes, int(time.time()))
    subject = Subject(customer_id, uuid.uuid4().hex, new_family=True, approved=tuple(scopes))
    response: Response = await server.run(
        server.create_authorization_response, grant.request, subject, grant
    )
    response.headers.update(SECURITY_HEADERS)
    return response


# ------------------------------------------------------------------ token endpoints


# A single-page app on another origin calls the token, revocation and key
# endpoints from the browser. They use no cookies (a code needs its PKCE
# verifier, a client its secret), so any origin may call them; credentials are
# never allowed cross-origin, and /oauth/authorize (which has cookies) sends no
# CORS headers at all.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


async def _answer(server: AuthorizationServer, work: Any, *args: Any) -> Response:
    try:
        response: Response = await server.run(work, *args)
    except OAuth2Error as error:
        # Raised before authlib's own handling starts: a plain-http request URL
        # off loopback (insecure_transport). Answer it like any OAuth error.
        response = server.handle_error_response(None, error)
    except GraphUnavailable:
        # RFC 6749 has no token-endpoint code for this; clients that know the
        # authorization endpoint's "temporarily_unavailable" will retry.
        response = JSONResponse(
            {"error": "temporarily_unavailable"},
            status_code=503,
            headers={"Cache-Control": "no-store", "Retry-After": "1"},
        )
    response.headers.update(CORS_HEADERS)
    return response


async def token(request: Request) -> Response:
    _, server = _service(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_token_response, http)


async def revoke(request: Request) -> Response:
    _, server = _service(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_endpoint_response, "revocation", http)


async def introspect(request: Request) -> Response:
    _, server = _service(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_endpoint_response, "introspection", http)


async def metadata(request: Request) -> Response:
    service: OAuthService = request.app.state.oauth
    return JSONResponse(service.metadata(), headers=CORS_HEADERS)


async def jwks(request: Request) -> Response:
    service: OAuthService = request.app.state.oauth
    headers = {"Cache-Control": "public, max-age=300", **CORS_HEADERS}
    return JSONResponse(service.keys.jwks(), headers=headers)


def oauth_routes() -> list[Route]:
    return [
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/token", preflight, methods=["OPTIONS"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/revoke", preflight, methods=["OPTIONS"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
