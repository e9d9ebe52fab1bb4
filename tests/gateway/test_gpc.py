"""Global Privacy Control: Sec-GPC: 1 refuses marketing and third-party sharing, recorded."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.oauth.passwords import hash_password
from graph import Graph, consent_history, consents_of_customers, set_consent
from graph.oauth import set_password_hash
from tests.gateway.conftest import Serve, codes, settings_for_tests
from tests.gateway.oauth.helpers import BASE, PASSWORD
from tests.gateway.test_privacy_page import sign_in

GPC = {"Sec-GPC": "1"}
CONSENTS = "{ me { consents { purpose granted source } } }"
GRANT = "mutation($p: String!) { setConsent(purpose: $p, granted: true) { granted source } }"
CONTACT = "{ me { id contact { email } } }"


def as_(kind: ClientKind, scopes: set[str]) -> Any:
    async def authenticate(request: Request) -> Principal:
        return Principal("app", kind, "c1", frozenset(scopes))

    return authenticate


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


async def answers(graph: Graph) -> dict[str, tuple[bool, str]]:
    current = (await consents_of_customers(graph, ["c1"]))[0]
    return {p: (c.granted, c.source) for p, c in current.items()}


async def test_the_signal_refuses_marketing_and_third_party_sharing_once_with_its_source(
    demo_graph: Graph, served: Serve
) -> None:
    for purpose in ("marketing", "personalisation"):
        await set_consent(demo_graph, "c1", purpose, True, source="api", version="1")
    own = as_(ClientKind.FIRST_PARTY, {"consent:read", "consent:write", "profile:read"})
    async with served(authenticate=own) as (_, client):
        without = await post(client, CONSENTS, {})
        assert (await answers(demo_graph))["marketing"] == (True, "api")
        first = await post(client, CONSENTS, GPC)
        second = await post(client, CONSENTS, GPC)
    assert "errors" not in without and "errors" not in first
    assert await answers(demo_graph) == {
        "marketing": (False, "gpc"),
        "third_party_sharing": (False, "gpc"),
        "personalisation": (True, "api"),
    }
    # The request that carried the signal already answered with the refusal.
    shown = {c["purpose"]: (c["granted"], c["source"]) for c in first["data"]["me"]["consents"]}
    assert shown["marketing"] == (False, "gpc")
    assert second["data"]["me"]["consents"] == first["data"]["me"]["consents"]
    history = await consent_history(demo_graph, "c1", 20, "marketing")
    assert [(h.granted, h.source) for h in history] == [(False, "gpc"), (True, "api")]


async def test_a_third_party_is_refused_in_the_request_that_carries_the_signal(
    demo_graph: Graph, served: Serve
) -> None:
    await set_consent(demo_graph, "c1", "third_party_sharing", True, source="page", version="1")
    app = as_(ClientKind.THIRD_PARTY, {"profile:read", "profile.contact:read"})
    async with served(authenticate=app) as (_, client):
        before = await post(client, CONTACT, {})
        during = await post(client, CONTACT, GPC)
    assert before["data"]["me"]["id"] == "c1"
    assert "CONSENT_REQUIRED" in codes(during)
    assert await answers(demo_graph) == {
        "third_party_sharing": (False, "gpc"),
        "marketing": (False, "gpc"),
    }


async def test_a_grant_the_customer_makes_after_the_signal_stands(
    demo_graph: Graph, served: Serve
) -> None:
    own = as_(ClientKind.FIRST_PARTY, {"consent:read", "consent:write"})
    async with served(authenticate=own) as (_, client):
        await post(client, CONSENTS, GPC)
        granted = await post(client, GRANT, GPC, p="marketing")
        later = await post(client, CONSENTS, GPC)
    assert granted["data"]["setConsent"] == {"granted": True, "source": "api"}
    shown = {c["purpose"]: c["granted"] for c in later["data"]["me"]["consents"]}
    assert shown["marketing"] is True and shown["third_party_sharing"] is False
    assert (await answers(demo_graph))["marketing"] == (True, "api")


async def test_an_anonymous_visitor_with_the_signal_changes_nothing(
    demo_graph: Graph, served: Serve
) -> None:
    async with served(settings_for_tests()) as (_, client):
        body = await post(client, '{ product(sku: "sku-001") { name } }', GPC)
    assert "errors" not in body
    assert await answers(demo_graph) == {}


async def test_the_privacy_page_records_the_signal_and_says_where_the_refusal_came_from(
    demo_graph: Graph,
) -> None:
    from gateway.app import create_app

    await demo_graph.write("CREATE (:Customer {id: 'kim', created_at: datetime()})")
    await set_password_hash(demo_graph, "kim", hash_password(PASSWORD), 0)
    await set_consent(demo_graph, "kim", "marketing", True, source="page", version="1")
    app = create_app(settings_for_tests(oauth_issuer=BASE))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        await sign_in(http)
        page = (await http.get("/privacy", headers=GPC)).text
    assert "Global Privacy Control" in page
    current = (await consents_of_customers(demo_graph, ["kim"]))[0]
    assert (current["marketing"].granted, current["marketing"].source) == (False, "gpc")
