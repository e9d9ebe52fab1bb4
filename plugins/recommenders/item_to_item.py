"""Built-in plugin ``tightrope-item-to-item``: products bought together, and viewed together.

``tightrope recompute`` counts, for every pair of products, how many customers
bought both and how many visits looked at both (viewed or put in the basket),
and keeps for each product its ``per_item`` strongest partners of each kind as
``(:Product)-[:ALSO {kind: 'bought_together' | 'viewed_together'}]->(:Product)``.
The weight is the cosine of the two products' shopper sets, so a best-seller
does not partner everything; a pair needs ``min_support`` shoppers in common.
These are aggregates, nobody's personal data.

Two recommenders share them:

* ``similar`` (not personal) serves a product's page (``Product.similar``):
  the product's partners of both kinds;
* ``bought-together`` (personal: it reads the customer's purchases) suggests
  what goes with what the customer bought.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from plugins.recommenders._items import chunks, cooccurrence, run_id
from tightrope import (
    NOT_PERSONAL,
    PERSONALISATION,
    Candidate,
    DataCategory,
    Edge,
    Graph,
    Manifest,
    Purpose,
    Reason,
    Related,
    Settings,
    StrategyData,
    Subject,
    SubjectKind,
    drop_stale,
    hookimpl,
    purchase_interactions,
    session_interactions,
    write_related,
)

BOUGHT = "bought_together"
VIEWED = "viewed_together"
SOURCE = "tightrope-item-to-item"


class ItemToItemSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_ITEM_TO_ITEM_", extra="ignore")

    per_item: int = Field(default=50, ge=1, le=200)
    min_support: int = Field(default=2, ge=1)
    # Products considered (those with the most shoppers): memory is this squared.
    max_items: int = Field(default=5000, ge=1, le=20_000)


def _name(product_name: str | None, brand: str | None) -> str:
    name = product_name or "an item"
    return f"{name} by {brand}" if brand else name


def _partners(
    related: dict[str, tuple[Related, ...]], weights: dict[str, float]
) -> dict[str, tuple[float, str]]:
    """Each partner's summed score, and the source that contributed most to it."""
    scores: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    for source, edges in related.items():
        for edge in edges:
            part = weights.get(source, 1.0) * edge.weight
            scores[edge.sku] = scores.get(edge.sku, 0.0) + part
            if part > best.get(edge.sku, (0.0, ""))[0]:
                best[edge.sku] = (part, source)
    return {sku: (score, best[sku][1]) for sku, score in scores.items() if sku in best}


class Similar:
    """Partners of the product on the page: bought together first, then viewed together."""

    name = "similar"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()
    subjects = frozenset({SubjectKind.PRODUCT})

    def __init__(self, settings: ItemToItemSettings) -> None:
        self.settings = settings

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        if subject.kind is not SubjectKind.PRODUCT:
            return []
        products = await data.products([subject.id])
        product = products.get(subject.id)
        if product is None:
            return []
        label = _name(product.name, None)
        both = await asyncio.gather(
            data.related([subject.id], BOUGHT, count), data.related([subject.id], VIEWED, count)
        )
        bought, viewed = (found.get(subject.id, ()) for found in both)
        scores: dict[str, tuple[float, Reason]] = {}
        for edges, code, text, factor in (
            (bought, "BOUGHT_TOGETHER", f"Often bought together with {label}", 1.0),
            (viewed, "VIEWED_TOGETHER", f"Shoppers who looked at {label} also looked at this", 0.5),
        ):
            for e in edges:
                score = factor * e.weight
                if score > scores.get(e.sku, (0.0, None))[0]:
                    scores[e.sku] = (score, Reason(code, text, frozenset(), NOT_PERSONAL))
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], kv[0]))[:count]
        return [Candidate(sku, score, (reason,)) for sku, (score, reason) in ranked]

    async def recompute(self, graph: Graph, progress: bool) -> str:
        s = self.settings
        run = run_id()
        written = 0
        for kind, read in ((BOUGHT, purchase_interactions), (VIEWED, session_interactions)):
            found = cooccurrence(await read(graph), s.max_items, progress, kind)
            rows = _top_partners(found.skus, found.counts, found.gram, kind, s)
            written += sum(len(edges) for _, edges in rows)
            for batch in chunks(rows, 200):
                await write_related(graph, f"{SOURCE}:{kind}", run, batch)
            await drop_stale(graph, f"{SOURCE}:{kind}", run)
        return f"{written} item-to-item edges"


def _top_partners(
    skus: list[str],
    counts: NDArray[np.float64],
    gram: NDArray[np.float64],
    kind: str,
    s: ItemToItemSettings,
) -> list[tuple[str, Sequence[Edge]]]:
    """Each product's strongest partners by cosine, among pairs with enough support."""
    if not skus:
        return []
    norms = np.sqrt(np.maximum(counts, 1.0))
    cosine = gram / norms[:, None] / norms[None, :]
    np.fill_diagonal(cosine, 0.0)
    cosine[gram < s.min_support] = 0.0
    rows: list[tuple[str, Sequence[Edge]]] = []
    for i, sku in enumerate(skus):
        order = np.argsort(-cosine[i], kind="stable")[: s.per_item]
        edges = [
            Edge(skus[j], kind, float(cosine[i, j]), int(gram[i, j]))
            for j in order
            if cosine[i, j] > 0
        ]
        rows.append((sku, edges))
    return rows


class BoughtTogether:
    """What goes with what the customer bought (their newest purchases count most)."""

    name = "bought-together"
    purpose = PERSONALISATION
    categories = frozenset({DataCategory.PURCHASE_HISTORY})
    subjects = frozenset({SubjectKind.CUSTOMER})

    def __init__(self, settings: ItemToItemSettings) -> None:
        self.settings = settings

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        if subject.kind is not SubjectKind.CUSTOMER:
            return []
        bought = (await data.purchases())[:50]
        if not bought:
            return []
        owned = {o.sku for o in bought}
        weights = {o.sku: 1.0 / (1.0 + rank / 10.0) for rank, o in enumerate(bought)}
        related = await data.related(weights, BOUGHT, self.settings.per_item)
        by_sku = {o.sku: o for o in bought}
        found = _partners(related, weights)
        ranked = sorted(
            ((sku, v) for sku, v in found.items() if sku not in owned),
            key=lambda kv: (-kv[1][0], kv[0]),
        )[:count]
        out = []
        for sku, (score, source) in ranked:
            o = by_sku[source]
            text = f"Often bought together with {_name(o.name, o.brand)}, which you bought"
            reason = Reason("BOUGHT_TOGETHER", text, self.categories, PERSONALISATION)
            out.append(Candidate(sku, score, (reason,)))
        return out


@hookimpl
def register_recommenders(settings: Settings) -> list[object]:
    s = ItemToItemSettings()
    return [Similar(s), BoughtTogether(s)]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=frozenset({DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY}),
        description=(
            "Bought and viewed together: co-occurrence over all shoppers; personal "
            "for a customer's own purchases."
        ),
    )
