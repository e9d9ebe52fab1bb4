"""The HTTP endpoints of the authorization server.

``/oauth/authorize`` (authorize.py), ``/oauth/token``, ``/oauth/revoke``
(RFC 7009), ``/oauth/introspect`` (RFC 7662),
``/.well-known/oauth-authorization-server`` (RFC 8414) and
``/.well-known/jwks.json``. Handlers find the :class:`OAuthService` on
``app.state.oauth`` and the graph on ``app.state.graph``.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.oauth.authorize import authorize
from gateway.oauth.server import AuthorizationServer, HttpRequest
from gateway.oauth.service import CustomerAuthenticator, OAuthService, service_of
from graph import GraphUnavailable

__all__ = ["CustomerAuthenticator", "OAuthService", "oauth_routes"]


# ------------------------------------------------------------------ token endpoints


# A single-page app on another origin calls the token and revocation endpoints
# and reads the two .well-known documents from the browser. They use no cookies
# (a code needs its PKCE verifier, a client its secret), so any origin may call
# them; credentials are never allowed cross-origin. /oauth/authorize (which has
# cookies) sends no CORS headers at all, and neither does /oauth/introspect:
# only a confidential client's server, holding its secret, may introspect.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


async def _answer(
    server: AuthorizationServer, work: Any, *args: Any, cors: bool = True
) -> Response:
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
    if cors:
        response.headers.update(CORS_HEADERS)
    return response


async def token(request: Request) -> Response:
    _, server = service_of(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_token_response, http)


async def revoke(request: Request) -> Response:
    _, server = service_of(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_endpoint_response, "revocation", http)


async def introspect(request: Request) -> Response:
    _, server = service_of(request)
    http = await HttpRequest.read(request)
    return await _answer(server, server.create_endpoint_response, "introspection", http, cors=False)


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
