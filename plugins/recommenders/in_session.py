"""Built-in plugin ``tightrope-in-session``: suggestions from this visit alone.

For an anonymous or first-time visitor there is no history, only what they
did in this session: the products they looked at (the latest count most) and
what is in their basket (which counts double). It suggests those products'
partners — viewed together and bought together, from ``tightrope
recompute``'s aggregates — and what is trending in the category they looked at
last. It reads the session's views and basket afresh on every request, so an
event sent with ``trackEvents`` changes the very next answer.
"""

from __future__ import annotations

import asyncio

from tightrope import (
    PERSONALISATION,
    Candidate,
    DataCategory,
    Manifest,
    Purpose,
    Reason,
    Seen,
    Settings,
    StrategyData,
    Subject,
    SubjectKind,
    hookimpl,
)

KINDS = ("viewed_together", "bought_together")
# Products of the visit that count: the latest views and the basket.
RECENT = 10
CART_WEIGHT = 2.0
# Trending in the category looked at last counts for less than a partner.
CATEGORY_WEIGHT = 0.3


def _label(item: Seen) -> str:
    name = item.name or "an item"
    return f"{name} by {item.brand}" if item.brand else name


class InSession:
    name = "in-session"
    purpose = PERSONALISATION
    categories = frozenset({DataCategory.BROWSING_HISTORY})
    subjects = frozenset({SubjectKind.SESSION})

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        if subject.kind is not SubjectKind.SESSION:
            return []
        views, cart = await data.views(), await data.cart()
        sources: dict[str, tuple[float, Reason]] = {}
        for rank, item in enumerate(views[:RECENT]):
            text = f"Because you looked at {_label(item)}"
            reason = Reason("VIEWED", text, self.categories, PERSONALISATION)
            sources.setdefault(item.sku, (1.0 / (1.0 + rank), reason))
        for item in cart[:RECENT]:
            text = f"Goes with {_label(item)} in your basket"
            sources[item.sku] = (
                CART_WEIGHT,
                Reason("IN_BASKET", text, self.categories, PERSONALISATION),
            )
        if not sources:
            return []
        found = await asyncio.gather(*(data.related(sources, kind, count) for kind in KINDS))
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, Reason]] = {}
        for related in found:
            for source, edges in related.items():
                weight, reason = sources[source]
                for edge in edges:
                    part = weight * edge.weight
                    scores[edge.sku] = scores.get(edge.sku, 0.0) + part
                    if part > best.get(edge.sku, (0.0, reason))[0]:
                        best[edge.sku] = (part, reason)
        await self._category(views, count, data, scores, best)
        ranked = sorted(
            ((sku, s) for sku, s in scores.items() if sku not in sources and sku in best),
            key=lambda kv: (-kv[1], kv[0]),
        )[:count]
        return [Candidate(sku, score, (best[sku][1],)) for sku, score in ranked]

    async def _category(
        self,
        views: tuple[Seen, ...],
        count: int,
        data: StrategyData,
        scores: dict[str, float],
        best: dict[str, tuple[float, Reason]],
    ) -> None:
        """Add what is trending in the category of the product looked at last."""
        if not views:
            return
        last = (await data.products([views[0].sku])).get(views[0].sku)
        if last is None or last.category_id is None:
            return
        ranked = await data.ranking("trending", f"category:{last.category_id}", count)
        if not ranked:
            return
        top = ranked[0].score or 1.0
        where = ranked[0].label or "this category"
        text = f"Popular in {where}, which you are looking at"
        reason = Reason("POPULAR_IN_CATEGORY", text, self.categories, PERSONALISATION)
        for r in ranked:
            part = CATEGORY_WEIGHT * r.score / top
            scores[r.sku] = scores.get(r.sku, 0.0) + part
            if part > best.get(r.sku, (0.0, reason))[0]:
                best[r.sku] = (part, reason)


@hookimpl
def register_recommenders(settings: Settings) -> list[InSession]:
    return [InSession()]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=frozenset({DataCategory.BROWSING_HISTORY}),
        description="Products like those viewed in this visit.",
    )
