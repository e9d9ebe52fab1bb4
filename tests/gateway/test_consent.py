"""The consent gate: purposes, policies, third parties, and what it costs.

The customers' consents are real graph data (written as the API writes them);
the principals stand in for checked tokens, so that round trips counted here
are the request's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from starlette.requests import Request

from gateway import (
    ClientKind,
    ConsentQuestion,
    DataCategory,
    Decision,
    FieldSpec,
    Manifest,
    Principal,
    Purpose,
    hookimpl,
)
from graph import Graph, connect, set_consent
from tests.gateway.conftest import ANA, Serve, codes, gql, grant, settings_for_tests


def principal(kind: ClientKind | None, customer: str | None, *scopes: str) -> Callable[..., Any]:
    async def authenticate(request: Request) -> Principal:
        return Principal(
            "client-1" if kind else None, kind, customer, frozenset(scopes), customer_exists=True
        )

    return authenticate


EVERYTHING = (
    "profile:read",
    "purchases:read",
    "browsing:read",
    "devices:read",
    "consent:read",
    "consent:write",
    "customers:read",
)
FIRST_PARTY = principal(ClientKind.FIRST_PARTY, ANA, *EVERYTHING)
THIRD_PARTY = principal(ClientKind.THIRD_PARTY, ANA, *EVERYTHING)


def quiet() -> Any:
    """Settings whose access log waits (a minute) until the test flushes it."""
    return settings_for_tests(access_log_flush_seconds=60)


def errors_by_path(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {".".join(map(str, e["path"])): e for e in body.get("errors", [])}


async def reads(app: Any, client: Any, query: str) -> tuple[int, dict[str, Any]]:
    graph: Graph = app.state.graph
    # The client's registered operations are read on its first request, then kept
    # (gateway/graphql/operations.py): the count is of the query's own reads.
    await gql(client, "{ __typename }")
    before = graph.round_trips
    body = await gql(client, query)
    return graph.round_trips - before, body


# -- the purpose of a field ----------------------------------------------------------


async def test_a_field_whose_purpose_is_not_granted_is_null_with_consent_required(
    ana: Graph, served: Serve
) -> None:
    query = "{ me { id purchases { nodes { orderId } } recentlyViewed { product { sku } } } }"
    async with served(authenticate=FIRST_PARTY) as (_, client):
        refused = await gql(client, query)
        await grant(ana, ANA, "personalisation")
        granted = await gql(client, query)

    me = refused["data"]["me"]
    assert me["id"] == ANA and me["purchases"]["nodes"]  # service: scopes only
    assert me["recentlyViewed"] is None
    error = errors_by_path(refused)["me.recentlyViewed"]
    assert error["extensions"] == {
        "code": "CONSENT_REQUIRED",
        "purpose": "personalisation",
        "category": "browsing_history",
    }
    assert "me.recentlyViewed" in error["message"]
    assert "errors" not in granted
    assert granted["data"]["me"]["recentlyViewed"] == [{"product": {"sku": "sku-001"}}]


async def test_a_withdrawal_bites_on_the_very_next_request_of_every_process(
    ana: Graph, served: Serve, neo4j_settings: Any
) -> None:
    viewed = "{ me { recentlyViewed { product { sku } } } }"
    withdraw = 'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }'
    async with served(authenticate=FIRST_PARTY) as (_, client):
        await grant(ana, ANA, "personalisation")
        before = await gql(client, viewed)
        assert (await gql(client, withdraw))["data"]["setConsent"] == {"granted": False}
        after = await gql(client, viewed)
        # Granted again by another process (its own driver): nothing here is cached.
        elsewhere = connect(neo4j_settings)
        try:
            await set_consent(elsewhere, ANA, "personalisation", True, source="page", version="1")
        finally:
            await elsewhere.close()
        again = await gql(client, viewed)
    assert before["data"]["me"]["recentlyViewed"]
    assert after["data"]["me"]["recentlyViewed"] is None
    assert codes(after) == ["CONSENT_REQUIRED"]
    assert again["data"]["me"]["recentlyViewed"]


async def test_the_default_regime_is_opt_in_and_opt_out_is_a_setting(
    ana: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    await demo_customer(ana, "bo", refused=("personalisation",))
    query = "{ me { recentlyViewed { product { sku } } } }"
    answers = {}
    for regime in ("opt_in", "opt_out"):
        monkeypatch.setenv("TIGHTROPE_CONSENT_REGIME", regime)
        for who in (ANA, "bo"):
            async with served(authenticate=principal(ClientKind.FIRST_PARTY, who, *EVERYTHING)) as (
                _,
                client,
            ):
                answers[regime, who] = codes(await gql(client, query))
    # Ana never answered: the regime decides. Bo refused: no regime overrides him.
    assert answers["opt_in", ANA] == ["CONSENT_REQUIRED"]
    assert answers["opt_out", ANA] == []
    assert answers["opt_in", "bo"] == answers["opt_out", "bo"] == ["CONSENT_REQUIRED"]


async def demo_customer(graph: Graph, customer: str, refused: tuple[str, ...] = ()) -> None:
    await graph.write("CREATE (:Customer {id: $id})", {"id": customer})
    await grant(graph, customer, *refused, granted=False)


# -- third parties ---------------------------------------------------------------------


async def test_a_third_party_needs_third_party_sharing_whatever_its_scopes(
    ana: Graph, served: Serve
) -> None:
    query = "{ me { id createdAt purchases { nodes { orderId } } } }"
    await grant(ana, ANA, "personalisation", "analytics", "marketing", "cross_device")
    async with served(authenticate=THIRD_PARTY) as (_, client):
        refused = await gql(client, query)
        await grant(ana, ANA, "third_party_sharing")
        allowed = await gql(client, query)
    assert refused["data"] == {"me": None}
    [error] = refused["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"]["purpose"] == "third_party_sharing"
    assert error["extensions"]["category"] == "profile"
    assert "errors" not in allowed
    assert allowed["data"]["me"]["purchases"]["nodes"]


async def test_client_kinds_limit_scopes_whatever_the_token_says(ana: Graph, served: Serve) -> None:
    # A third party's principal claiming the back office's and consent-writing
    # scopes holds neither: ScopeSpec.kinds, applied by the gate itself.
    await grant(ana, ANA, "third_party_sharing")
    async with served(authenticate=THIRD_PARTY) as (_, client):
        by_id = await gql(client, f'{{ customer(id: "{ANA}") {{ id }} }}')
        change = await gql(
            client, 'mutation { setConsent(purpose: "marketing", granted: true) { granted } }'
        )
    assert errors_by_path(by_id)["customer"]["extensions"]["missingScopes"] == ["customers:read"]
    assert errors_by_path(change)["setConsent"]["extensions"]["missingScopes"] == ["consent:write"]
    history = await ana.read(
        "MATCH (:Customer {id: $id})-[h:CONSENT_CHANGE]->() WHERE h.purpose = 'marketing' RETURN h",
        {"id": ANA},
    )
    assert history == []


# -- cost -------------------------------------------------------------------------------


async def test_a_service_read_by_the_retailers_own_frontend_reads_no_consent(
    ana: Graph, served: Serve
) -> None:
    async with served(quiet(), authenticate=FIRST_PARTY) as (app, client):
        used, body = await reads(
            app, client, "{ me { purchases { nodes { at } } cart { addedAt } } }"
        )
    assert "errors" not in body, body
    assert used == 2  # the purchases and the basket: no consent read, no log write


async def test_consents_are_read_once_per_request(ana: Graph, served: Serve) -> None:
    await grant(ana, ANA, "personalisation", "third_party_sharing")
    query = """{ me { a: recentlyViewed { viewedAt } b: recentlyViewed(first: 1) { viewedAt }
                      purchases { nodes { at } } cart { addedAt } createdAt } }"""
    async with served(quiet(), authenticate=THIRD_PARTY) as (app, client):
        used, body = await reads(app, client, query)
    assert "errors" not in body, body
    # One consent read for every field; then the views (both batched), the
    # purchases, the basket and the customer node for createdAt.
    assert used == 5


# -- policies --------------------------------------------------------------------------


class Policy:
    def __init__(self, name: str, decide: Callable[[ConsentQuestion], Any]) -> None:
        self.tightrope_name = name
        self.decide = decide

    @hookimpl
    def register_consent_policies(self) -> list[Any]:
        return [self]


def no_purchases(question: ConsentQuestion) -> Decision:
    if DataCategory.PURCHASE_HISTORY in question.categories:
        return question.deny("purchase history is under review")
    return question.allow()


async def test_hook_register_consent_policies_all_must_allow(ana: Graph, served: Serve) -> None:
    await grant(ana, ANA, "personalisation")
    query = "{ me { id purchases { nodes { at } } recentlyViewed { viewedAt } } }"
    async with served(plugins=[Policy("review", no_purchases)], authenticate=FIRST_PARTY) as (
        _,
        client,
    ):
        body = await gql(client, query)
    errors = errors_by_path(body)
    # Even a service read: a policy may take away what scopes allow.
    assert list(errors) == ["me.purchases"]
    assert errors["me.purchases"]["extensions"]["purpose"] == "service"
    assert "under review" in errors["me.purchases"]["message"]
    assert body["data"]["me"]["recentlyViewed"]


async def test_with_no_policy_only_service_reads_are_allowed(ana: Graph, served: Serve) -> None:
    await grant(ana, ANA, "personalisation", "third_party_sharing")
    # Every installed plugin with a policy: the built-in and the examples'.
    policies = ("tightrope-consent", "example-policy", "example-consent-renewal")
    settings = settings_for_tests(disabled_plugins=policies)
    query = "{ me { purchases { nodes { at } } recentlyViewed { viewedAt } } }"
    async with served(settings, authenticate=FIRST_PARTY) as (_, client):
        first_party = await gql(client, query)
    async with served(settings, authenticate=THIRD_PARTY) as (_, client):
        third_party = await gql(client, query)
    assert first_party["data"]["me"]["purchases"]["nodes"]
    assert list(errors_by_path(first_party)) == ["me.recentlyViewed"]
    assert "no consent policy" in errors_by_path(first_party)["me.recentlyViewed"]["message"]
    assert third_party["data"] == {"me": None}


async def test_a_policy_that_fails_refuses(ana: Graph, served: Serve) -> None:
    def broken(question: ConsentQuestion) -> Decision:
        raise RuntimeError("policy bug")

    async with served(plugins=[Policy("broken", broken)], authenticate=FIRST_PARTY) as (_, client):
        body = await gql(client, '{ me { id } product(sku: "sku-001") { sku } }')
    assert body["data"] == {"me": None, "product": {"sku": "sku-001"}}
    assert codes(body) == ["CONSENT_REQUIRED"]
    assert "policy bug" not in str(body)


async def test_hook_register_consent_policies_from_an_entry_point(
    ana: Graph, served: Serve
) -> None:
    """tests/plugin_example ships ``example-policy``: no device data for public clients."""
    query = "{ me { createdAt devices { id } } }"
    answers = {}
    for kind in (ClientKind.PUBLIC, ClientKind.FIRST_PARTY):
        auth = principal(kind, ANA, "profile:read", "devices:read")
        async with served(authenticate=auth) as (app, client):
            answers[kind] = await gql(client, query)
            loaded = {p.name: p for p in app.state.plugins.describe()}
    assert loaded["example-policy"].package == "tightrope-example-plugin"
    public = answers[ClientKind.PUBLIC]
    assert public["data"]["me"]["createdAt"] is not None
    assert public["data"]["me"]["devices"] is None
    error = errors_by_path(public)["me.devices"]
    assert error["extensions"]["category"] == "device"
    assert "never see device data" in error["message"]
    assert answers[ClientKind.FIRST_PARTY]["data"]["me"]["devices"] == [{"id": "ana-phone"}]


# -- the seam for strategies --------------------------------------------------------------


async def strategy(root: object, info: strawberry.Info) -> str:
    decision = await info.context.gate.decide(
        purpose="personalisation",
        categories=["purchase_history"],
        plugin="co-purchase",
        read="strategy co-purchase",
    )
    return f"{decision.allowed} {decision.purpose} {decision.reason}"


class Strategy:
    tightrope_name = "co-purchase"

    @hookimpl
    def plugin_manifest(self) -> Manifest:
        return Manifest(
            frozenset({Purpose.PERSONALISATION}), frozenset({DataCategory.PURCHASE_HISTORY})
        )

    @hookimpl
    def register_fields(self) -> list[FieldSpec]:
        return [FieldSpec("Query", "strategyCheck", "String!", strategy)]


async def test_plugin_code_asks_the_gate_with_one_call(ana: Graph, served: Serve) -> None:
    answers = []
    async with served(quiet(), plugins=[Strategy()], authenticate=FIRST_PARTY) as (app, client):
        answers.append((await gql(client, "{ strategyCheck }"))["data"]["strategyCheck"])
        await grant(ana, ANA, "personalisation")
        answers.append((await gql(client, "{ strategyCheck }"))["data"]["strategyCheck"])
        await app.state.access_log.flush()
    async with served(quiet(), plugins=[Strategy()], authenticate=THIRD_PARTY) as (_, client):
        answers.append((await gql(client, "{ strategyCheck }"))["data"]["strategyCheck"])
    assert answers == [
        "False personalisation the customer has not granted personalisation",
        "True personalisation None",
        "False third_party_sharing the customer has not granted third_party_sharing",
    ]
    records = await ana.read(
        "MATCH (a:AccessRecord)-[:ABOUT]->(:Customer {id: $id}) RETURN a.plugin AS plugin, "
        "a.purpose AS purpose, a.categories AS categories, a.fields AS fields",
        {"id": ANA},
    )
    assert records == [
        {
            "plugin": "co-purchase",
            "purpose": "personalisation",
            "categories": ["purchase_history"],
            "fields": ["strategy co-purchase"],
        }
    ]


# -- consent_withdrawn -----------------------------------------------------------------------


class Deriver:
    """A plugin that derived data and must drop it when consent goes."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.tightrope_name = name
        self.fail = fail
        self.told: list[tuple[str, str]] = []

    @hookimpl
    def consent_withdrawn(self, customer_id: str, purpose: str) -> Any:
        async def drop() -> None:
            if self.fail:
                raise RuntimeError("could not drop")
            self.told.append((customer_id, purpose))

        return drop()


async def test_hook_consent_withdrawn_tells_every_plugin(ana: Graph, served: Serve) -> None:
    broken, deriver = Deriver("broken", fail=True), Deriver("deriver")
    change = 'mutation { setConsent(purpose: "%s", granted: %s) { granted } }'
    async with served(plugins=[broken, deriver], authenticate=FIRST_PARTY) as (_, client):
        granted = await gql(client, change % ("marketing", "true"))
        withdrawn = await gql(client, change % ("marketing", "false"))
    assert "errors" not in granted and "errors" not in withdrawn
    # Told of the withdrawal only, despite the plugin before it failing.
    assert deriver.told == [(ANA, "marketing")]
