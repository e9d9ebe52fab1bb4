"""Access tokens: JWTs in the RFC 9068 profile, signed with the current key.

A token names its issuer, audience, client, subject and scopes, lives a few
minutes, and carries ``gid``: the id of the token family (graph/oauth/families.py) it
belongs to. Signature and claims are checked here; whether the family is still
alive is checked by the resource server against the graph.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from gateway.oauth.keys import ALGORITHM, KeyStore

TOKEN_TYPE = "at+jwt"  # noqa: S105 (the RFC 9068 media type)
# Our own tokens are only ever ES256. Anything else in the header — "none",
# HS256 made with the public key as a secret — is refused before any key is used.
OWN_ALGORITHMS = frozenset({ALGORITHM})
LEEWAY = 5  # seconds of clock skew tolerated on exp / nbf / iat


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message says why (safe to show)."""


@dataclass(frozen=True)
class AccessClaims:
    issuer: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    family_id: str | None
    expires_at: int
    issued_at: int
    jwt_id: str
    raw: dict[str, Any]


def issue(
    keys: KeyStore,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    subject: str,
    scopes: Iterable[str],
    family_id: str,
    ttl: int,
    now: int | None = None,
) -> str:
    now = int(time.time()) if now is None else now
    signing = keys.signing_key()
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
        "gid": family_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": ALGORITHM, "kid": signing.kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, signing.key)


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, decoded but NOT verified: only to choose how to verify."""
    return _unverified_segment(token, 0)


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload, decoded but NOT verified: only to pick the issuer's keys."""
    return _unverified_segment(token, 1)


def _unverified_segment(token: str, index: int) -> dict[str, Any]:
    try:
        segment = token.split(".")[index]
        decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(decoded, dict):
        raise InvalidToken("malformed token")
    return decoded


def verify_signed(
    token: str,
    key: ECKey | RSAKey | KeySet,
    *,
    algorithms: Iterable[str],
    issuer: str,
    audience: str,
    require_typ: bool,
    now: int | None = None,
) -> dict[str, Any]:
    """Check signature, algorithm, ``typ`` and the time and audience claims."""
    allowed = list(algorithms)
    header = unverified_header(token)
    if header.get("alg") not in allowed:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    if require_typ and str(header.get("typ", "")).lower() not in (
        TOKEN_TYPE,
        f"application/{TOKEN_TYPE}",
    ):
        raise InvalidToken("not an access token (typ)")
    try:
        decoded = jwt.decode(token, key, algorithms=allowed)
    except (JoseError, ValueError) as exc:
        raise InvalidToken("bad signature") from exc
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidToken(_describe(exc)) from exc
    return claims


def verify_own(
    keys: KeyStore, token: str, *, issuer: str, audience: str, now: int | None = None
) -> AccessClaims:
    """Verify a token this gateway issued (everything but family liveness)."""
    header = unverified_header(token)
    if header.get("alg") not in OWN_ALGORITHMS:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    key = keys.verification_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("unknown signing key")
    claims = verify_signed(
        token,
        key,
        algorithms=OWN_ALGORITHMS,
        issuer=issuer,
        audience=audience,
        require_typ=True,
        now=now,
    )
    try:
        return AccessClaims(
            issuer=claims["iss"],
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            family_id=claims.get("gid"),
            expires_at=int(claims["exp"]),
            issued_at=int(claims["iat"]),
            jwt_id=str(claims["jti"]),
            raw=claims,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("token lacks required claims") from exc


class VerifiedTokens:
    """Our tokens whose signature and claims were checked, kept until they expire.

    An ES256 verification and the claims' checks cost about half a millisecond,
    and a frontend sends the same token with every request for its five
    minutes. A token is answered from here only while the key that verified it
    is still the key its ``kid`` names (a key retired or replaced is seen by
    the key store within a second) and the token has not expired; anything
    else is verified afresh.
    """

    def __init__(self, max_tokens: int = 10_000) -> None:
        self.max_tokens = max_tokens
        self._checked: OrderedDict[str, tuple[AccessClaims, ECKey]] = OrderedDict()

    def verify(self, keys: KeyStore, token: str, *, issuer: str, audience: str) -> AccessClaims:
        kept = self._checked.get(token)
        if kept is not None:
            claims, key = kept
            kid = unverified_header(token).get("kid")
            current = keys.verification_key(kid) if isinstance(kid, str) else None
            if current is key and time.time() < claims.expires_at + LEEWAY:
                self._checked.move_to_end(token)
                return claims
            del self._checked[token]
        claims = verify_own(keys, token, issuer=issuer, audience=audience)
        kid = unverified_header(token).get("kid")
        verifier = keys.verification_key(kid) if isinstance(kid, str) else None
        if verifier is not None:
            self._checked[token] = (claims, verifier)
            while len(self._checked) > self.max_tokens:
                self._checked.popitem(last=False)
        return claims


def _describe(exc: JoseError) -> str:
    name = type(exc).__name__
    if name == "ExpiredTokenError":
        return "token expired"
    return str(exc.description or exc.error)
