"""Registered clients: creating them, and what authlib needs to know about them.

Kinds (docs/design.md): ``first_party`` — the retailer's own frontends and services,
confidential, may be trusted to skip the consent page, the only kind that may
use client credentials or hold ``customers:read``; ``third_party`` — another
company's app, confidential, always asks the customer; ``public`` — an app that
cannot keep a secret (single-page or mobile), no secret, PKCE required.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from gateway.oauth.scopes import ScopeCatalogue, join, parse
from graph import Graph
from graph.oauth import ClientRecord, create_client

KINDS = ("first_party", "third_party", "public")
CONFIDENTIAL_AUTH = ("client_secret_basic", "client_secret_post")


class ClientError(ValueError):
    """A client registration was refused; the message says why."""


def hash_secret(secret: str) -> str:
    # Client secrets are 256 random bits, so a fast hash is as good as a slow
    # one here (unlike passwords) and keeps the token endpoint cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if (
        parts.fragment
        or not parts.scheme
        or not (parts.netloc or parts.scheme not in ("http", "https"))
    ):
        raise ClientError(f"redirect URI {uri!r} must be absolute and have no fragment")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ClientError(f"redirect URI {uri!r} must use https (http only on loopback)")
    return uri


async def register_client(
    graph: Graph,
    catalogue: ScopeCatalogue,
    *,
    name: str,
    kind: str,
    scopes: Iterable[str],
    redirect_uris: Iterable[str] = (),
    trusted: bool = False,
) -> tuple[ClientRecord, str | None]:
    """Create a client; return it and its secret (None for public clients), shown once."""
    if kind not in KINDS:
        raise ClientError(f"kind must be one of {', '.join(KINDS)}")
    if trusted and kind != "first_party":
        raise ClientError("only first_party clients can be trusted to skip consent")
    try:
        wanted = catalogue.check(scopes)
    except ValueError as exc:
        raise ClientError(str(exc)) from exc
    forbidden = wanted - catalogue.allowed_for(kind)
    if forbidden:
        raise ClientError(f"a {kind} client cannot hold {join(forbidden)}")
    uris = tuple(check_redirect_uri(u) for u in redirect_uris)
    secret = None if kind == "public" else secrets.token_urlsafe(32)
    record = ClientRecord(
        client_id=new_client_id(),
        name=name,
        kind=kind,
        allowed_scopes=tuple(sorted(wanted)),
        redirect_uris=uris,
        secret_hash=hash_secret(secret) if secret else None,
        trusted=trusted,
    )
    await create_client(graph, record, int(time.time()))
    return record, secret


def new_client_id() -> str:
    """A fresh client id: hex, because operators paste it into commands, where a
    URL-safe id that starts with '-' would be read as an option."""
    return secrets.token_hex(16)


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A stored client as authlib's grants and endpoints see it."""

    def __init__(self, record: ClientRecord, catalogue: ScopeCatalogue) -> None:
        self.record = record
        self.client_id = record.client_id
        # What it may hold now: its registration, minus anything its kind may not hold.
        self.allowed = frozenset(record.allowed_scopes) & catalogue.allowed_for(record.kind)

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def trusted(self) -> bool:
        return self.record.trusted and self.kind == "first_party"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.record.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: all allowed when none is asked; None (refused) when
        anything outside the allowed set is asked for."""
        if not scope:
            return join(self.allowed)
        wanted = set(parse(scope))
        if not wanted <= self.allowed:
            return None
        return join(wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison: no prefix, no normalisation, no wildcards.
        return redirect_uri in self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.record.secret_hash
        return stored is not None and hmac.compare_digest(stored, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.kind == "public":
            return method == "none"
        return method in CONFIDENTIAL_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return self.kind == "first_party"
        return grant_type in ("authorization_code", "refresh_token")
