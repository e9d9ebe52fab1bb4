"""The resource server: every request's bearer token becomes a Principal.

Our own tokens are checked in two steps. The signature and claims (algorithm
from an allowlist, ``typ``, ``iss``, ``aud``, ``exp``, ``nbf``) are checked in
memory. Then one indexed graph read confirms that the token's family is alive
and its client still exists: that read is what makes ``revokeApp`` and
``/oauth/revoke`` bite on the very next request, and it also caps the scopes at
what the client is allowed *now*.

Tokens from external issuers (setting ``oauth_external_issuers``) are verified
against the issuer's JWKS, fetched over HTTPS and cached; their scopes come
from a configurable claim. They cannot be revoked here: their lifetime is the
issuer's business. Their client is the issuer's, never one of ours: its id is
namespaced by the issuer (``https://idp.example#mobile``), so a token that names
a local client's id gets none of that client's allowlist, access-log name or
rate bucket.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request

from gateway.oauth import tokens
from gateway.oauth.keys import KeyStore
from gateway.oauth.liveness import Liveness
from gateway.oauth.scopes import ScopeCatalogue
from gateway.oauth.tokens import InvalidToken
from gateway.principal import ANONYMOUS, ClientKind, Principal
from gateway.settings import ExternalIssuer
from graph import Graph

JWKS_TTL = 300.0  # seconds an external issuer's keys are trusted without refetching
JWKS_MIN_REFETCH = 30.0  # an unknown kid refetches at most this often


@dataclass
class _Jwks:
    keys: KeySet | None = None
    fetched_at: float = 0.0
    kids: frozenset[str] = field(default_factory=frozenset)


class ResourceServer:
    def __init__(
        self,
        keys: KeyStore,
        catalogue: ScopeCatalogue,
        *,
        issuer: str,
        audience: str,
        external: Iterable[ExternalIssuer] = (),
        http: httpx.AsyncClient | None = None,
        liveness_ttl: float = 0.0,
    ) -> None:
        self.keys = keys
        self.catalogue = catalogue
        self.issuer = issuer
        self.audience = audience
        self.external = {e.issuer: e for e in external}
        self._http = http
        self._jwks: dict[str, _Jwks] = {}
        self.liveness = Liveness(liveness_ttl)
        self.verified = tokens.VerifiedTokens()

    async def authenticate(self, request: Request, graph: Graph) -> Principal:
        """The request's Principal: anonymous without a token; InvalidToken if it is bad."""
        header = request.headers.get("authorization")
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("expected 'Authorization: Bearer <token>'")
        return await self.verify(token.strip(), graph)

    async def verify(self, token: str, graph: Graph) -> Principal:
        issuer = tokens.unverified_claims(token).get("iss")
        if issuer == self.issuer:
            return await self._own(token, graph)
        if isinstance(issuer, str) and issuer in self.external:
            return await self._external(token, self.external[issuer])
        raise InvalidToken("unknown issuer")

    async def _own(self, token: str, graph: Graph) -> Principal:
        claims = self.verified.verify(self.keys, token, issuer=self.issuer, audience=self.audience)
        if claims.family_id is None:
            raise InvalidToken("token lacks a grant id")
        live = await self.liveness.family(graph, claims.family_id)
        if live is None or live.client_id != claims.client_id:
            raise InvalidToken("token revoked")
        kind = ClientKind(live.client_kind)
        customer = live.customer_id is not None
        allowed = self.catalogue.allowed_for(kind, customer=customer)
        scopes = claims.scopes & live.allowed_scopes & allowed
        return Principal(
            client_id=claims.client_id,
            client_kind=kind,
            customer_id=live.customer_id,
            scopes=frozenset(scopes),
            customer_exists=live.customer_id is not None,
        )

    async def _external(self, token: str, issuer: ExternalIssuer) -> Principal:
        kid = tokens.unverified_header(token).get("kid")
        keys = await self._issuer_keys(issuer, kid if isinstance(kid, str) else None)
        claims = tokens.verify_signed(
            token,
            keys,
            algorithms=issuer.algorithms,
            issuer=issuer.issuer,
            audience=issuer.audience,
            require_typ=False,
        )
        kind = ClientKind(issuer.client_kind)
        subject = claims.get("sub")
        customer = str(subject) if issuer.subject_is_customer and subject else None
        allowed = self.catalogue.allowed_for(kind, customer=customer is not None)
        scopes = _scope_claim(claims.get(issuer.scope_claim)) & allowed
        client = claims.get("client_id") or claims.get("azp")
        return Principal(
            client_id=external_client_id(issuer.issuer, str(client) if client else None),
            client_kind=kind,
            customer_id=customer,
            scopes=frozenset(scopes),
            issuer=issuer.issuer,
        )

    async def _issuer_keys(self, issuer: ExternalIssuer, kid: str | None) -> KeySet:
        cached = self._jwks.setdefault(issuer.issuer, _Jwks())
        now = time.monotonic()
        stale = cached.keys is None or now - cached.fetched_at > JWKS_TTL
        unknown = kid is not None and kid not in cached.kids
        if stale or (unknown and now - cached.fetched_at > JWKS_MIN_REFETCH):
            await self._fetch(issuer, cached)
        if cached.keys is None:
            raise InvalidToken("issuer keys unavailable")
        return cached.keys

    async def _fetch(self, issuer: ExternalIssuer, cached: _Jwks) -> None:
        client = self._http or httpx.AsyncClient(timeout=2.0)
        try:
            response = await client.get(issuer.jwks_uri)
            response.raise_for_status()
            data: Any = response.json()
            keys = KeySet.import_key_set(data)
        except (httpx.HTTPError, ValueError, JoseError):
            # Keep serving with the keys we had; a token signed by a key we
            # cannot fetch is refused by the signature check.
            cached.fetched_at = time.monotonic()
            return
        finally:
            if self._http is None:
                await client.aclose()
        cached.keys = keys
        cached.kids = frozenset(str(k.kid) for k in keys.keys if k.kid)
        cached.fetched_at = time.monotonic()


def external_client_id(issuer: str, client: str | None) -> str:
    """An external issuer's client, as the gateway names it: never a local client's id."""
    return f"{issuer}#{client}" if client else issuer


def _scope_claim(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return frozenset()
