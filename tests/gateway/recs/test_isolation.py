"""A strategy or blend that raises or hangs costs its own candidates; the blend goes on."""

from __future__ import annotations

import asyncio
import logging
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
    Recommendation,
    StrategyData,
    Subject,
)
from graph import Graph
from tests.gateway.conftest import Serve, gql, settings_for_tests
from tests.gateway.test_isolation import Plugin


class Exploding:
    name = "exploding"
    purpose = NOT_PERSONAL
    categories: frozenset[Any] = frozenset()

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        raise ValueError("the model file is corrupt")


class Stuck:
    name = "stuck"
    purpose = NOT_PERSONAL
    categories: frozenset[Any] = frozenset()

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        await asyncio.sleep(30)
        return []


SIMILAR = '{ product(sku: "chelsea") { similar(first: 5) { product { sku } strategy } } }'


async def test_a_strategy_that_raises_or_hangs_loses_only_its_candidates(
    shop: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async with served() as (_, client):
        alone = await gql(client, SIMILAR)
    plugins = [
        Plugin("exploding-recs", register_recommenders=lambda: [Exploding()]),
        Plugin("stuck-recs", register_recommenders=lambda: [Stuck()]),
    ]
    # A budget run out while any graph query of the process has waited half of
    # it is put down to the graph (gateway/host/isolation.py), and the built-in
    # strategies' queries run beside the stuck one: the budget is long enough
    # that a loaded machine's slow query does not make the hang look like Neo4j's.
    settings = settings_for_tests(plugin_budgets={"stuck-recs": 2.0})
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served(settings, plugins) as (_, client):
            with_broken = await gql(client, SIMILAR)
            named = await gql(
                client,
                '{ me { recommendations(strategy: "exploding") { score } } }',
                customer="ana",
            )
    # Named alone, its failure is that field's (masked: the client learns nothing of it).
    assert named["data"]["me"]["recommendations"] is None
    [error] = named["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "corrupt" not in str(named)
    assert "errors" not in with_broken
    # The blend went on without them: the same page as without the broken plugins.
    assert with_broken == alone
    assert with_broken["data"]["product"]["similar"]
    logged = [r.getMessage() for r in caplog.records]
    assert any("'exploding-recs' failed in strategy 'exploding'" in m for m in logged)
    assert any("'stuck-recs': strategy 'stuck' ran past its budget" in m for m in logged)


class ExplodingPersonal:
    """A strategy under the consent gate (it reads purchases for personalisation)."""

    name = "exploding-personal"
    purpose = PERSONALISATION
    categories = frozenset({DataCategory.PURCHASE_HISTORY})

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        raise ValueError("the feature store is down")


FOR_ME = "{ me { recommendations(first: 5) { product { sku } strategy } } }"


async def test_a_personal_strategy_that_raises_leaves_the_customers_blend_to_the_others(
    shop: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async with served() as (_, client):
        alone = await gql(client, FOR_ME, customer="ana")
    declared = Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}), categories=ExplodingPersonal.categories
    )
    broken = Plugin(
        "personal-recs",
        plugin_manifest=lambda: declared,
        register_recommenders=lambda: [ExplodingPersonal()],
    )
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served(plugins=[broken]) as (_, client):
            answer = await gql(client, FOR_ME, customer="ana")
    # Ana consented to personalisation: the gate let the strategy run, it failed,
    # and her page is what the other strategies make of it.
    assert "errors" not in answer, answer
    assert answer == alone and answer["data"]["me"]["recommendations"]
    assert any(
        "'personal-recs' failed in strategy 'exploding-personal'" in r.getMessage()
        for r in caplog.records
    )


def broken_blend(request: BlendRequest) -> Sequence[Recommendation]:
    raise RuntimeError("blend bug")


async def test_a_blend_that_raises_leaves_the_answer_to_the_next_blend(
    shop: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async with served() as (_, client):
        builtin = await gql(client, SIMILAR)
    blend = Plugin("shiny-blend", blend_recommendations=broken_blend)
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served(plugins=[blend]) as (_, client):
            answer = await gql(client, SIMILAR)
    assert answer == builtin
    assert any(
        "'shiny-blend' failed in blend_recommendations" in r.getMessage() for r in caplog.records
    )
