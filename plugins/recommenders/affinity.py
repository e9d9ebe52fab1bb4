"""Built-in plugin ``tightrope-affinity``: the brands and categories a customer keeps choosing.

"You are what you buy": a customer who bought three things from one brand is
telling us more than where they live. ``tightrope recompute`` derives, for
each customer, the brands and categories they bought at least ``min_count``
different products of, as ``(:Customer)-[:PREFERS {kind, weight, count}]->
(:Brand|:Category)``; the weight is the share of their purchases. That is data
about one customer, so it is personal (``derived_preferences``): it carries
``personal: true`` and this plugin's name, and :meth:`Affinity.forget_customer`
drops it (consent withdrawn, erasure).

Serving reads only those preferences, never the purchases themselves, and
suggests what is trending in each preferred brand or category.
"""

from __future__ import annotations

import asyncio

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tqdm import tqdm

from plugins.recommenders._items import chunks, run_id
from tightrope import (
    PERSONALISATION,
    Candidate,
    CustomersAllowed,
    DataCategory,
    Graph,
    Manifest,
    Purpose,
    Reason,
    Settings,
    StrategyData,
    Subject,
    SubjectKind,
    customers_who_bought,
    drop_preferences,
    drop_stale,
    hookimpl,
    write_preferences,
)

SOURCE = "tightrope-affinity"
RANKING = "trending"


class AffinitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_AFFINITY_", extra="ignore")

    # "Keeps choosing": at least this many different products of the brand or category.
    min_count: int = Field(default=2, ge=1)
    # Preferences kept per customer and kind, and used per request.
    top: int = Field(default=5, ge=1, le=50)


def _sentence(kind: str, name: str, count: int) -> str:
    things = "thing" if count == 1 else "things"
    if kind == "brand":
        return f"Because you often choose {name}: you bought {count} {things} by {name}"
    return f"Because you often choose {name}: you bought {count} {things} in {name}"


class Affinity:
    name = "affinity"
    purpose = PERSONALISATION
    categories = frozenset({DataCategory.DERIVED_PREFERENCES})
    subjects = frozenset({SubjectKind.CUSTOMER})

    def __init__(self, settings: AffinitySettings) -> None:
        self.settings = settings

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        if subject.kind is not SubjectKind.CUSTOMER:
            return []
        preferences = sorted(await data.preferences(), key=lambda p: (-p.weight, p.kind, p.id))
        chosen = preferences[: self.settings.top]
        # Side by side, so that the rankings missing from the cache come in one read.
        rankings = await asyncio.gather(
            *(data.ranking(RANKING, f"{p.kind}:{p.id}", count) for p in chosen)
        )
        best: dict[str, tuple[float, Reason]] = {}
        for preference, ranked in zip(chosen, rankings, strict=True):
            if not ranked:
                continue
            top = ranked[0].score or 1.0
            name = preference.name or preference.id
            text = _sentence(preference.kind, name, preference.count)
            reason = Reason("AFFINITY", text, self.categories, PERSONALISATION)
            for r in ranked:
                score = preference.weight * r.score / top
                if score > best.get(r.sku, (0.0, reason))[0]:
                    best[r.sku] = (score, reason)
        ranked_all = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:count]
        return [Candidate(sku, score, (reason,)) for sku, (score, reason) in ranked_all]

    async def recompute(
        self, graph: Graph, progress: bool, allowed: CustomersAllowed | None = None
    ) -> str:
        s = self.settings
        run = run_id()
        ids = await customers_who_bought(graph)
        if allowed is not None:
            # Only for customers whose consent allows it; the preferences of the
            # others, derived by an earlier run, go with the stale ones below.
            may = await allowed(ids)
            ids = [i for i in ids if i in may]
        written = 0
        with tqdm(total=len(ids), desc="affinity", unit=" customers", disable=not progress) as bar:
            for batch in chunks(ids, 500):
                written += await write_preferences(graph, SOURCE, run, batch, s.min_count, s.top)
                bar.update(len(batch))
        await drop_stale(graph, SOURCE, run)
        return f"{written} preferences of {len(ids)} customers"

    async def forget_customer(self, graph: Graph, customer_id: str) -> int:
        """Drop every preference derived about ``customer_id`` (by this plugin)."""
        return await drop_preferences(graph, customer_id, SOURCE)


@hookimpl
def register_recommenders(settings: Settings) -> list[Affinity]:
    return [Affinity(AffinitySettings())]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=frozenset({DataCategory.PURCHASE_HISTORY, DataCategory.DERIVED_PREFERENCES}),
        description="Brand and category preferences derived from a customer's purchases.",
    )


@hookimpl
async def erase_customer_data(customer_id: str, graph: Graph) -> int:
    """The customer is being erased: their preferences go first (counted for the report)."""
    return await drop_preferences(graph, customer_id, SOURCE)
