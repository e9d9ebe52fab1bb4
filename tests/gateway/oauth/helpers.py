"""What the OAuth tests share: a client that drives the flow as a browser would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

BASE = "http://127.0.0.1"
PASSWORD = "correct horse battery"


@dataclass
class Registered:
    client_id: str
    secret: str | None
    redirect_uri: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Form:
    action: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class FormParser(HTMLParser):
    """Collect every form with its inputs, as a client parsing the page would."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action")))
        elif not self.forms:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                self.forms[-1].checkboxes.append((a["name"], a["value"], "checked" in a))
            else:
                self.forms[-1].fields[a.get("name", "")] = a.get("value", "")
        elif tag == "button" and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authorize_url(
    client_id: str, redirect_uri: str, scope: str, challenge: str | None, state: str = "xyz"
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return f"/oauth/authorize?{urlencode(params)}"


def authorize_url_for(client: Registered, scope: str) -> str:
    """Where the client sends the browser: its own redirect URI, a fresh PKCE challenge."""
    _, challenge = pkce_pair()
    return authorize_url(client.client_id, client.redirect_uri, scope, challenge)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def sign_in(
    http: httpx.AsyncClient, url: str, customer: str, password: str
) -> httpx.Response:
    """Load the sign-in page, fill the form in and follow to the next page."""
    page = await http.get(url)
    assert page.status_code == 200, page.text
    form = forms(page.text)[0]
    if form.fields.get("action") != "sign_in":
        return page  # signed in already: straight to the consent page
    data = form.fields | {"customer": customer, "password": password}
    posted = await http.post(url, data=data)
    if posted.status_code != 303:
        return posted
    return await http.get(posted.headers["location"])


async def consent(
    http: httpx.AsyncClient,
    url: str,
    page: httpx.Response,
    untick: set[str] = frozenset(),
    action: str = "approve",  # type: ignore[assignment]
) -> httpx.Response:
    """Submit the consent form with some scopes unticked; return the redirect."""
    form = forms(page.text)[0]
    data: dict[str, str | list[str]] = dict(form.fields)
    ticked = [v for n, v, checked in form.checkboxes if checked and v not in untick]
    data["grant_scope"] = ticked
    assert ("action", action) in form.buttons
    data["action"] = action
    return await http.post(url, data=data)


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    scope: str


async def authorized_code(
    http: httpx.AsyncClient,
    client: Registered,
    scope: str,
    customer: str,
    challenge: str | None,
    *,
    password: str = PASSWORD,
    untick: set[str] = frozenset(),  # type: ignore[assignment]
) -> str:
    """Sign in, consent (unless the client is trusted) and return the code it is sent."""
    url = authorize_url(client.client_id, client.redirect_uri, scope, challenge)
    page = await sign_in(http, url, customer, password)
    if page.status_code == 200:
        page = await consent(http, url, page, untick)
    assert page.status_code == 302, page.text
    params = query_of(page.headers["location"])
    assert params["state"] == "xyz"
    return params["code"]


def _form(base: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    # A change of None leaves the field out, so a test can send a request without it.
    merged = base | changes
    return {k: v for k, v in merged.items() if v is not None}


async def exchange_code(
    http: httpx.AsyncClient,
    client: Registered,
    code: str,
    verifier: str | None,
    *,
    auth: tuple[str, str] | None = None,
    **changes: str | None,
) -> httpx.Response:
    """Trade ``code`` in at the token endpoint; ``changes`` alter or drop form fields.

    Without ``auth`` the client names itself in the form, as a public client does.
    A ``verifier`` of None sends no code_verifier at all.
    """
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
    }
    if verifier is not None:
        base["code_verifier"] = verifier
    if auth is None:
        base["client_id"] = client.client_id
    return await http.post("/oauth/token", data=_form(base, changes), auth=auth)


async def refresh(
    http: httpx.AsyncClient, client: Registered, token: str | None, **changes: str | None
) -> httpx.Response:
    """Spend a refresh token, authenticating as the client would.

    A confidential client (one with a secret) uses HTTP basic auth; a public one names
    itself in the form. ``changes`` alter or drop form fields (e.g. ``scope=...``).
    """
    base = {"grant_type": "refresh_token", "refresh_token": token or ""}
    if client.secret:
        auth = (client.client_id, client.secret)
        return await http.post("/oauth/token", data=_form(base, changes), auth=auth)
    base["client_id"] = client.client_id
    return await http.post("/oauth/token", data=_form(base, changes))


async def full_flow(
    http: httpx.AsyncClient,
    client_id: str,
    redirect_uri: str,
    scope: str,
    customer: str,
    password: str,
    *,
    secret: str | None = None,
    untick: set[str] = frozenset(),  # type: ignore[assignment]
) -> Tokens:
    client = Registered(client_id, secret, redirect_uri)
    verifier, challenge = pkce_pair()
    code = await authorized_code(
        http, client, scope, customer, challenge, password=password, untick=untick
    )
    auth = (client_id, secret) if secret else None
    response = await exchange_code(http, client, code, verifier, auth=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(body["access_token"], body.get("refresh_token"), body["scope"])


async def tokens_for(
    http: httpx.AsyncClient,
    client: Registered,
    scope: str,
    customer: str,
    *,
    untick: set[str] = frozenset(),  # type: ignore[assignment]
) -> Tokens:
    """The whole code flow for a registered ``client``, with its secret if it has one."""
    return await full_flow(
        http,
        client.client_id,
        client.redirect_uri,
        scope,
        customer,
        PASSWORD,
        secret=client.secret,
        untick=untick,
    )


async def bearer_for(app: object, customer_id: str | None, scopes: object = None) -> str:
    """A real access token for ``customer_id`` from a first-party test client.

    ``scopes`` defaults to every scope a trusted first-party frontend could hold
    in such a token; the token goes through the same verification as any.
    """
    from gateway.oauth import OAuthService
    from gateway.oauth.clients import register_client
    from gateway.oauth.devtokens import dev_token

    state = app.state  # type: ignore[attr-defined]
    service: OAuthService = state.oauth
    # Everything the client could hold in a token for ``customer_id`` (for a
    # customer: no back-office scope).
    every = service.catalogue.allowed_for("first_party", customer=customer_id is not None)
    wanted = every if scopes is None else frozenset(scopes)  # type: ignore[arg-type]
    client_id = getattr(state, "test_client_id", None)
    if client_id is None:
        record, _ = await register_client(
            state.graph,
            service.catalogue,
            name="tests",
            kind="first_party",
            scopes=service.catalogue.names,
            trusted=True,
        )
        client_id = state.test_client_id = record.client_id
    return await dev_token(
        state.graph, service, client_id=client_id, customer_id=customer_id, scopes=wanted
    )
