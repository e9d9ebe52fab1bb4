"""OAuth 2.1 and RFC 9700 (current security best practice), rule by rule."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from gateway import create_app
from gateway.settings import SettingsError, load_settings
from tests.gateway.conftest import settings_for_tests

from .conftest import PASSWORD, add_client
from .helpers import BASE, authorize_url, authorize_url_for, consent, query_of, sign_in

SCOPES = "profile:read purchases:read"


@pytest.mark.parametrize(
    ("kind", "trusted"), [("public", False), ("third_party", False), ("first_party", True)]
)
async def test_every_kind_of_client_must_use_pkce(
    app: Starlette, http: httpx.AsyncClient, customer: str, kind: str, trusted: bool
) -> None:
    # RFC 9700 §2.1.1: PKCE protects confidential clients too, against codes
    # injected into their callback; a secret does not.
    client = await add_client(app, kind, SCOPES, trusted=trusted)
    answer = await http.get(authorize_url(client.client_id, client.redirect_uri, SCOPES, None))
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(client.redirect_uri)
    params = query_of(answer.headers["location"])
    assert params["error"] == "invalid_request"
    assert "code_challenge" in params["error_description"]
    assert "code" not in params


async def test_every_authorization_response_names_the_issuer(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    """RFC 9207: a client talking to several servers can tell who answered (mix-up attacks)."""
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["authorization_response_iss_parameter_supported"] is True

    trusted = await add_client(app, "first_party", SCOPES, trusted=True)
    granted = await sign_in(http, authorize_url_for(trusted, SCOPES), customer, PASSWORD)
    assert granted.status_code == 302
    assert query_of(granted.headers["location"])["iss"] == metadata["issuer"] == BASE

    third = await add_client(app, "third_party", SCOPES)
    url = authorize_url_for(third, SCOPES)
    denied = await consent(http, url, await http.get(url), action="deny")
    params = query_of(denied.headers["location"])
    assert (params["error"], params["iss"]) == ("access_denied", BASE)

    wrong_scope = await http.get(authorize_url_for(third, "profile:read customers:read"))
    refused = query_of(wrong_scope.headers["location"])
    assert (refused["error"], refused["iss"]) == ("invalid_scope", BASE)


# ------------------------------------------------------------------ settings


def test_serving_outside_dev_mode_needs_the_issuer_set() -> None:
    # Clients compare the issuer with where they fetched the metadata (RFC 8414
    # §3.3) and tokens carry it: the development default is wrong anywhere else.
    with pytest.raises(SettingsError, match="TIGHTROPE_OAUTH_ISSUER"):
        create_app(load_settings(dev_mode=False))
    create_app(settings_for_tests(dev_mode=False, oauth_issuer="https://api.shop.example"))
    create_app(settings_for_tests(dev_mode=True))  # development may use the default


def test_the_issuer_is_read_from_the_environment_as_an_explicit_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIGHTROPE_OAUTH_ISSUER", "http://127.0.0.1:8000")
    monkeypatch.setenv("TIGHTROPE_DEV_MODE", "false")
    # Set on purpose (docker compose on this machine, say): served as asked.
    load_settings().require_serving_secrets()


@pytest.mark.parametrize(
    ("jwks_uri", "accepted"),
    [
        ("https://login.retailer.example/.well-known/jwks.json", True),
        ("http://127.0.0.1:9000/jwks.json", True),
        ("http://localhost:9000/jwks.json", True),
        ("http://[::1]:9000/jwks.json", True),
        ("http://login.retailer.example/.well-known/jwks.json", False),
        ("http://10.0.0.5/jwks.json", False),
        ("ftp://login.retailer.example/jwks.json", False),
    ],
)
def test_an_external_issuers_keys_are_fetched_over_https_only(
    jwks_uri: str, accepted: bool
) -> None:
    # Keys fetched over plain http could be swapped on the way: then anyone
    # could sign tokens the gateway accepts.
    issuer = {
        "issuer": "https://login.retailer.example",
        "jwks_uri": jwks_uri,
        "audience": "https://api.retailer.example",
    }
    if accepted:
        load_settings(oauth_external_issuers=[issuer])
        return
    with pytest.raises(SettingsError) as raised:
        load_settings(oauth_external_issuers=[issuer])
    message = str(raised.value)
    assert "TIGHTROPE_OAUTH_EXTERNAL_ISSUERS" in message
    assert "jwks_uri" in message and "https" in message
