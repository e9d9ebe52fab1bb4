"""The back office's view: `insights` over GraphQL, for a service's own token only."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.oauth.clients import ClientError, register_client
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests
from tests.gateway.insights.conftest import ANALYTICS, click_first_item, customer_or_backend
from tests.gateway.oauth.conftest import add_client, add_customer
from tests.gateway.oauth.helpers import bearer, bearer_for, tokens_for
from tests.gateway.oauth.test_gateway import gateway

INSIGHTS = """{ insights(days: 7) {
  asOf periodDays attributionWindowDays minCustomers holdoutShare experiment
  performance(by: PLACEMENT) { dimension name shoppers suppressed impressions clicks ctr
                               addToCarts conversions revenue rpm }
  lift { comparison status needed method treatment { name shoppers conversions rate }
         control { name shoppers } lift liftLow liftHigh pValue significant }
  findings(first: 5) { rank kind subject title effect low high pValue distance basis
                       shoppers action }
  suppressedFindings
  dormantData { kind category held dormant proposedForDeletion why
                readBy { plugin purpose reader lastUsedAt source } } } }"""


def as_(kind: ClientKind, customer: str | None) -> Any:
    async def authenticate(request: Request) -> Principal:
        scopes = request.app.state.registry.scope_names
        return Principal("app", kind, customer, scopes)

    return authenticate


async def test_the_back_office_reads_every_figure(shop: Graph, served: Serve) -> None:
    settings = settings_for_tests(insights_min_customers=3)
    async with served(settings, authenticate=customer_or_backend) as (app, client):
        for c in ANALYTICS:
            await click_first_item(client, c)
        await app.state.analytics.buffer.flush()
        body = await gql(client, INSIGHTS)
    assert "errors" not in body, body
    found = body["data"]["insights"]
    assert (found["periodDays"], found["attributionWindowDays"], found["minCustomers"]) == (7, 7, 3)
    (home_row,) = found["performance"]
    assert home_row["name"] == "home" and home_row["clicks"] == len(ANALYTICS)
    assert home_row["ctr"] == len(ANALYTICS) / home_row["impressions"]
    lift = found["lift"][0]
    assert lift["status"] == "not enough data yet" and lift["lift"] is None and lift["needed"]
    views = next(d for d in found["dormantData"] if d["kind"] == "views")
    assert views["held"] > 0 and views["dormant"] == (views["readBy"] == [])
    customers = next(d for d in found["dormantData"] if d["kind"] == "customers")
    assert customers["proposedForDeletion"] is False and customers["why"].startswith("kept:")


@pytest.mark.parametrize("kind", [ClientKind.FIRST_PARTY, ClientKind.PUBLIC])
async def test_a_token_issued_for_a_customer_never_reads_the_figures(
    shop: Graph, served: Serve, kind: ClientKind
) -> None:
    async with served(authenticate=as_(kind, "ana")) as (_, client):
        body = await gql(client, INSIGHTS)
    assert body["data"] is None or body["data"]["insights"] is None
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["missingScopes"] == ["insights:read"]


async def test_third_parties_never_hold_it(shop: Graph, served: Serve) -> None:
    async with served(authenticate=as_(ClientKind.THIRD_PARTY, None)) as (app, client):
        body = await gql(client, INSIGHTS)
        with pytest.raises(ClientError, match="cannot hold insights:read"):
            await register_client(
                shop, app.state.oauth.catalogue, name="Analytics Inc", kind="third_party",
                scopes=["insights:read"], redirect_uris=["https://a.example/cb"],
            )  # fmt: skip
    assert codes(body) == ["FORBIDDEN"]


async def test_the_authorization_server_leaves_it_out_of_a_customers_token(
    clean_graph: Graph,
) -> None:
    await add_customer(clean_graph, "kim")
    async with gateway() as (app, http):
        shop = await add_client(app, "first_party", "profile:read insights:read", trusted=True)
        tokens = await tokens_for(http, shop, "profile:read insights:read", "kim")
        assert tokens.scope == "profile:read"
        service_token = (
            await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "insights:read"},
                auth=(shop.client_id, shop.secret or ""),
            )
        ).json()
        answer = await http.post(
            "/graphql",
            json={"query": "{ insights { periodDays } }"},
            headers=bearer(service_token["access_token"]),
        )
        as_kim = await http.post(
            "/graphql",
            json={"query": "{ insights { periodDays } }"},
            headers=bearer(await bearer_for(app, "kim")),
        )
    assert service_token["scope"] == "insights:read"
    assert answer.json() == {"data": {"insights": {"periodDays": 28}}}
    assert codes(as_kim.json()) == ["FORBIDDEN"]
