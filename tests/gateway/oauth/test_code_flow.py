"""The authorization code + PKCE flow, end to end over HTTP, as a client runs it."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette

from graph import Graph
from graph.pii import email_hmac
from tests.conftest import TEST_PII_KEY

from .conftest import PASSWORD, add_client
from .helpers import (
    authorize_url_for,
    bearer,
    consent,
    forms,
    query_of,
    sign_in,
    tokens_for,
)

SCOPES = "profile:read purchases:read recommendations:read"


async def test_customer_signs_in_consents_and_the_token_works(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES + " browsing:read")
    tokens = await tokens_for(http, client, SCOPES, customer)
    assert tokens.refresh_token
    me = await http.get("/whoami", headers=bearer(tokens.access_token))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "client_id": client.client_id,
        "client_kind": "third_party",
        "customer_id": customer,
        "scopes": sorted(SCOPES.split()),
    }


async def test_access_token_is_an_rfc9068_jwt_verifiable_with_the_published_keys(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "public", SCOPES)
    tokens = await tokens_for(http, client, SCOPES, customer)
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    decoded = jwt.decode(tokens.access_token, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"]
    claims = decoded.claims
    assert claims["iss"] == "http://127.0.0.1"
    assert claims["aud"] == "http://127.0.0.1"
    assert claims["sub"] == customer
    assert claims["client_id"] == client.client_id
    assert claims["exp"] - claims["iat"] <= 600
    assert {"jti", "nbf", "gid"} <= claims.keys()


async def test_unticked_scope_is_not_granted(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    tokens = await tokens_for(http, client, SCOPES, customer, untick={"purchases:read"})
    assert set(tokens.scope.split()) == {"profile:read", "recommendations:read"}
    me = await http.get("/whoami", headers=bearer(tokens.access_token))
    assert "purchases:read" not in me.json()["scopes"]


async def test_consent_page_lists_each_scope_in_plain_language(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES, name="Budget Buddy")
    url = authorize_url_for(client, SCOPES)
    page = await sign_in(http, url, customer, PASSWORD)
    assert page.status_code == 200
    assert "Budget Buddy" in page.text
    assert "what you have bought" in page.text
    boxes = forms(page.text)[0].checkboxes
    assert sorted(v for _, v, checked in boxes if checked) == sorted(SCOPES.split())
    assert page.headers["x-frame-options"] == "DENY"


async def test_denying_sends_access_denied_to_the_client(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    page = await sign_in(http, url, customer, PASSWORD)
    answer = await consent(http, url, page, action="deny")
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(client.redirect_uri)
    params = query_of(answer.headers["location"])
    assert (params["error"], params["state"]) == ("access_denied", "xyz")
    assert "code" not in params


async def test_trusted_first_party_client_skips_consent(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    answer = await sign_in(http, url, customer, PASSWORD)
    assert answer.status_code == 302
    assert "code" in query_of(answer.headers["location"])


async def test_customer_signs_in_with_their_email_which_the_graph_holds_only_hashed(
    app: Starlette, http: httpx.AsyncClient, customer: str, clean_graph: Graph
) -> None:
    await clean_graph.write(
        "MATCH (c:Customer {id: $id}) SET c.email_hmac = $hmac",
        {"id": customer, "hmac": email_hmac("ana@example.test", TEST_PII_KEY)},
    )
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    signed_in = await sign_in(
        http, authorize_url_for(client, SCOPES), "  Ana@Example.TEST ", PASSWORD
    )
    assert signed_in.status_code == 302
    http.cookies.clear()
    unknown = await sign_in(
        http, authorize_url_for(client, SCOPES), "nobody@example.test", PASSWORD
    )
    assert unknown.status_code == 401
    assert "do not match" in unknown.text


async def test_wrong_password_shows_the_sign_in_page_again(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    page = await sign_in(http, url, customer, "not the password")
    assert page.status_code == 401
    assert "do not match" in page.text
    assert forms(page.text)[0].fields["action"] == "sign_in"


async def test_a_form_without_the_csrf_token_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    await http.get(url)
    posted = await http.post(
        url, data={"action": "sign_in", "customer": customer, "password": PASSWORD}
    )
    assert posted.status_code == 400
    assert "tightrope_signin" not in posted.cookies


async def test_repeated_wrong_passwords_lock_password_sign_in_for_a_while(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    for _ in range(5):
        assert (await sign_in(http, url, customer, "guess")).status_code == 401
    # Even the right password is refused now, with the same words as a wrong one.
    locked = await sign_in(http, url, customer, PASSWORD)
    assert locked.status_code == 401
    assert "do not match" in locked.text
    # Another customer is not affected.
    from .conftest import add_customer

    await add_customer(app.state.graph, "c-2")
    assert (await sign_in(http, url, "c-2", PASSWORD)).status_code == 200


async def test_a_browser_app_on_another_origin_may_call_the_token_endpoint_not_authorize(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    origin = {"Origin": "https://spa.example"}
    preflight = await http.options(
        "/oauth/token",
        headers=origin | {"Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    token = await http.post("/oauth/token", data={"grant_type": "refresh_token"}, headers=origin)
    assert token.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in token.headers
    page = await http.get("/oauth/authorize?response_type=code&client_id=x", headers=origin)
    assert "access-control-allow-origin" not in page.headers
    # The whole list, as docs/oauth.md gives it.
    for method, path in [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("OPTIONS", "/oauth/revoke"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/jwks.json"),
    ]:
        answer = await http.request(method, path, headers=origin)
        assert answer.headers.get("access-control-allow-origin") == "*", path
    # Introspection is for a confidential client's server, which holds the secret.
    introspect = await http.post("/oauth/introspect", data={"token": "x"}, headers=origin)
    assert "access-control-allow-origin" not in introspect.headers
