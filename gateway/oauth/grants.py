"""The grant types and token endpoints of the embedded authorization server.

- authorization_code with PKCE: S256 only, required of every client. A code
  works once: the second use is refused and revokes everything issued from the
  first (RFC 6749 §4.1.2), even while the first exchange is still running.
- refresh_token with rotation: each use returns a new refresh token and spends
  the old one; presenting a spent one revokes the whole family, because either
  the client or a thief holds a stolen copy. The new access token never carries
  more than the customer's current grant ∩ the client's current allowed scopes.
- client_credentials: first-party services only (enforced by OAuthClient).
- revocation (RFC 7009) and introspection (RFC 7662).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from gateway.oauth import tokens
from gateway.oauth.clients import OAuthClient
from gateway.oauth.keys import KeyStore
from gateway.oauth.scopes import ScopeCatalogue, join, parse
from gateway.oauth.server import AuthorizationServer, OAuthConfig, Subject, digest
from graph import Graph
from graph.oauth import (
    CodeRecord,
    FamilyRecord,
    claim_code,
    claim_refresh,
    get_code,
    get_family,
    get_refresh,
    grant_scopes,
    revoke_family,
    revoke_family_of_code,
    save_code,
)

CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


def _now() -> int:
    return int(time.time())


class StoredCode(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, code: str, record: CodeRecord) -> None:
        self.code = code
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return join(self.record.scopes)


class StoredToken(TokenMixin):  # type: ignore[misc]
    """A refresh token or a verified access token, as the endpoints see it."""

    def __init__(
        self,
        family: FamilyRecord,
        kind: str,
        expires_at: int,
        claims: dict[str, Any] | None = None,
        used_at: int | None = None,
    ) -> None:
        self.family = family
        self.kind = kind
        self.expires_at = expires_at
        self.claims = claims or {}
        # When a refresh token was exchanged (rotated away); it is spent from then on.
        self.used_at = used_at

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.client_id == self.family.client_id)

    def get_scope(self) -> str:
        if self.kind == "access_token":
            return str(self.claims.get("scope", ""))
        return join(self.family.scopes)

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - _now())

    def is_expired(self) -> bool:
        return self.expires_at <= _now() or self.family.expires_at <= _now()

    def is_revoked(self) -> bool:
        return self.family.revoked_at is not None or self.used_at is not None


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required of every client.

    Required of confidential clients too (OAuth 2.1, RFC 9700 §2.1.1): a client
    secret does not stop a stolen code from being injected into the client's
    own callback; a verifier only the client's session knows does. "plain"
    protects nothing a network observer cannot see.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        # Every code is issued with a challenge now; one without (issued before
        # PKCE was required everywhere) is not redeemed without a verifier either.
        if not self.get_authorization_code_challenge(grant.request.authorization_code):
            raise InvalidRequestError("the code was issued without PKCE; start again")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    server: AuthorizationServer

    def save_authorization_code(self, code: str, request: Any) -> None:
        subject: Subject = request.user
        payload = request.payload.data
        record = CodeRecord(
            client_id=request.client.client_id,
            customer_id=str(subject.customer_id),
            # Stored as sent: if the client named one, it must name the same at the
            # token endpoint (RFC 6749 §4.1.3); if it relied on the default, it need not.
            redirect_uri=request.payload.redirect_uri or "",
            scopes=tuple(
                self.server.catalogue.for_customer(
                    subject.approved if subject.approved is not None else parse(request.scope)
                )
            ),
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            expires_at=_now() + self.server.config.code_ttl,
            family_id=subject.family_id,
            used_at=None,
        )
        self.server.call(save_code, self.server.graph, digest(code), record, _now())

    def query_authorization_code(self, code: str, client: OAuthClient) -> StoredCode | None:
        record = self.server.call(get_code, self.server.graph, digest(code))
        if record is None or record.client_id != client.client_id:
            return None
        if record.used_at is not None:
            # Second use: whoever holds the tokens of the first may be a thief.
            self.server.call(revoke_family_of_code, self.server.graph, record, _now())
            return None
        if record.expires_at <= _now():
            return None
        return StoredCode(code, record)

    def create_token_response(self) -> Any:
        stored: StoredCode = self.request.authorization_code
        if not self.server.call(claim_code, self.server.graph, digest(stored.code), _now()):
            # A concurrent exchange of the same code won: this is a replay too.
            self.server.call(revoke_family_of_code, self.server.graph, stored.record, _now())
            raise InvalidGrantError("authorization code already used")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        # Kept, marked used, until it expires: that is how a replay is recognised.
        return None

    def authenticate_user(self, authorization_code: StoredCode) -> Subject:
        record = authorization_code.record
        return Subject(record.customer_id, record.family_id, new_family=True)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: AuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        record = self.server.call(get_refresh, self.server.graph, digest(refresh_token))
        if record is None:
            return None
        if record.used_at is not None:
            # Reuse of a rotated token: revoke the family for the client and the thief alike.
            self.server.call(revoke_family, self.server.graph, record.family.id, _now())
            return None
        token = StoredToken(record.family, "refresh_token", record.expires_at)
        token.value = refresh_token
        if token.is_expired() or token.is_revoked():
            return None
        return token

    def create_token_response(self) -> Any:
        token: StoredToken = self.request.refresh_token
        if not self.server.call(claim_refresh, self.server.graph, digest(token.value), _now()):
            self.server.call(revoke_family, self.server.graph, token.family.id, _now())
            raise InvalidGrantError("refresh token already used")
        return super().create_token_response()

    def authenticate_user(self, refresh_token: StoredToken) -> Subject:
        family = refresh_token.family
        return Subject(family.customer_id, family.id, new_family=False)

    def issue_token(self, user: Subject, refresh_token: StoredToken) -> dict[str, Any]:
        client: OAuthClient = self.request.client
        asked = set(parse(self.request.payload.scope)) or set(refresh_token.family.scopes)
        effective = asked & client.allowed
        if user.customer_id is not None:
            granted = self.server.call(
                grant_scopes, self.server.graph, user.customer_id, client.client_id
            )
            if granted is None:
                self.server.call(revoke_family, self.server.graph, user.family_id, _now())
                raise InvalidGrantError("the customer no longer authorises this client")
            effective &= granted
        return dict(
            self.generate_token(user=user, scope=join(effective), include_refresh_token=True)
        )

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        return None  # already spent by the atomic claim above


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    server: AuthorizationServer

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: OAuthClient = self.request.client
        if client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError("scope outside the client's allowed scopes")

    def generate_token(self, user: Any = None, scope: str | None = None, **kwargs: Any) -> Any:
        client: OAuthClient = self.request.client
        subject = Subject(None, uuid.uuid4().hex, new_family=True)
        self.request.user = subject
        kwargs["include_refresh_token"] = False
        return super().generate_token(user=subject, scope=client.get_allowed_scope(scope), **kwargs)


class _TokenLookup:
    """Find a presented token: a JWT we signed, or a refresh token we stored."""

    server: AuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        if token_string.count(".") == 2:
            return self._access_token(token_string)
        record = self.server.call(get_refresh, self.server.graph, digest(token_string))
        if record is None:
            return None
        # A spent refresh token still names its family (revoking it ends the
        # family), but introspection reports it inactive: it buys nothing more.
        return StoredToken(
            record.family, "refresh_token", record.expires_at, used_at=record.used_at
        )

    def _access_token(self, token_string: str) -> StoredToken | None:
        config: OAuthConfig = self.server.config
        keys: KeyStore = self.server.keys
        try:
            claims = tokens.verify_own(
                keys, token_string, issuer=config.issuer, audience=config.audience
            )
        except tokens.InvalidToken:
            return None
        if claims.family_id is None:
            return None
        family = self.server.call(get_family, self.server.graph, claims.family_id)
        if family is None:
            return None
        return StoredToken(family, "access_token", claims.expires_at, claims.raw)


class RevocationEndpoint(_TokenLookup, _RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        # A JWT cannot be recalled one by one; revoking either kind of token ends
        # its family — the refresh token and every access token issued with it.
        self.server.call(revoke_family, self.server.graph, token.family.id, _now())


class IntrospectionEndpoint(_TokenLookup, _IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def check_permission(self, token: StoredToken, client: OAuthClient, request: Any) -> bool:
        # A client may introspect its own tokens; first-party services any token.
        return client.kind == "first_party" or token.check_client(client)

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        config: OAuthConfig = self.server.config
        family = token.family
        return {
            "active": True,
            "token_type": token.kind,
            "client_id": family.client_id,
            "scope": token.get_scope(),
            "sub": family.customer_id or family.client_id,
            "iss": config.issuer,
            "aud": config.audience,
            "exp": token.expires_at,
        }


def create_server(
    graph: Graph, keys: KeyStore, catalogue: ScopeCatalogue, config: OAuthConfig
) -> AuthorizationServer:
    server = AuthorizationServer(graph, keys, catalogue, config)
    server.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    return server
