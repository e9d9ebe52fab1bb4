"""authlib's authorization server, adapted to Starlette and to an async graph.

authlib's server classes are framework-independent but synchronous, while the
graph is async. A route therefore reads everything from the HTTP request first
(``await request.form()``), then runs authlib in a worker thread
(:meth:`AuthorizationServer.run`); whenever authlib asks for stored data, the
storage methods hop back onto the event loop with ``anyio.from_thread.run``.
The token endpoint is not a hot path, so a thread per request is cheap enough,
and authlib's validation order stays exactly as its authors wrote it.

This module does what authlib's Flask integration does for Flask: wrap the
request, build the response, generate and save tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidScopeError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth import tokens
from gateway.oauth.clients import OAuthClient
from gateway.oauth.keys import KeyStore
from gateway.oauth.scopes import ScopeCatalogue, parse
from graph import Graph
from graph.oauth import FamilyRecord, create_family, get_client, save_refresh

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class OAuthConfig:
    issuer: str
    audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    code_ttl: int


@dataclass(frozen=True)
class Subject:
    """Whom tokens are issued for, and the family they join.

    ``customer_id`` is None for client-credentials tokens. ``new_family`` is true
    when the token response starts a family (code exchange, client credentials)
    and false when it continues one (refresh).
    """

    customer_id: str | None
    family_id: str
    new_family: bool
    # The scopes the customer approved on the consent page (may be fewer than asked).
    approved: tuple[str, ...] | None = None


def digest(secret: str) -> str:
    """How codes and refresh tokens are stored: a hash, never the value."""
    return hashlib.sha256(secret.encode()).hexdigest()


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class HttpRequest:
    """Everything authlib may read from a request, read before authlib runs."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    form: tuple[tuple[str, str], ...]

    @classmethod
    def read_query(cls, request: Request) -> HttpRequest:
        """Only the query string: the authorization request, whatever the method."""
        return cls(
            method="GET",
            url=str(request.url),
            headers=request.headers,
            query=tuple(request.query_params.multi_items()),
            form=(),
        )

    @classmethod
    async def read(cls, request: Request) -> HttpRequest:
        form: tuple[tuple[str, str], ...] = ()
        if request.method == "POST":
            data = await request.form()
            form = tuple((k, v) for k, v in data.multi_items() if isinstance(v, str))
        return cls(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            query=tuple(request.query_params.multi_items()),
            form=form,
        )


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, http: HttpRequest) -> None:
        # Like Flask's request.values: query parameters, then form fields.
        merged: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in (*http.query, *http.form):
            merged[key].append(value)
        self._datalist = merged
        self._data = {key: values[0] for key, values in merged.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, http: HttpRequest) -> None:
        super().__init__(method=http.method, uri=http.url, headers=http.headers)
        self._args = dict(reversed(http.query))
        self._form = dict(reversed(http.form))
        self.payload = _Payload(http)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class StarletteJsonRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, http: HttpRequest) -> None:
        super().__init__(http.method, http.url, http.headers)
        self.payload = _JsonPayload(dict(http.form))


# ------------------------------------------------------------------ the server


class AuthorizationServer(_AuthorizationServer):  # type: ignore[misc]
    """The embedded authorization server. Grants are registered by grants.py."""

    def __init__(
        self, graph: Graph, keys: KeyStore, catalogue: ScopeCatalogue, config: OAuthConfig
    ) -> None:
        super().__init__(scopes_supported=sorted(catalogue.names))
        self.graph = graph
        self.keys = keys
        self.catalogue = catalogue
        self.config = config
        self.register_token_generator("default", self.generate_bearer_token)

    # -- crossing between the event loop and authlib's thread

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run synchronous authlib work in a worker thread."""
        return await anyio.to_thread.run_sync(work, *args)

    def call(self, coro: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """From authlib's thread, await a graph function on the event loop."""
        return anyio.from_thread.run(coro, *args)

    # -- what authlib asks of a framework integration

    def query_client(self, client_id: str) -> OAuthClient | None:
        record = self.call(get_client, self.graph, client_id)
        return OAuthClient(record, self.catalogue) if record else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        subject: Subject = request.user
        now = int(time.time())
        # A family lives as long as its longest-lived token: without a refresh
        # token (client_credentials), that is the access token.
        if "refresh_token" in token:
            lifetime = self.config.refresh_token_ttl
        else:
            lifetime = int(token.get("expires_in") or self.config.access_token_ttl)
        if subject.new_family:
            family = FamilyRecord(
                id=subject.family_id,
                client_id=request.client.client_id,
                customer_id=subject.customer_id,
                scopes=tuple(parse(token.get("scope"))),
                expires_at=now + lifetime,
                revoked_at=None,
            )
            self.call(create_family, self.graph, family, now)
        if "refresh_token" in token:
            self.call(
                save_refresh,
                self.graph,
                digest(token["refresh_token"]),
                subject.family_id,
                now + self.config.refresh_token_ttl,
                now,
            )

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return StarletteOAuth2Request(request)

    def create_json_request(self, request: Any) -> JsonRequest:
        return StarletteJsonRequest(request)

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        body = json.dumps(payload) if isinstance(payload, dict) else (payload or "")
        fields = dict(headers or [])
        if "Location" in fields:
            # Only authorization responses redirect (to the client, with a code
            # or an error). RFC 9207: every one names the issuer, so a client
            # that talks to several servers can tell which one answered and a
            # mix-up attack fails. (authlib's IssuerParameter hook is never run
            # by its AuthorizationServer, hence here.)
            fields["Location"] = add_params_to_uri(fields["Location"], {"iss": self.config.issuer})
        return Response(body, status_code=status_code, headers=fields)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        # No signal bus here; the access log is the gateway's business.
        log.debug("oauth signal %s", name)

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope and not set(parse(scope)) <= self.catalogue.names:
            raise InvalidScopeError("unknown scope requested")

    # -- tokens

    def generate_bearer_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Subject | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert user is not None, "grants always name a Subject"
        scopes = parse(scope)
        if user.customer_id is not None:
            # A customer's token speaks for that customer alone: never the back
            # office's scopes, whatever the grant, the client or the request says.
            scopes = self.catalogue.for_customer(scopes)
        ttl = expires_in or self.config.access_token_ttl
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": tokens.issue(
                self.keys,
                issuer=self.config.issuer,
                audience=self.config.audience,
                client_id=client.client_id,
                subject=user.customer_id or client.client_id,
                scopes=scopes,
                family_id=user.family_id,
                ttl=ttl,
            ),
            "expires_in": ttl,
            "scope": " ".join(sorted(scopes)),
        }
        if include_refresh_token and user.customer_id is not None:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token
