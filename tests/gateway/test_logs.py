"""No token, password, client secret, email or PII key reaches the logs, at any level."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry

from gateway import FieldSpec, create_app, hookimpl
from gateway.web.logs import JsonFormatter, TextFormatter, scrub
from gateway.web.requestid import RequestIdLogFilter, request_id
from graph import Graph
from graph.pii import email_hmac
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import settings_for_tests
from tests.gateway.oauth.conftest import PASSWORD, add_client, add_customer
from tests.gateway.oauth.helpers import (
    BASE,
    authorize_url_for,
    authorized_code,
    bearer,
    exchange_code,
    pkce_pair,
    refresh,
    sign_in,
)

EMAIL = "jane.doe@example.com"


class Capture(logging.Handler):
    """Every record, at every level, formatted as the served gateway would (both formats)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdLogFilter())
        self.json = JsonFormatter()
        self.text = TextFormatter("%(levelname)s %(name)s [request %(request_id)s] %(message)s")
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.json.format(record))
        self.lines.append(self.text.format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def leaky(root: Any, info: strawberry.Info) -> str:
    # A third party's bug: its message holds what it should not.
    raise RuntimeError(f"could not reach {EMAIL} (password={PASSWORD})")


class LeakyPlugin:
    tightrope_name = "leaky-plugin"

    @hookimpl
    def register_fields(self) -> list[FieldSpec]:
        return [FieldSpec("Query", "leaky", "String", leaky)]


async def test_no_secret_or_contact_detail_reaches_the_logs_at_any_level(
    demo_graph: Graph, captured: Capture
) -> None:
    await add_customer(demo_graph, "c1")
    await demo_graph.write(
        "MATCH (c:Customer {id: 'c1'}) SET c.email_hmac = $h",
        {"h": email_hmac(EMAIL, TEST_PII_KEY)},
    )
    app = create_app(settings_for_tests(oauth_issuer=BASE), [LeakyPlugin()])
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            client = await add_client(app, "third_party", "profile:read purchases:read")
            # A wrong password first, then the right one; the customer signs in by email.
            await sign_in(http, authorize_url_for(client, "profile:read"), EMAIL, "wrong-pass-77")
            verifier, challenge = pkce_pair()
            code = await authorized_code(http, client, "profile:read", EMAIL, challenge)
            issued = await exchange_code(
                http, client, code, verifier, auth=(client.client_id, client.secret or "")
            )
            tokens = issued.json()
            # A refresh, the access token at /graphql, a bad one, a revocation, a replay.
            refreshed = (await refresh(http, client, tokens["refresh_token"])).json()
            await http.post(
                "/graphql",
                json={"query": "{ me { id } leaky }"},
                headers=bearer(refreshed["access_token"]),
            )
            await http.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers=bearer(tokens["access_token"][:-4] + "AAAA"),
            )
            await http.post(
                "/oauth/revoke",
                data={"token": refreshed["refresh_token"]},
                auth=(client.client_id, client.secret or ""),
            )
            await exchange_code(
                http, client, code, verifier, auth=(client.client_id, client.secret or "")
            )
    secrets = {
        "access token": tokens["access_token"],
        "its signature": tokens["access_token"].rsplit(".", 1)[1],
        "refresh token": tokens["refresh_token"],
        "second access token": refreshed["access_token"],
        "second refresh token": refreshed["refresh_token"],
        "authorization code": code,
        "PKCE verifier": verifier,
        "client secret": client.secret or "",
        "password": PASSWORD,
        "wrong password": "wrong-pass-77",
        "email": EMAIL,
        "email's local part": "jane.doe",
        "PII key": TEST_PII_KEY,
    }
    assert len(captured.lines) > 20  # DEBUG records of the driver, authlib, ours
    assert any("leaky-plugin" in line for line in captured.lines)  # the failure was logged
    for what, secret in secrets.items():
        assert secret
        leaked = [line for line in captured.lines if secret in line]
        assert not leaked, f"the {what} reached the logs: {leaked[0][:300]}"


def test_json_lines_carry_the_request_id_and_scrub_what_looks_secret() -> None:
    formatter = JsonFormatter()
    token = request_id.set("req-9")
    try:
        record = logging.LogRecord(
            "tightrope.x", logging.WARNING, __file__, 1, "sent %s to %s", None, None
        )
        record.args = ("Authorization: Bearer abc.def", "ann@shop.example")
        line = json.loads(formatter.format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "req-9"
    assert line["level"] == "WARNING" and line["logger"] == "tightrope.x"
    assert line["message"] == "sent Authorization: Bearer [redacted] to [email]"
    assert scrub("GET /cb?code=xyz123&state=1 refresh_token=r1") == (
        "GET /cb?code=[redacted]&state=1 refresh_token=[redacted]"
    )
    assert scrub("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjMSJ9.sig-part") == "[jwt]"
