"""The sign-in and consent pages: their forms, their cookies, and what they refuse."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from gateway import create_app, hookimpl
from gateway.oauth import OAuthService, oauth_routes
from gateway.settings import Settings, load_settings
from graph import Graph
from tests.gateway.conftest import settings_for_tests

from .conftest import PASSWORD, add_client, add_customer
from .helpers import BASE, Registered, authorize_url_for, forms, sign_in

SCOPES = "profile:read purchases:read"


async def issued(graph: Graph) -> dict[str, int]:
    """What a refused form must not have created."""
    rows = await graph.read(
        "OPTIONAL MATCH (code:AuthCode) WITH count(code) AS codes "
        "OPTIONAL MATCH ()-[grant:AUTHORISED]->() RETURN codes, count(grant) AS grants"
    )
    return {"codes": rows[0]["codes"], "grants": rows[0]["grants"]}


async def consent_form(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> tuple[str, dict[str, str | list[str]]]:
    """Signed in, on the consent page of a third-party app: its URL and filled-in form."""
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    page = await sign_in(http, url, customer, PASSWORD)
    assert page.status_code == 200 and "form" in page.text
    form = forms(page.text)[0]
    data: dict[str, str | list[str]] = dict(form.fields)
    data["grant_scope"] = [value for _, value, _ in form.checkboxes]
    return url, data


async def another_browsers_token(app: Starlette, url: str) -> str:
    """A genuine CSRF token, but from someone else's browser (the attacker's own visit)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as elsewhere:
        page = await elsewhere.get(url)
    return forms(page.text)[0].fields["csrf_token"]


@pytest.mark.parametrize("action", ["approve", "deny"])
async def test_consent_without_the_forms_csrf_token_is_refused_and_issues_nothing(
    app: Starlette, http: httpx.AsyncClient, customer: str, action: str
) -> None:
    url, form = await consent_form(app, http, customer)
    for token in (None, "forged", await another_browsers_token(app, url)):
        data = {k: v for k, v in form.items() if k != "csrf_token"} | {"action": action}
        if token is not None:
            data["csrf_token"] = token
        answer = await http.post(url, data=data)
        assert answer.status_code == 400, (token, answer.text)
        assert "location" not in answer.headers
        assert "expired or was not sent by this site" in answer.text
    assert await issued(app.state.graph) == {"codes": 0, "grants": 0}
    # The same form with its own token works: only the token was wrong.
    answer = await http.post(url, data=form | {"action": action})
    assert answer.status_code == 302


async def test_sign_in_without_the_forms_csrf_token_is_refused(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    form = forms((await http.get(url)).text)[0].fields
    typed = {"action": "sign_in", "customer": customer, "password": PASSWORD}
    for token in (None, "forged", await another_browsers_token(app, url)):
        data = typed | ({"csrf_token": token} if token else {})
        answer = await http.post(url, data=data)
        assert answer.status_code == 400, (token, answer.text)
        assert "set-cookie" not in answer.headers  # no sign-in session
    assert await issued(app.state.graph) == {"codes": 0, "grants": 0}
    assert (await http.post(url, data=form | typed)).status_code == 303


def cookies_set(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of the response: its attributes, lower-cased."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = {k: v for k, v in morsel.items() if v} | {"value": morsel.value}
    return found


async def test_cookies_are_httponly_samesite_and_signed(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(client, SCOPES)
    page = await http.get(url)
    csrf = cookies_set(page)["tightrope_csrf"]
    assert csrf["httponly"] is True and str(csrf["samesite"]).lower() == "strict"
    assert csrf["path"] == "/oauth" and "secure" not in csrf  # the issuer is http here
    form = forms(page.text)[0].fields
    posted = await http.post(
        url, data=form | {"customer": customer, "password": PASSWORD, "action": "sign_in"}
    )
    session = cookies_set(posted)["tightrope_signin"]
    # Lax, not Strict: the client sends the browser here from another site, and
    # a signed-in customer should not have to sign in again on that arrival.
    assert session["httponly"] is True and str(session["samesite"]).lower() == "lax"
    assert session["max-age"] == "1800" and session["path"] == "/oauth"

    # A session cookie edited to name another customer is no session at all.
    value = str(session["value"])
    http.cookies.set("tightrope_signin", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    again = await http.get(url)
    assert forms(again.text)[0].fields.get("action") == "sign_in"


@pytest.fixture
async def https_app(clean_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    keys = tmp_path_factory.mktemp("https-keys")
    settings: Settings = load_settings(oauth_issuer="https://127.0.0.1", oauth_keys_dir=str(keys))
    app = Starlette(routes=oauth_routes())
    app.state.graph = clean_graph
    app.state.oauth = OAuthService(settings)
    return app


async def test_cookies_are_secure_when_the_issuer_is_https(
    https_app: Starlette, customer: str
) -> None:
    client = await add_client(https_app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    transport = httpx.ASGITransport(app=https_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as http:
        page = await http.get(url)
        form = forms(page.text)[0].fields
        posted = await http.post(
            url, data=form | {"customer": customer, "password": PASSWORD, "action": "sign_in"}
        )
    assert cookies_set(page)["tightrope_csrf"]["secure"] is True
    assert cookies_set(posted)["tightrope_signin"]["secure"] is True


async def test_what_a_client_or_customer_typed_is_shown_as_text_never_as_markup(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    name = '<script>alert("owned")</script>'
    client = await add_client(app, "third_party", SCOPES, name=name)
    url = authorize_url_for(client, SCOPES)
    page = await http.get(url)
    assert name not in page.text
    assert "&lt;script&gt;alert(" in page.text
    typed = '"><img src=x onerror=alert(1)>'
    form = forms(page.text)[0].fields
    wrong = await http.post(
        url, data=form | {"customer": typed, "password": "nope", "action": "sign_in"}
    )
    assert wrong.status_code == 401
    assert typed not in wrong.text
    assert forms(wrong.text)[0].fields["customer"] == typed  # kept, as text


# ------------------------------------------------------------------ a failing sign-in plugin


class BrokenSingleSignOn:
    """A retailer's SSO plugin with a bug."""

    tightrope_name = "retailer-sso"

    @hookimpl
    def authenticate_customer(self, request: Request, graph: Graph) -> str | None:
        raise RuntimeError("SSO backend said: token=abc123 (a secret detail)")


@pytest.fixture
async def gateway_with_broken_sso(demo_graph: Graph) -> AsyncIterator[Starlette]:
    app = create_app(settings_for_tests(oauth_issuer=BASE), (BrokenSingleSignOn(),))
    async with app.router.lifespan_context(app):
        yield app


async def test_a_failing_sign_in_plugin_is_named_in_the_log_and_masked_for_the_customer(
    gateway_with_broken_sso: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    app = gateway_with_broken_sso
    await add_customer(app.state.graph, "c1")
    client: Registered = await add_client(app, "public", "profile:read")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        with caplog.at_level(logging.ERROR):
            page = await http.get(authorize_url_for(client, "profile:read"))
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Sign-in is not working" in page.text
    assert page.headers["x-request-id"] in page.text  # something to quote to support
    assert "abc123" not in page.text and "Traceback" not in page.text
    [record] = [r for r in caplog.records if "retailer-sso" in r.getMessage()]
    assert "authenticate_customer" in record.getMessage()
    assert record.exc_info is not None
