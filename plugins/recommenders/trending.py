"""Built-in plugin ``tightrope-trending``: what is popular now, overall, per category, per brand.

Not personal: it reads no one's data at serving time, only rankings that
``tightrope recompute`` derives from everyone's recent activity. So it serves
a first visit, and it is the end of the blend's fallback chain. Each event
counts by its kind (a purchase more than a basket add, a basket add more than
a view), halved for every ``half_life_days`` of age before the newest event in
the graph.

For a customer or a visit it suggests the overall ranking; on a product's
page, the ranking of the product's own category; on a category's page, that
category's (its products and those of its subcategories).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from plugins.recommenders._items import chunks, run_id
from tightrope import (
    NOT_PERSONAL,
    Candidate,
    DataCategory,
    Graph,
    Manifest,
    Ranking,
    Reason,
    Settings,
    StrategyData,
    Subject,
    SubjectKind,
    drop_stale,
    hookimpl,
    trends,
    write_rankings,
)

KIND = "trending"
SOURCE = "tightrope-trending"


class TrendingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_TRENDING_", extra="ignore")

    half_life_days: float = Field(default=14.0, gt=0, le=3650)
    purchase_weight: float = Field(default=1.0, ge=0)
    cart_weight: float = Field(default=0.5, ge=0)
    view_weight: float = Field(default=0.1, ge=0)
    # Products kept per ranking (overall, each category, each brand).
    per_ranking: int = Field(default=200, ge=1, le=1000)


class Trending:
    name = KIND
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()
    subjects = frozenset(SubjectKind)

    def __init__(self, settings: TrendingSettings) -> None:
        self.settings = settings

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        scope = "*"
        if subject.kind is SubjectKind.CATEGORY:
            scope = f"category:{subject.id}"
        if subject.kind is SubjectKind.PRODUCT:
            product = (await data.products([subject.id])).get(subject.id)
            if product is not None and product.category_id is not None:
                scope = f"category:{product.category_id}"
        ranked = await data.ranking(KIND, scope, count + 1)
        if not ranked and scope != "*":
            scope, ranked = "*", await data.ranking(KIND, "*", count + 1)
        if not ranked:
            return []
        label = ranked[0].label
        text = f"Popular in {label} right now" if scope != "*" and label else "Popular right now"
        reason = Reason("TRENDING", text, frozenset(), NOT_PERSONAL)
        top = ranked[0].score or 1.0
        return [Candidate(r.sku, r.score / top, (reason,)) for r in ranked][:count]

    async def recompute(self, graph: Graph, progress: bool) -> str:
        s = self.settings
        found = await trends(
            graph, s.half_life_days, s.purchase_weight, s.cart_weight, s.view_weight
        )
        scopes: dict[str, list[tuple[str, float]]] = defaultdict(list)
        labels: dict[str, str | None] = {"*": None}
        for t in found:
            scopes["*"].append((t.sku, t.score))
            if t.brand is not None:
                scopes[f"brand:{t.brand[0]}"].append((t.sku, t.score))
                labels[f"brand:{t.brand[0]}"] = t.brand[1]
            for category_id, name in t.categories:
                scopes[f"category:{category_id}"].append((t.sku, t.score))
                labels[f"category:{category_id}"] = name
        rankings: Sequence[Ranking] = [
            Ranking(
                KIND,
                scope,
                labels.get(scope),
                sorted(items, key=lambda x: (-x[1], x[0]))[: s.per_ranking],
            )
            for scope, items in sorted(scopes.items())
        ]
        run = run_id()
        for batch in chunks(rankings, 50):
            await write_rankings(graph, SOURCE, run, batch)
        await drop_stale(graph, SOURCE, run)
        return f"{len(rankings)} rankings of {len(found)} products"


@hookimpl
def register_recommenders(settings: Settings) -> list[Trending]:
    return [Trending(TrendingSettings())]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        categories=frozenset({DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY}),
        description=(
            "Trending products: counts over every shopper's views and purchases, no one's own."
        ),
    )
