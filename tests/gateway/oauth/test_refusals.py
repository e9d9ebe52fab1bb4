"""Every way a client can get it wrong (or try it on) is refused with the right error."""

from __future__ import annotations

import base64
import hmac
import json
import time

import httpx
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette

from gateway.oauth import OAuthService
from gateway.oauth.clients import ClientError
from graph.oauth import get_family, revoke_grant

from .conftest import add_client
from .helpers import (
    Registered,
    Tokens,
    authorize_url,
    authorize_url_for,
    authorized_code,
    bearer,
    exchange_code,
    pkce_pair,
    query_of,
    refresh,
    tokens_for,
)

SCOPES = "profile:read purchases:read"


async def refused(http: httpx.AsyncClient, token: str) -> str:
    """The resource server's refusal reason; fails if the token was accepted."""
    answer = await http.get("/whoami", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    return str(answer.json()["error_description"])


async def accepted(http: httpx.AsyncClient, token: str) -> None:
    """Fails unless the resource server accepts the token."""
    answer = await http.get("/whoami", headers=bearer(token))
    assert answer.status_code == 200, answer.text


# ------------------------------------------------------------------ authorization endpoint


async def test_unregistered_redirect_uri_is_refused_without_redirecting(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    _, challenge = pkce_pair()
    for uri in (
        "https://evil.example/callback",
        client.redirect_uri + "/extra",
        client.redirect_uri.upper(),
        client.redirect_uri + "?x=1",
    ):
        answer = await http.get(authorize_url(client.client_id, uri, SCOPES, challenge))
        assert answer.status_code == 400, uri
        assert "location" not in answer.headers
        assert "invalid_request" in answer.text


async def test_unknown_client_is_refused(http: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    answer = await http.get(authorize_url("nobody", "https://x.example/cb", SCOPES, challenge))
    assert answer.status_code == 400
    assert "invalid_client" in answer.text


async def test_scope_outside_the_clients_allowed_set_is_refused(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    client = await add_client(app, "third_party", "profile:read")
    answer = await http.get(authorize_url_for(client, "profile:read customers:read"))
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_scope"


async def test_public_client_must_use_pkce(app: Starlette, http: httpx.AsyncClient) -> None:
    client = await add_client(app, "public", SCOPES)
    answer = await http.get(authorize_url(client.client_id, client.redirect_uri, SCOPES, None))
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


async def test_plain_pkce_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    client = await add_client(app, "public", SCOPES)
    verifier, _ = pkce_pair()
    url = authorize_url(client.client_id, client.redirect_uri, SCOPES, None) + (
        f"&code_challenge={verifier}&code_challenge_method=plain"
    )
    answer = await http.get(url)
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


# ------------------------------------------------------------------ token endpoint


async def client_with_code(
    app: Starlette, http: httpx.AsyncClient, customer: str, kind: str
) -> tuple[Registered, str, str]:
    """A new client of ``kind``, a code the customer approved for it, and its verifier."""
    client = await add_client(app, kind, SCOPES)
    verifier, challenge = pkce_pair()
    code = await authorized_code(http, client, SCOPES, customer, challenge)
    return client, code, verifier


async def test_missing_code_verifier_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, code, _ = await client_with_code(app, http, customer, "public")
    answer = await exchange_code(http, client, code, verifier=None)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


async def test_wrong_code_verifier_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, code, _ = await client_with_code(app, http, customer, "public")
    other_verifier, _ = pkce_pair()
    answer = await exchange_code(http, client, code, verifier=other_verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_redirect_uri_must_match_at_the_token_endpoint(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, code, verifier = await client_with_code(app, http, customer, "public")
    answer = await exchange_code(
        http, client, code, verifier, redirect_uri="https://evil.example/cb"
    )
    assert answer.json()["error"] == "invalid_grant"


async def test_a_code_used_twice_is_refused_and_its_tokens_revoked(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, code, verifier = await client_with_code(app, http, customer, "public")
    first = await exchange_code(http, client, code, verifier)
    assert first.status_code == 200
    issued = first.json()
    await accepted(http, issued["access_token"])

    second = await exchange_code(http, client, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"

    assert await refused(http, issued["access_token"]) == "token revoked"
    refreshed = await refresh(http, client, issued["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


async def test_a_confidential_client_must_authenticate(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, code, verifier = await client_with_code(app, http, customer, "third_party")
    # No secret at all: the client only names itself in the form.
    answer = await exchange_code(http, client, code, verifier)
    assert answer.json()["error"] == "invalid_client"
    # Named in the form and a wrong secret over basic auth.
    answer = await exchange_code(
        http, client, code, verifier, auth=(client.client_id, "wrong"), client_id=client.client_id
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_client_credentials_only_for_first_party(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    service = await add_client(app, "first_party", "customers:read profile:read")
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read"},
        auth=(service.client_id, service.secret or ""),
    )
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    me = await http.get("/whoami", headers=bearer(answer.json()["access_token"]))
    assert me.json()["customer_id"] is None
    assert me.json()["scopes"] == ["customers:read"]

    third = await add_client(app, "third_party", SCOPES)
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(third.client_id, third.secret or ""),
    )
    assert answer.json()["error"] == "unauthorized_client"


async def test_a_family_without_refresh_token_ends_with_its_access_token(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    service = await add_client(app, "first_party", "customers:read")
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(service.client_id, service.secret or ""),
    )
    claims = _parts(answer.json()["access_token"])[1]
    family = await get_family(app.state.graph, str(claims["gid"]))
    assert family is not None
    # Not the refresh token's 30 days: the family ends when its one token does.
    assert family.expires_at - int(str(claims["exp"])) < 60


async def test_only_the_retailers_own_clients_may_record_events(app: Starlette) -> None:
    """A third party may not write a customer's views, carts and purchases."""
    try:
        await add_client(app, "third_party", "profile:read events:write")
    except ClientError as exc:
        assert "events:write" in str(exc)
    else:
        raise AssertionError("a third party was allowed events:write")
    await add_client(app, "public", "profile:read events:write")  # the web shop
    await add_client(app, "first_party", "events:write")
    service: OAuthService = app.state.oauth
    # Also stripped when a third party's token is verified, whatever the graph says.
    assert "events:write" not in service.catalogue.allowed_for("third_party")


# ------------------------------------------------------------------ refresh tokens


async def client_with_tokens(
    app: Starlette, http: httpx.AsyncClient, customer: str, kind: str
) -> tuple[Registered, Tokens]:
    """A new client of ``kind`` and the tokens it got through the whole code flow."""
    client = await add_client(app, kind, SCOPES)
    return client, await tokens_for(http, client, SCOPES, customer)


async def test_refresh_rotates_and_reuse_revokes_the_family(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, first = await client_with_tokens(app, http, customer, "public")
    answer = await refresh(http, client, first.refresh_token)
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["refresh_token"] != first.refresh_token
    await accepted(http, second["access_token"])

    # The spent token comes back: a thief or a confused client. Nobody keeps the family.
    reuse = await refresh(http, client, first.refresh_token)
    assert reuse.json()["error"] == "invalid_grant"
    assert await refused(http, second["access_token"]) == "token revoked"
    after = await refresh(http, client, second["refresh_token"])
    assert after.json()["error"] == "invalid_grant"


async def test_refresh_cannot_widen_the_scopes(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "public", SCOPES + " browsing:read")
    first = await tokens_for(http, client, SCOPES, customer)
    answer = await refresh(http, client, first.refresh_token, scope=SCOPES + " browsing:read")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"
    narrower = await refresh(http, client, first.refresh_token, scope="profile:read")
    assert narrower.json()["scope"] == "profile:read"


async def test_revoked_grant_ends_access_and_refresh_at_once(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, issued = await client_with_tokens(app, http, customer, "third_party")
    await accepted(http, issued.access_token)
    assert await revoke_grant(app.state.graph, customer, client.client_id, int(time.time()))
    assert await refused(http, issued.access_token) == "token revoked"
    answer = await refresh(http, client, issued.refresh_token)
    assert answer.json()["error"] == "invalid_grant"


async def test_a_code_approved_before_the_app_was_revoked_is_refused_after(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    # The customer approves, then revokes the app before it trades the code in:
    # the code must not start a family of tokens that nobody revoked.
    client = await add_client(app, "third_party", SCOPES)
    verifier, challenge = pkce_pair()
    code = await authorized_code(http, client, SCOPES, customer, challenge)
    assert await revoke_grant(app.state.graph, customer, client.client_id, int(time.time()))
    auth = (client.client_id, client.secret or "")
    answer = await exchange_code(http, client, code, verifier, auth=auth)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "access_token" not in answer.json()
    # Approving again after the revocation works as a first approval does.
    again = await tokens_for(http, client, SCOPES, customer)
    await accepted(http, again.access_token)


# ------------------------------------------------------------------ revocation and introspection


async def test_rfc7009_revocation_ends_access_and_refresh(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, issued = await client_with_tokens(app, http, customer, "third_party")
    auth = (client.client_id, client.secret or "")
    introspect = await http.post(
        "/oauth/introspect", data={"token": issued.access_token}, auth=auth
    )
    assert introspect.json()["active"] is True
    assert introspect.json()["sub"] == customer

    answer = await http.post(
        "/oauth/revoke",
        data={"token": issued.refresh_token, "token_type_hint": "refresh_token"},
        auth=auth,
    )
    assert answer.status_code == 200
    assert await refused(http, issued.access_token) == "token revoked"
    introspect = await http.post(
        "/oauth/introspect", data={"token": issued.access_token}, auth=auth
    )
    assert introspect.json() == {"active": False}
    # RFC 7009: an unknown token is not an error.
    unknown = await http.post("/oauth/revoke", data={"token": "no-such-token"}, auth=auth)
    assert unknown.status_code == 200


async def test_introspection_calls_a_spent_refresh_token_inactive(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, issued = await client_with_tokens(app, http, customer, "third_party")
    auth = (client.client_id, client.secret or "")
    fresh = await http.post("/oauth/introspect", data={"token": issued.refresh_token}, auth=auth)
    assert fresh.json()["active"] is True
    rotated = await refresh(http, client, issued.refresh_token)
    assert rotated.status_code == 200
    spent = await http.post("/oauth/introspect", data={"token": issued.refresh_token}, auth=auth)
    assert spent.json() == {"active": False}
    # The new one is live.
    live = await http.post(
        "/oauth/introspect", data={"token": rotated.json()["refresh_token"]}, auth=auth
    )
    assert live.json()["active"] is True


async def test_another_client_cannot_introspect_or_revoke_my_token(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    mine = await add_client(app, "third_party", SCOPES, name="mine")
    other = await add_client(app, "third_party", SCOPES, name="other")
    issued = await tokens_for(http, mine, SCOPES, customer)
    auth = (other.client_id, other.secret or "")
    introspect = await http.post(
        "/oauth/introspect", data={"token": issued.access_token}, auth=auth
    )
    assert introspect.json() == {"active": False}
    revoke = await http.post("/oauth/revoke", data={"token": issued.refresh_token}, auth=auth)
    assert revoke.status_code == 400
    await accepted(http, issued.access_token)


# ------------------------------------------------------------------ forged and stale tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(h))),
        json.loads(base64.urlsafe_b64decode(pad(p))),
        s,
    )


async def _good_token(app: Starlette, http: httpx.AsyncClient, customer: str) -> str:
    _, issued = await client_with_tokens(app, http, customer, "public")
    await accepted(http, issued.access_token)
    return issued.access_token


async def test_alg_none_is_refused(app: Starlette, http: httpx.AsyncClient, customer: str) -> None:
    header, payload, _ = _parts(await _good_token(app, http, customer))
    head = _b64(json.dumps(header | {"alg": "none"}).encode())
    forged = f"{head}.{_b64(json.dumps(payload).encode())}."
    assert "algorithm" in await refused(http, forged)


async def test_hs256_signed_with_the_public_key_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    header, payload, _ = _parts(await _good_token(app, http, customer))
    public = json.dumps((await http.get("/.well-known/jwks.json")).json()["keys"][0]).encode()
    head = _b64(json.dumps(header | {"alg": "HS256"}).encode())
    body = _b64(json.dumps(payload).encode())
    sig = _b64(hmac.new(public, f"{head}.{body}".encode(), "sha256").digest())
    assert "algorithm" in await refused(http, f"{head}.{body}.{sig}")
    # The same with joserfc, keyed with the PEM-free raw JWK text.
    forged = jwt.encode(header | {"alg": "HS256"}, payload, OctKey.import_key(public))
    assert "algorithm" in await refused(http, forged)


async def test_tampered_payload_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    token = await _good_token(app, http, customer)
    _, payload, sig = _parts(token)
    wider = payload | {"scope": "profile:read purchases:read customers:read", "sub": "someone-else"}
    forged = f"{token.split('.')[0]}.{_b64(json.dumps(wider).encode())}.{sig}"
    assert await refused(http, forged) == "bad signature"


def _sign(app: Starlette, **overrides: object) -> str:
    """A token signed with the real key, with some claims changed."""
    service: OAuthService = app.state.oauth
    key = service.keys.signing_key()
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1",
        "aud": "http://127.0.0.1",
        "sub": "c-1",
        "client_id": "x",
        "scope": "profile:read",
        "gid": "g",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j",
    } | overrides
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key.key)


async def test_expired_token_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    assert await refused(http, _sign(app, exp=int(time.time()) - 60)) == "token expired"


async def test_token_not_yet_valid_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    assert "not yet valid" in await refused(http, _sign(app, nbf=int(time.time()) + 600))


async def test_wrong_issuer_or_audience_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    assert await refused(http, _sign(app, iss="https://other.example")) == "unknown issuer"
    assert "aud" in await refused(http, _sign(app, aud="https://other.example"))


async def test_token_of_another_type_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    service: OAuthService = app.state.oauth
    key = service.keys.signing_key()
    id_token = jwt.encode(
        {"alg": "ES256", "kid": key.kid, "typ": "JWT"},
        {"iss": "http://127.0.0.1", "aud": "http://127.0.0.1", "exp": 2**31},
        key.key,
    )
    assert "typ" in await refused(http, id_token)


async def test_a_token_signed_with_an_unknown_key_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    header, payload, _ = _parts(await _good_token(app, http, customer))
    from joserfc.jwk import ECKey

    stranger = ECKey.generate_key("P-256")
    forged = jwt.encode(header, payload, stranger)
    assert await refused(http, forged) == "bad signature"
    forged = jwt.encode(header | {"kid": "made-up"}, payload, stranger)
    assert await refused(http, forged) == "unknown signing key"


async def test_plain_http_off_loopback_is_refused_as_insecure_transport(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as http:
        answer = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
        page = await http.get("/oauth/authorize?response_type=code&client_id=x")
    assert answer.status_code == 400
    assert answer.json()["error"] == "insecure_transport"
    assert page.status_code == 400
    assert "insecure_transport" in page.text


async def test_long_dead_token_families_are_swept(app: Starlette) -> None:
    from graph.oauth import FamilyRecord, create_family

    graph = app.state.graph
    now = int(time.time())
    dead = FamilyRecord("dead", "c", "cu", ("profile:read",), now - 2 * 86400, None)
    await create_family(graph, dead, now - 3 * 86400)
    await graph.write(
        "MATCH (f:TokenFamily {id: 'dead'}) CREATE (:RefreshToken {hash: 'h'})-[:OF]->(f)"
    )
    alive = FamilyRecord("alive", "c", "cu", ("profile:read",), now + 600, None)
    await create_family(graph, alive, now)
    rows = await graph.read("MATCH (n) WHERE n:TokenFamily OR n:RefreshToken RETURN n.id AS id")
    assert [r["id"] for r in rows] == ["alive"]


async def test_scopes_shrink_with_the_clients_allowed_set_even_before_refresh(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client, issued = await client_with_tokens(app, http, customer, "third_party")
    # The operator narrows what the app may hold.
    await app.state.graph.write(
        "MATCH (c:Client {client_id: $id}) SET c.allowed_scopes = ['profile:read']",
        {"id": client.client_id},
    )
    me = await http.get("/whoami", headers=bearer(issued.access_token))
    assert me.json()["scopes"] == ["profile:read"]
    answer = await refresh(http, client, issued.refresh_token)
    assert answer.json()["scope"] == "profile:read"
