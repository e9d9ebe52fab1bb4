"""The OAuth service of one app: settings, keys, scope catalogue, both servers.

Handlers find it on ``app.state.oauth`` and the graph on ``app.state.graph``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from gateway.oauth.cookies import BrowserCookies
from gateway.oauth.grants import create_server
from gateway.oauth.keys import KeyStore
from gateway.oauth.login import password_sign_in
from gateway.oauth.resource import ResourceServer
from gateway.oauth.scopes import ScopeCatalogue
from gateway.oauth.server import AuthorizationServer, OAuthConfig
from gateway.principal import Principal
from gateway.settings import Settings
from graph import Graph

# How a customer is recognised on the sign-in form (the authenticate_customer hook).
CustomerAuthenticator = Callable[[Request, Graph], Awaitable[str | None]]


class OAuthService:
    """Everything OAuth one app needs: keys, catalogue, servers, page cookies."""

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
            liveness_ttl=settings.oauth_liveness_cache_seconds,
        )
        self.authenticate_customer = authenticate_customer
        # An app has one graph; the server is built for it on first use (and
        # again only if a test swaps the graph).
        self._server: AuthorizationServer | None = None
        self._cookies: BrowserCookies | None = None

    def server(self, graph: Graph) -> AuthorizationServer:
        server = self._server
        if server is None or server.graph is not graph:
            server = self._server = create_server(graph, self.keys, self.catalogue, self.config)
        return server

    @property
    def cookies(self) -> BrowserCookies:
        if self._cookies is None:
            secure = urlsplit(self.config.issuer).scheme == "https"
            self._cookies = BrowserCookies(self.keys.cookie_key(), secure)
        return self._cookies

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


def service_of(request: Request) -> tuple[OAuthService, AuthorizationServer]:
    service: OAuthService = request.app.state.oauth
    return service, service.server(request.app.state.graph)
