"""Tokens hold what their subject may: no back office in a customer's token, no
local client behind another issuer's token."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from gateway.cli import cli
from gateway.oauth import OAuthService
from gateway.oauth.clients import ClientError
from gateway.oauth.devtokens import dev_token
from gateway.oauth.tokens import issue
from graph import Graph
from graph.oauth import FamilyRecord, create_family

from .conftest import add_client
from .helpers import authorized_code, bearer, exchange_code, pkce_pair, refresh

BACK_OFFICE = "customers:read"


async def test_a_customer_asking_for_nothing_never_gets_the_back_office(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    # The retailer's own web shop, trusted, may hold customers:read for its
    # services; a customer signing in through it asks for no scope at all,
    # which means "everything the client may hold".
    shop = await add_client(app, "first_party", f"profile:read {BACK_OFFICE}", trusted=True)
    verifier, challenge = pkce_pair()
    code = await authorized_code(http, shop, "", customer, challenge)
    answer = await exchange_code(
        http, shop, code, verifier, auth=(shop.client_id, shop.secret or "")
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["scope"] == "profile:read"
    me = (await http.get("/whoami", headers=bearer(tokens["access_token"]))).json()
    assert me["customer_id"] == customer and me["scopes"] == ["profile:read"]

    # Nor does a refresh: one that names it asks for more than was granted.
    wider = await refresh(http, shop, tokens["refresh_token"], scope=f"profile:read {BACK_OFFICE}")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    again = await refresh(http, shop, tokens["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["scope"] == "profile:read"
    later = (await http.get("/whoami", headers=bearer(again.json()["access_token"]))).json()
    assert BACK_OFFICE not in later["scopes"]


async def test_a_token_signed_with_the_back_office_for_a_customer_counts_without_it(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    # One issued before this rule (or forged with our own key): its family and
    # its claims both say customers:read, and it still counts for the customer only.
    service: OAuthService = app.state.oauth
    shop = await add_client(app, "first_party", f"profile:read {BACK_OFFICE}")
    now = int(time.time())
    family = FamilyRecord(
        uuid.uuid4().hex, shop.client_id, customer, ("profile:read", BACK_OFFICE), now + 300, None
    )
    await create_family(app.state.graph, family, now)
    token = issue(
        service.keys,
        issuer=service.config.issuer,
        audience=service.config.audience,
        client_id=shop.client_id,
        subject=customer,
        scopes={"profile:read", BACK_OFFICE},
        family_id=family.id,
        ttl=300,
    )
    me = (await http.get("/whoami", headers=bearer(token))).json()
    assert me["customer_id"] == customer and me["scopes"] == ["profile:read"]


async def test_tightrope_token_refuses_the_back_office_for_a_customer(
    app: Starlette, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: OAuthService = app.state.oauth
    shop = await add_client(app, "first_party", f"profile:read {BACK_OFFICE}")
    with pytest.raises(ClientError, match="never holds customers:read"):
        await dev_token(
            app.state.graph,
            service,
            client_id=shop.client_id,
            customer_id=customer,
            scopes=[BACK_OFFICE],
        )
    # The back office's own token (no customer) still gets it.
    assert await dev_token(
        app.state.graph, service, client_id=shop.client_id, customer_id=None, scopes=[BACK_OFFICE]
    )
    # And the command an operator types says so.
    monkeypatch.setenv("TIGHTROPE_OAUTH_KEYS_DIR", service.keys.directory.as_posix())
    monkeypatch.setenv("TIGHTROPE_OAUTH_ISSUER", service.config.issuer)
    monkeypatch.setenv("TIGHTROPE_DEV_MODE", "true")
    args = ["token", "--customer", customer, "--client", shop.client_id, "--scopes", BACK_OFFICE]
    # The command runs its own event loop: off this one, in a thread.
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code != 0
    assert "never holds customers:read" in result.output


async def test_the_gate_counts_no_back_office_scope_for_a_customer(clean_graph: Graph) -> None:
    from gateway.app import assemble
    from gateway.principal import ClientKind, Principal
    from tests.gateway.conftest import settings_for_tests

    gate = assemble(settings_for_tests()).gate
    every = frozenset({"profile:read", BACK_OFFICE})
    customer = Principal("shop", ClientKind.FIRST_PARTY, "c-1", every)
    service = Principal("shop", ClientKind.FIRST_PARTY, None, every)
    assert gate.for_request(customer, clean_graph).scopes == {"profile:read"}
    assert gate.for_request(service, clean_graph).scopes == every
