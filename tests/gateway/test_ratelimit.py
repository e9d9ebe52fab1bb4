"""Rate limits: the token bucket on a fake clock, and the limits as clients meet them over HTTP."""

from __future__ import annotations

import pytest

from gateway.oauth import OAuthService
from gateway.oauth.devtokens import dev_token
from gateway.web.ratelimit import Buckets
from graph import Graph
from tests.gateway.conftest import Serve, codes, settings_for_tests
from tests.gateway.oauth.conftest import add_client
from tests.gateway.oauth.helpers import BASE

TYPENAME = {"query": "{ __typename }"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = Buckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token every half second
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled to burst only
    assert buckets.take("a") > 0


def test_idle_buckets_are_dropped_and_the_table_is_bounded() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=2, max_keys=100, clock=clock)
    for i in range(50):
        buckets.take(f"ip-{i}")
    assert len(buckets) == 50
    clock.now += 2  # every bucket is full again: forgetting them changes nothing
    buckets.take("new")
    assert len(buckets) == 1
    for i in range(500):
        buckets.take(f"flood-{i}")
    assert len(buckets) <= 100


def test_a_refused_request_does_not_refill_the_bucket() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") == 0.0
    for _ in range(5):
        clock.now += 0.1
        assert buckets.take("a") > 0  # hammering keeps it empty-ish, never negative debt
    clock.now += 0.5
    assert buckets.take("a") == 0.0


async def test_graphql_over_the_limit_is_429_rate_limited(graph: Graph, served: Serve) -> None:
    settings = settings_for_tests(rate_limit_per_second=0.001, rate_limit_burst=2)
    async with served(settings) as (_, client):
        answers = [await client.post("/graphql", json=TYPENAME) for _ in range(3)]
        health = await client.get("/healthz")  # only /graphql is limited
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert codes(refused.json()) == ["RATE_LIMITED"]
    assert refused.json().get("data") is None  # the whole request is refused, not a field
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-request-id"]  # outer middleware still ran
    assert health.status_code == 200


async def test_each_client_has_its_own_bucket(demo_graph: Graph, served: Serve) -> None:
    settings = settings_for_tests(
        oauth_issuer=BASE, rate_limit_per_second=0.001, rate_limit_burst=2
    )
    # The real resource server, so the Principal comes from the bearer token.
    async with served(settings, authenticate=None) as (app, client):
        service: OAuthService = app.state.oauth
        tokens = []
        for name in ("shop", "app"):
            registered = await add_client(app, "first_party", "profile:read", name=name)
            tokens.append(
                await dev_token(
                    demo_graph, service, client_id=registered.client_id, customer_id=None, scopes=()
                )
            )

        async def ask(token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post("/graphql", json=TYPENAME, headers=headers)
            return response.status_code

        shop = [await ask(tokens[0]) for _ in range(3)]
        other = [await ask(tokens[1]), await ask(None), await ask(None), await ask(None)]
    assert shop == [200, 200, 429]
    # Another client, and anonymous callers (by IP), were not charged for shop's requests.
    assert other == [200, 200, 200, 429]


async def test_sign_in_endpoints_have_a_stricter_bucket_per_ip(graph: Graph, served: Serve) -> None:
    settings = settings_for_tests(oauth_issuer=BASE, sign_in_rate_per_minute=0.01, sign_in_burst=2)
    guess = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "guess"}
    async with served(settings) as (_, client):
        tries = [await client.post("/oauth/token", data=guess) for _ in range(3)]
        form = await client.post("/oauth/authorize", data={"password": "guess"})
        page = await client.get("/oauth/authorize")  # showing the form is not limited
        graphql = await client.post("/graphql", json=TYPENAME)
    assert 429 not in {t.status_code for t in tries[:2]}
    refused = tries[2]
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["cache-control"] == "no-store"
    assert form.status_code == 429 and "try again" in form.text
    assert page.status_code != 429
    assert graphql.status_code == 200


async def test_bad_bearer_tokens_are_limited_per_ip_like_wrong_passwords(
    graph: Graph, served: Serve
) -> None:
    settings = settings_for_tests(oauth_issuer=BASE, sign_in_rate_per_minute=0.01, sign_in_burst=2)
    junk = {"Authorization": "Bearer not.a.token"}
    async with served(settings, authenticate=None) as (_, client):
        tries = [await client.post("/graphql", json=TYPENAME, headers=junk) for _ in range(3)]
        anonymous = await client.post("/graphql", json=TYPENAME)
    assert [t.status_code for t in tries] == [401, 401, 429]
    assert codes(tries[2].json()) == ["RATE_LIMITED"]
    assert int(tries[2].headers["retry-after"]) >= 1
    # Requests without a token are not refused for the bad tokens sent before.
    assert anonymous.status_code == 200


def test_waiting_spends_nothing() -> None:
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=1, clock=clock)
    assert buckets.wait("a") == 0.0
    assert buckets.wait("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.wait("a") == pytest.approx(1.0)


async def test_a_rate_of_zero_turns_the_limits_off(graph: Graph, served: Serve) -> None:
    settings = settings_for_tests(
        rate_limit_per_second=0, rate_limit_burst=1, sign_in_rate_per_minute=0, sign_in_burst=1
    )
    async with served(settings) as (_, client):
        answers = [await client.post("/graphql", json=TYPENAME) for _ in range(5)]
        tokens = [await client.post("/oauth/token", data={}) for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert 429 not in {t.status_code for t in tokens}


async def test_several_instances_each_allow_their_share(graph: Graph, served: Serve) -> None:
    # Two gateways behind one balancer: each keeps its own buckets, so each
    # allows half of the limits set for the fleet.
    settings = settings_for_tests(
        rate_limit_per_second=0.001, rate_limit_burst=4, rate_limit_instances=2
    )
    async with served(settings) as (_, client):
        answers = [await client.post("/graphql", json=TYPENAME) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
