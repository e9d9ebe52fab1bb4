"""The blend, the seam and the plugin API of recommendations, over HTTP on the small shop."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from gateway import (
    NOT_PERSONAL,
    PERSONALISATION,
    BlendRequest,
    Candidate,
    DataCategory,
    Manifest,
    Purpose,
    Reason,
    Recommendation,
    StrategyData,
    Subject,
    SubjectKind,
    hookimpl,
)
from gateway.app import assemble
from gateway.host.manager import PluginError
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, grant, settings_for_tests
from tests.gateway.recs.conftest import BASKETS, FIRST_VISIT

SESSION_RECS = '{ session(id: "%s") { recommendations { score } } }'
FIRST_RECS = '{ session(id: "%s") { recommendations(first: 10) { score } } }' % FIRST_VISIT  # noqa: UP031

BLEND = """query($first: Int) { me { recommendations(first: $first) {
  product { sku inStock brand { id } } score strategy reasons { code text } } } }"""


class Plugin:
    def __init__(self, name: str, manifest: Manifest | None = None, **hooks: Any) -> None:
        self.tightrope_name = name
        if manifest is not None:
            self.plugin_manifest = hookimpl(lambda: manifest)
        for hook, value in hooks.items():
            setattr(self, hook, hookimpl(value))


def personal(*categories: DataCategory) -> Manifest:
    return Manifest(frozenset({Purpose.PERSONALISATION}), frozenset(categories))


def items_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"]["me"]["recommendations"]
    return found


async def test_the_blend_fills_the_page_without_repeats_purchases_or_empty_shelves(
    shop: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTROPE_BLEND_MAX_PER_BRAND", "2")
    async with served() as (_, client):
        items = items_of(await gql(client, BLEND, {"first": 8}, customer="ana"))
    skus = [item["product"]["sku"] for item in items]
    # Twelve products: two bought, one out of stock, and at most two per brand
    # of three brands leave six: the page holds all of them and nothing else.
    assert len(skus) == 6 == len(set(skus))
    assert not {sku for sku, _ in BASKETS["ana"]} & set(skus)
    assert "rain-coat" not in skus
    assert max(Counter(item["product"]["brand"]["id"] for item in items).values()) == 2
    # Personal matches first; what is popular fills the rest, below them.
    strategies = [item["strategy"] for item in items]
    assert strategies[0] == "collaborative"
    assert "trending" in strategies
    first_filler = strategies.index("trending")
    assert set(strategies[first_filler:]) == {"trending"}
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    # A product chosen by several strategies keeps each one's reason.
    socks = items[0]
    assert socks["product"]["sku"] == "socks"
    assert {r["code"] for r in socks["reasons"]} >= {"BOUGHT", "BOUGHT_TOGETHER"}


async def test_a_first_visit_customer_still_gets_a_full_page(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        items = items_of(await gql(client, BLEND, {"first": 5}, customer="bea"))
    assert len(items) == 5
    assert {item["strategy"] for item in items} == {"trending"}


async def test_consumables_may_be_suggested_again(
    shop: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = '{ me { recommendations(first: 10, strategy: "trending") { product { sku } } } }'
    async with served() as (_, client):
        before = items_of(await gql(client, query, customer="u1"))
    monkeypatch.setenv("TIGHTROPE_BLEND_REPURCHASE_CATEGORIES", "care")
    monkeypatch.setenv("TIGHTROPE_BLEND_REPURCHASE_AFTER_DAYS", "7")
    async with served() as (_, client):
        after = items_of(await gql(client, query, customer="u1"))
    # u1 bought socks and polish (shoe care) about 20 days ago, and boots.
    assert not {"socks", "polish", "chelsea"} & {i["product"]["sku"] for i in before}
    again = {i["product"]["sku"] for i in after}
    assert {"socks", "polish"} <= again and "chelsea" not in again


async def test_strategies_the_seam_refuses_are_not_run_and_the_reasons_say_so(
    shop: Graph, served: Serve
) -> None:
    # Ana said no to personalisation: the gate refuses every personal strategy,
    # so only what is not personal runs, and the list says what was left out.
    await grant(shop, "ana", "personalisation", granted=False)
    query = """{ me { recommendations(first: 3) {
      product { sku } strategy reasons { code text } } } }"""
    async with served() as (_, client):
        body = await gql(client, query, customer="ana")
    items = body["data"]["me"]["recommendations"]
    assert len(items) == 3
    assert {item["strategy"] for item in items} == {"trending"}
    [skipped] = [r for r in items[0]["reasons"] if r["code"] == "STRATEGY_SKIPPED"]
    assert skipped["text"].startswith("Not used: affinity, bought-together, collaborative (")
    assert "personalisation" in skipped["text"]
    assert "errors" not in body


async def test_a_strategy_named_without_consent_answers_consent_required(
    shop: Graph, served: Serve
) -> None:
    # Not an empty list, which would read as "nothing to suggest": the reason.
    await grant(shop, "ana", "personalisation", granted=False)
    query = '{ me { id recommendations(strategy: "collaborative") { score } } }'
    async with served() as (_, client):
        body = await gql(client, query, customer="ana")
        anyone = await gql(
            client, '{ me { recommendations(strategy: "trending") { score } } }', customer="ana"
        )
    assert body["data"]["me"] == {"id": "ana", "recommendations": None}
    [error] = body["errors"]
    assert error["path"] == ["me", "recommendations"]
    assert error["extensions"] == {
        "code": "CONSENT_REQUIRED",
        "strategy": "collaborative",
        "purpose": "personalisation",
        "category": "purchase_history",
        "categories": ["purchase_history"],
    }
    assert "collaborative" in error["message"] and "personalisation" in error["message"]
    # A strategy that reads nothing personal needs no consent.
    assert "errors" not in anyone and anyone["data"]["me"]["recommendations"]


class NorthbrookOnly:
    """A brand-loyal strategy: every boot by Northbrook."""

    name = "northbrook-only"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        page = await data.catalogue(brand_id="northbrook")
        return [Candidate(p.sku, 1.0) for p in page.products][:count]


async def test_the_per_brand_cap_holds_in_the_blend_and_not_for_a_strategy_named_alone(
    shop: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTROPE_BLEND_MAX_PER_BRAND", "2")
    loyal = Plugin("loyal-plugin", register_recommenders=lambda: [NorthbrookOnly()])
    alone = '{ me { recommendations(first: 10, strategy: "northbrook-only") { product { sku } } } }'
    async with served(plugins=[loyal]) as (_, client):
        named = items_of(await gql(client, alone, customer="ana"))
        blended = items_of(await gql(client, BLEND, {"first": 10}, customer="ana"))
    # Five Northbrook boots, two of them bought by Ana: all three others, alone.
    assert [item["product"]["sku"] for item in named] == ["ankle", "desert", "rain-boots"]
    brands = Counter(item["product"]["brand"]["id"] for item in blended)
    assert brands["northbrook"] == 2


async def test_a_skipped_strategy_is_never_called(shop: Graph, served: Serve) -> None:
    calls: list[Subject] = []

    class Spy:
        name = "spy"
        purpose = PERSONALISATION
        categories = frozenset({DataCategory.PURCHASE_HISTORY})
        subjects = frozenset({SubjectKind.CUSTOMER})

        async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Any]:
            calls.append(subject)
            return []

    spy = Plugin(
        "spy", personal(DataCategory.PURCHASE_HISTORY), register_recommenders=lambda: [Spy()]
    )
    async with served(plugins=[spy]) as (_, client):
        await grant(shop, "ana", "personalisation", granted=False)
        await gql(client, "{ me { recommendations { score } } }", customer="ana")
        # Nor is it called for a kind of subject it does not serve.
        await gql(client, SESSION_RECS % FIRST_VISIT)
        assert calls == []
        await grant(shop, "ana", "personalisation")
        await gql(client, "{ me { recommendations { score } } }", customer="ana")
        assert calls == [Subject.customer("ana")]


async def test_a_third_party_strategy_from_an_entry_point_is_blended_in(
    shop: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests/plugin_example registers `staff-picks` through its entry point.
    monkeypatch.setenv("TIGHTROPE_EXAMPLE_STAFF_PICKS", "parka,rain-coat")
    async with served() as (app, client):
        items = items_of(await gql(client, BLEND, {"first": 10}, customer="ana"))
        alone = await gql(
            client,
            '{ me { recommendations(strategy: "staff-picks") { product { sku } strategy } } }',
            customer="ana",
        )
    assert app.state.assembly.recommendations.strategies["staff-picks"].plugin == "example-badges"
    picked = [item for item in items if item["strategy"] == "staff-picks"]
    assert [item["product"]["sku"] for item in picked] == ["parka"]  # the rain coat is sold out
    assert picked[0]["reasons"][0] == {"code": "STAFF_PICK", "text": "Our staff love Parka"}
    assert alone["data"]["me"]["recommendations"] == [
        {"product": {"sku": "parka"}, "strategy": "staff-picks"}
    ]


async def test_a_strategy_reaching_for_undeclared_data_loses_its_candidates_and_says_so_alone(
    shop: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    class Nosy:
        name = "nosy"
        purpose = PERSONALISATION
        categories = frozenset({DataCategory.BROWSING_HISTORY})

        async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Any]:
            await data.purchases()  # declared browsing only
            return []

    # The plugin declares browsing history; its strategy reaches for purchases.
    nosy = Plugin(
        "nosy-plugin",
        personal(DataCategory.BROWSING_HISTORY),
        register_recommenders=lambda: [Nosy()],
    )
    query = "{ me { recommendations { product { sku } strategy } } }"
    async with served() as (_, client):
        without = await gql(client, query, customer="ana")
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served(plugins=[nosy]) as (_, client):
            blended = await gql(client, query, customer="ana")
            alone = await gql(
                client, '{ me { recommendations(strategy: "nosy") { score } } }', customer="ana"
            )
    # In the blend it costs only its own candidates: the page the others make.
    assert blended == without and blended["data"]["me"]["recommendations"]
    # Named alone, the field says which strategy reached for what.
    assert alone["data"]["me"]["recommendations"] is None
    [error] = alone["errors"]
    assert error["extensions"] == {
        "code": "FORBIDDEN",
        "plugin": "nosy-plugin",
        "strategy": "nosy",
        "undeclared": ["category purchase_history"],
    }
    assert "'nosy'" in error["message"] and "purchase_history" in error["message"]
    # The operator sees it too, by plugin, strategy and category.
    [line, *_] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert all(w in line.getMessage() for w in ("'nosy-plugin'", "'nosy'", "purchase_history"))


async def test_bad_input_is_bad_user_input_or_not_found(shop: Graph, served: Serve) -> None:
    async with served() as (_, client):
        too_many = await gql(
            client, "{ me { recommendations(first: 1000) { score } } }", customer="ana"
        )
        none = await gql(client, "{ me { recommendations(first: 0) { score } } }", customer="ana")
        unknown = await gql(
            client, '{ me { recommendations(strategy: "magic") { score } } }', customer="ana"
        )
        similar = await gql(client, '{ product(sku: "chelsea") { similar(first: 101) { score } } }')
        missing = await gql(
            client, '{ session(id: "no-such-visit") { recommendations { score } } }'
        )
    assert codes(too_many) == codes(none) == codes(unknown) == codes(similar) == ["BAD_USER_INPUT"]
    assert "magic" in unknown["errors"][0]["message"]
    assert "collaborative" in unknown["errors"][0]["message"]  # the known names are listed
    assert codes(missing) == ["NOT_FOUND"]


async def test_customer_recommendations_need_their_scope(shop: Graph, served: Serve) -> None:
    from starlette.requests import Request

    from gateway import ClientKind, Principal

    async def profile_only(request: Request) -> Principal:
        return Principal("app", ClientKind.FIRST_PARTY, "ana", frozenset({"profile:read"}))

    async with served(authenticate=profile_only) as (_, client):
        body = await gql(client, "{ me { id recommendations { score } } }")
    assert body["data"]["me"] == {"id": "ana", "recommendations": None}
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["missingScopes"] == ["recommendations:read"]


async def test_warm_requests_cost_one_read_of_the_shopper_and_none_for_a_product(
    shop: Graph, served: Serve
) -> None:
    queries = {
        "customer": "{ me { recommendations(first: 10) { product { name } reasons { text } } } }",
        "session": FIRST_RECS,
        "product": '{ product(sku: "chelsea") { similar(first: 10) { product { name } } } }',
    }
    async with served() as (app, client):
        graph: Graph = app.state.graph
        sent: list[str] = []
        read = graph.read

        async def counted(query: Any, params: Any = None) -> Any:
            sent.append(query)
            return await read(query, params)

        graph.read = counted  # type: ignore[method-assign]
        reads: dict[str, list[str]] = {}
        for name, query in queries.items():
            customer = "ana" if name == "customer" else None
            await gql(client, query, customer=customer)  # fills the caches
            sent.clear()
            body = await gql(client, query, customer=customer)
            assert "errors" not in body, body
            # Leave out the looks at the caches' versions (at most once a second each).
            reads[name] = [q for q in sent if "Version" not in q]
    # `me` and `session` read the customer or the visit; a customer's consents
    # are read once (the gate asks before personal strategies); then all the
    # strategies share one read of the profile. The aggregates and the catalogue
    # come from the caches, so a product page reads nothing.
    assert [len(r) for r in reads.values()] == [3, 2, 0]
    assert "CONSENT" in reads["customer"][1] and "PURCHASED" in reads["customer"][2]
    assert "VIEWED" in reads["session"][1]


def test_hook_register_recommenders_refuses_what_does_not_say_what_it_reads() -> None:
    class Vague:
        name = "vague"
        purpose = PERSONALISATION
        categories: frozenset[DataCategory] = frozenset()

        async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Any]:
            return []

    class Leaky(Vague):
        name = "leaky"
        purpose = NOT_PERSONAL
        categories = frozenset({DataCategory.PURCHASE_HISTORY})

    class Clash(Vague):
        name = "trending"
        purpose = NOT_PERSONAL

    for cls, message in (
        (Vague, r"'vague' of plugin 'p'.*must declare what it reads"),
        (Leaky, r"'leaky' of plugin 'p'.*cannot read personal data"),
        (Clash, r"'trending' is registered by both 'p' and 'tightrope-trending'"),
    ):
        with pytest.raises(PluginError, match=message):
            assemble(settings_for_tests(), [Plugin("p", register_recommenders=lambda c=cls: [c()])])


@pytest.mark.single_run  # counts what its plugin is asked
async def test_hook_blend_recommendations_a_plugin_replaces_the_built_in_blend(
    shop: Graph, served: Serve
) -> None:
    seen: list[BlendRequest] = []

    def cheapest_first(request: BlendRequest) -> Sequence[Recommendation]:
        seen.append(request)
        candidates = {c.sku for r in request.results for c in r.candidates}
        products = sorted(
            (request.products[s] for s in candidates if s in request.products),
            key=lambda p: (p.price or 0, p.sku),
        )
        reason = Reason("HOUSE_BLEND", "Chosen by our own blend")
        return [Recommendation(p, 1.0, "house", (reason,)) for p in products][: request.count]

    house = Plugin("house-blend", blend_recommendations=cheapest_first)
    async with served(plugins=[house]) as (_, client):
        items = items_of(await gql(client, BLEND, {"first": 3}, customer="ana"))
    assert len(items) == 3
    assert {item["strategy"] for item in items} == {"house"}
    assert items[0]["reasons"] == [{"code": "HOUSE_BLEND", "text": "Chosen by our own blend"}]
    [request] = seen
    assert request.subject == Subject.customer("ana")
    ran = {r.strategy.name for r in request.results}
    assert {"collaborative", "affinity", "trending", "staff-picks"} <= ran
    assert set(request.owned) == {sku for sku, _ in BASKETS["ana"]}
    assert all(isinstance(c, Candidate) for r in request.results for c in r.candidates)
