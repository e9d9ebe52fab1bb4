"""W2 for the raw system: a customer's recommendations with the gateway's reads and ranking.

The gateway's recommendation path (gateway/strategies/runner.py) for
``me { recommendations(first: 10) { product { sku name brand { name } } score
reasons { text } } }`` sends, when nothing is cached, these reads one after
the other (the third is two statements at once, as its two DataLoaders
dispatch them):

1. the token family's liveness (``live_family``; bench/raw.py ``Raw.live``);
2. the customer's consents (``consents_of_customers``): the gate's question
   for each personal strategy;
3. the profile (``profile_of``), only the parts the allowed strategies
   declared: purchases (collaborative, bought-together) and derived
   preferences (affinity);
4. ``related_of`` for every item-to-item key the strategies ask for and
   ``rankings_of`` for every ranking, side by side;
5. ``products_by_sku`` for every candidate (the blend's catalogue facts);
6. ``brands_by_id`` for the brands of the items shown (``brand { name }``).

This module sends the same statements, with the same parameters, in that
order, through the same graph/ functions, and ranks with the same code: the
built-in strategies' ``recommend`` and the built-in blend, fed from what was
read. So the gateway and raw must answer the same items, scores and reasons,
and the bench checks that they do before measuring. What raw leaves out is the
host around that code: GraphQL, the gate (its decisions and the access log's
records), the runner and its DataLoaders, and the caches. Raw keeps nothing
between requests; the gateway keeps the aggregates and the catalogue
(gateway/strategies/data.py), so it sends fewer reads once warm.

The keys of read 4 are worked out here from what the strategies are known to
ask for; a strategy asking for anything else fails the request (the data
object raises), so a change to the strategies shows as a failed check rather
than as a quietly different workload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from gateway import BlendRequest, Registered, StrategyResult, Subject
from gateway.strategies.data import MAX_RANKED, MAX_RELATED
from gateway.strategies.runner import MIN_CANDIDATES, OVERSAMPLE
from graph import Graph, Neo4jSettings, Product, brands_by_id, connect, products_by_sku
from graph.consent import consents_of_customers
from graph.recs import Profile, ProfileKey, Ranked, Related, profile_of, rankings_of, related_of
from plugins.recommenders.affinity import RANKING as AFFINITY_RANKING
from plugins.recommenders.affinity import Affinity, AffinitySettings
from plugins.recommenders.blend import BlendSettings, blend_recommendations
from plugins.recommenders.collaborative import KIND as EASE
from plugins.recommenders.collaborative import Collaborative, CollaborativeSettings
from plugins.recommenders.item_to_item import (
    BOUGHT,
    VIEWED,
    BoughtTogether,
    ItemToItemSettings,
    Similar,
)
from plugins.recommenders.trending import KIND as TRENDING
from plugins.recommenders.trending import Trending, TrendingSettings

PERSONALISATION = "personalisation"
# Purchases the bought-together strategy weighs (plugins/recommenders/item_to_item.py).
BOUGHT_TOGETHER_HISTORY = 50


class Unprepared(Exception):
    """A strategy asked raw for data it did not read: the workload drifted."""


class Prefetched:
    """What a strategy reads, served from raw's reads (the duck type of StrategyData)."""

    def __init__(
        self,
        profile: Profile,
        related: dict[tuple[str, str], tuple[Related, ...]],
        rankings: dict[tuple[str, str], tuple[Ranked, ...]],
        products: dict[str, Product] | None = None,
        graph: Graph | None = None,
    ) -> None:
        self._profile = profile
        self._related = related
        self._rankings = rankings
        self._products = products or {}
        self._graph = graph

    async def purchases(self, customer_id: str | None = None) -> tuple[Any, ...]:
        return self._profile.purchases

    async def preferences(self, customer_id: str | None = None) -> tuple[Any, ...]:
        return self._profile.preferences

    async def related(
        self, skus: Iterable[str], kind: str, per_item: int = 50
    ) -> dict[str, tuple[Related, ...]]:
        out = {}
        for sku in dict.fromkeys(skus):
            if (sku, kind) not in self._related:
                raise Unprepared(f"related {(sku, kind)} was not read")
            out[sku] = self._related[(sku, kind)][:per_item]
        return out

    async def ranking(self, kind: str, scope: str = "*", limit: int = 50) -> tuple[Ranked, ...]:
        if (kind, scope) not in self._rankings:
            if self._graph is None:
                raise Unprepared(f"ranking {(kind, scope)} was not read")
            # Trending's second try (a category without a ranking): one more
            # read, after the first, as the gateway makes it.
            (found,) = await rankings_of(self._graph, [(kind, scope)], MAX_RANKED)
            self._rankings[(kind, scope)] = tuple(found)
        return self._rankings[(kind, scope)][:limit]

    async def products(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = list(dict.fromkeys(skus))
        if any(sku not in self._products for sku in wanted):
            raise Unprepared(f"products {wanted} were not read")
        return {sku: self._products[sku] for sku in wanted}


class RawRecommendations:
    """The built-in strategies and blend at their default settings, over plain reads."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.item_settings = ItemToItemSettings()
        self.collaborative = Collaborative(CollaborativeSettings())
        self.bought_together = BoughtTogether(self.item_settings)
        self.affinity = Affinity(AffinitySettings())
        self.trending = Trending(TrendingSettings())
        self.similar_strategy = Similar(self.item_settings)
        self.blend_settings: dict[type, Any] = {BlendSettings: BlendSettings()}

    async def recommend(self, customer: str, first: int) -> list[dict[str, Any]]:
        graph = self.graph
        (consents,) = await consents_of_customers(graph, [customer])
        answer = consents.get(PERSONALISATION)
        if answer is None or not answer.granted:
            # The gateway would serve trending alone, with a "Not used" reason on
            # each item; the bench's W2 customers are those who said yes.
            raise Unprepared(f"{customer} has not granted personalisation: not a W2 customer")
        allowed = [self.collaborative, self.bought_together, self.affinity]
        profile = await profile_of(
            graph, ProfileKey(customer_id=customer, purchases=True, preferences=True)
        )
        want = max(first * OVERSAMPLE, MIN_CANDIDATES)
        related_keys, ranking_keys = self._keys(profile)
        related, rankings = await asyncio.gather(
            related_of(graph, related_keys, MAX_RELATED) if related_keys else _nothing(),
            rankings_of(graph, ranking_keys, MAX_RANKED),
        )
        data = Prefetched(
            profile,
            {k: tuple(v) for k, v in zip(related_keys, related, strict=True)},
            {k: tuple(v) for k, v in zip(ranking_keys, rankings, strict=True)},
        )
        subject = Subject.customer(customer)
        ran: list[Any] = [*allowed, self.trending]
        answers = [tuple((await s.recommend(subject, want, data))[:want]) for s in ran]
        results = tuple(
            StrategyResult(Registered(s, "raw"), a) for s, a in zip(ran, answers, strict=True)
        )
        skus = list(dict.fromkeys(c.sku for r in results for c in r.candidates))
        found = await products_by_sku(graph, skus)
        request = BlendRequest(
            subject=subject,
            count=first,
            results=results,
            skipped=(),
            products={sku: p for sku, p in zip(skus, found, strict=True) if p is not None},
            owned={o.sku: o.at for o in profile.purchases},
            plugin_settings=self.blend_settings,
        )
        chosen = blend_recommendations(request=request)[:first]
        brand_ids = list(dict.fromkeys(r.product.brand_id for r in chosen if r.product.brand_id))
        brands = dict(zip(brand_ids, await brands_by_id(graph, brand_ids), strict=True))
        return [
            {
                "sku": r.product.sku,
                "name": r.product.name,
                "brand": _brand_name(brands, r.product.brand_id),
                "score": r.score,
                "reasons": [{"text": reason.text} for reason in r.reasons],
            }
            for r in chosen
        ]

    async def similar(self, product: Product, first: int) -> list[dict[str, Any]]:
        """``Product.similar(first) { product { sku name } }``: the same reads and ranking.

        The product itself was read (W3's first read). Then, side by side as
        the two strategies ask for them, its item-to-item edges of both kinds
        and the trending ranking of its category (bench/raw.py gathers these
        with W3's brand and categories reads: see :meth:`similar_reads`), then
        the catalogue entries of every candidate.
        """
        related, rankings = await self.similar_reads(product)
        return await self.similar_ranked(product, first, related, rankings)

    def similar_keys(self, product: Product) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        scope = f"category:{product.category_id}" if product.category_id is not None else "*"
        return [(product.sku, BOUGHT), (product.sku, VIEWED)], [(TRENDING, scope)]

    async def similar_reads(
        self, product: Product
    ) -> tuple[list[list[Related]], list[list[Ranked]]]:
        related_keys, ranking_keys = self.similar_keys(product)
        related, rankings = await asyncio.gather(
            related_of(self.graph, related_keys, MAX_RELATED),
            rankings_of(self.graph, ranking_keys, MAX_RANKED),
        )
        return related, rankings

    async def similar_ranked(
        self,
        product: Product,
        first: int,
        related: list[list[Related]],
        rankings: list[list[Ranked]],
    ) -> list[dict[str, Any]]:
        related_keys, ranking_keys = self.similar_keys(product)
        data = Prefetched(
            Profile(),
            {k: tuple(v) for k, v in zip(related_keys, related, strict=True)},
            {k: tuple(v) for k, v in zip(ranking_keys, rankings, strict=True)},
            {product.sku: product},
            self.graph,
        )
        subject = Subject.product(product.sku)
        want = max(first * OVERSAMPLE, MIN_CANDIDATES)
        ran: list[Any] = [self.similar_strategy, self.trending]
        answers = [tuple((await s.recommend(subject, want, data))[:want]) for s in ran]
        results = tuple(
            StrategyResult(Registered(s, "raw"), a) for s, a in zip(ran, answers, strict=True)
        )
        skus = list(dict.fromkeys(c.sku for r in results for c in r.candidates))
        found = await products_by_sku(self.graph, skus)
        request = BlendRequest(
            subject=subject,
            count=first,
            results=results,
            skipped=(),
            products={sku: p for sku, p in zip(skus, found, strict=True) if p is not None},
            excluded=frozenset({product.sku}),
            plugin_settings=self.blend_settings,
        )
        chosen = blend_recommendations(request=request)[:first]
        return [{"sku": r.product.sku, "name": r.product.name} for r in chosen]

    def _keys(self, profile: Profile) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The item-to-item and ranking keys the strategies will ask for, in their order."""
        history = self.collaborative.settings.history
        related = [(o.sku, EASE) for o in profile.purchases[:history]]
        related += [(o.sku, BOUGHT) for o in profile.purchases[:BOUGHT_TOGETHER_HISTORY]]
        top = self.affinity.settings.top
        chosen = sorted(profile.preferences, key=lambda p: (-p.weight, p.kind, p.id))[:top]
        rankings = [(AFFINITY_RANKING, f"{p.kind}:{p.id}") for p in chosen]
        rankings.append((TRENDING, "*"))
        return list(dict.fromkeys(related)), list(dict.fromkeys(rankings))


async def warm(
    uri: str,
    user: str,
    password: str,
    customers: list[str],
    skus: list[str],
    sessions: list[str] | None = None,
) -> None:
    """W2's and W3's reads once per id, with no time limit: plans made, pages cached.

    ``sessions``: a visit's profile (its browsing) and the overall trending
    ranking too, as ``session { recommendations }`` reads them.

    On a graph Neo4j has just started on, the first of these reads take tens of
    seconds (planning, pages from disk): past the gateway's 5 s query timeout,
    so the same-data check would fail on them rather than measure anything.
    """
    settings = Neo4jSettings(uri, user, password, timeout=5.0, retry_time=0.0, query_timeout=None)
    graph = connect(settings)
    recs = RawRecommendations(graph)
    # Four at a time: as many as the measured concurrency's lower setting.
    gate = asyncio.Semaphore(4)

    async def one(customer: str | None, product: Product | None) -> None:
        async with gate:
            if customer is not None:
                await recs.recommend(customer, 10)
            if product is not None:
                await recs.similar(product, 10)

    try:
        for session in sessions or []:
            await profile_of(graph, ProfileKey(session_id=session, browsing=True))
        if sessions:
            await rankings_of(graph, [(TRENDING, "*")], MAX_RANKED)
        await asyncio.gather(*(one(c, None) for c in customers))
        found = await products_by_sku(graph, skus)
        await asyncio.gather(*(one(None, p) for p in found if p is not None))
    finally:
        await graph.driver.close()


async def _nothing() -> list[list[Related]]:
    return []


def _brand_name(brands: dict[str, Any], brand_id: str | None) -> dict[str, Any] | None:
    brand = brands.get(brand_id) if brand_id else None
    return {"name": brand.name} if brand is not None else None
