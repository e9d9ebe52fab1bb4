"""Built-in plugin ``tightrope-blend``: one ranked, explained list from every strategy that ran.

Marked ``trylast``: a plugin of a retailer's own that implements
``blend_recommendations`` answers first and replaces it.

1. Each strategy's scores are scaled to its best candidate (so 1.0 is that
   strategy's top pick), multiplied by the strategy's weight
   (``TIGHTROPE_BLEND_WEIGHTS``), and summed per product; a product keeps the
   reasons of every strategy that proposed it, the strongest first, and is
   credited to the strategy that contributed most.
2. Left out: products not in the catalogue, out of stock, on the page itself or
   already in the basket, already bought (unless in a category listed in
   ``TIGHTROPE_BLEND_REPURCHASE_CATEGORIES`` and bought more than
   ``repurchase_after_days`` ago: consumables), and any product past
   ``max_per_brand`` of its brand.
3. Strategies in the fallback chain (``TIGHTROPE_BLEND_FALLBACK``, by default
   ``trending``) are not blended in: when the list is short, they fill it in
   order, so that a first visit still gets ``first`` results.
4. Personal strategies the host did not run are named in one more reason on
   every item, with the host's reason.

When a client names one strategy, only that strategy's candidates are used,
filtered the same way but for the per-brand cap (how many of a brand to show
is then the strategy's own choice: a brand-loyal strategy may fill the page
with one brand), with no fallback. A shopper in an A/B test between blends
(``TIGHTROPE_EXPERIMENT``) is blended with their variant's weights over these
(docs/insights.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tightrope import (
    NOT_PERSONAL,
    BlendRequest,
    Manifest,
    Product,
    Reason,
    Recommendation,
    StrategyResult,
    hookimpl,
)


class BlendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_BLEND_", extra="ignore")

    # Weight per strategy name, as JSON: {"collaborative": 1.0, "affinity": 0.2};
    # a strategy not named weighs 1.0, a weight of 0 leaves it out of the blend.
    weights: dict[str, float] = Field(
        # Chosen on MovieLens-100k, seed 1 (docs/recommendations.md): the
        # collaborative model leads; the others break its ties and fill in.
        default_factory=lambda: {
            "collaborative": 1.0,
            "bought-together": 0.1,
            "affinity": 0.05,
            "in-session": 1.0,
            "similar": 1.0,
        }
    )
    # Strategies that only fill a short list, in order (comma-separated).
    fallback: Annotated[tuple[str, ...], NoDecode] = ("trending",)
    max_per_brand: int = Field(default=3, ge=0, description="0: no limit")
    repurchase_categories: Annotated[tuple[str, ...], NoDecode] = ()
    repurchase_after_days: int = Field(default=30, ge=0)

    @field_validator("fallback", "repurchase_categories", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value


@hookimpl
def register_settings() -> type[BaseSettings]:
    return BlendSettings


def _scaled(result: StrategyResult) -> list[tuple[str, float, tuple[Reason, ...]]]:
    """Scores relative to the strategy's best (by rank when scores say nothing)."""
    candidates = result.candidates
    top = max((c.score for c in candidates), default=0.0)
    if top > 0:
        return [(c.sku, max(c.score, 0.0) / top, c.reasons) for c in candidates]
    return [(c.sku, 1.0 / (1 + rank), c.reasons) for rank, c in enumerate(candidates)]


class _Filter:
    """What may be shown, and how many of each brand are shown so far."""

    def __init__(self, request: BlendRequest, settings: BlendSettings) -> None:
        self.request = request
        self.settings = settings
        self.now = datetime.now(UTC)
        self.per_brand: dict[str, int] = defaultdict(int)
        self.shown: set[str] = set()

    def allows(self, sku: str) -> Product | None:
        product = self.request.products.get(sku)
        if product is None or sku in self.shown or sku in self.request.excluded:
            return None
        if product.in_stock is False:
            return None
        bought = self.request.owned.get(sku)
        if bought is not None and not self._may_buy_again(product, bought):
            return None
        # A brand's share is the blend's rule; a strategy named alone decides its own.
        cap = self.settings.max_per_brand if self.request.fallback else 0
        if cap and product.brand_id is not None and self.per_brand[product.brand_id] >= cap:
            return None
        return product

    def _may_buy_again(self, product: Product, bought: datetime) -> bool:
        again = self.settings.repurchase_categories
        wait = timedelta(days=self.settings.repurchase_after_days)
        return product.category_id in again and bought < self.now - wait

    def take(self, product: Product) -> None:
        self.shown.add(product.sku)
        if product.brand_id is not None:
            self.per_brand[product.brand_id] += 1


def _skipped_reasons(request: BlendRequest) -> tuple[Reason, ...]:
    by_reason: dict[str, list[str]] = defaultdict(list)
    for skipped in request.skipped:
        by_reason[skipped.reason].append(skipped.strategy.name)
    return tuple(
        Reason(
            "STRATEGY_SKIPPED",
            f"Not used: {', '.join(sorted(names))} ({why})",
            frozenset(),
            NOT_PERSONAL,
        )
        for why, names in sorted(by_reason.items())
    )


@hookimpl(trylast=True)
def blend_recommendations(request: BlendRequest) -> list[Recommendation]:
    settings: BlendSettings = request.settings_of(BlendSettings)
    fallback = list(settings.fallback) if request.fallback else []
    blended: dict[str, float] = defaultdict(float)
    parts: dict[str, list[tuple[float, str, tuple[Reason, ...]]]] = defaultdict(list)
    weights = dict(settings.weights)
    if request.variant is not None:
        weights.update(request.variant.weights)
    for result in request.results:
        name = result.strategy.name
        weight = weights.get(name, 1.0) if request.fallback else 1.0
        if name in fallback or weight <= 0:
            continue
        for sku, score, reasons in _scaled(result):
            blended[sku] += weight * score
            parts[sku].append((weight * score, name, reasons))
    keep = _Filter(request, settings)
    extra = _skipped_reasons(request)
    out: list[Recommendation] = []
    for sku in sorted(blended, key=lambda s: (-blended[s], s)):
        if len(out) >= request.count:
            break
        product = keep.allows(sku)
        if product is None:
            continue
        keep.take(product)
        ordered = sorted(parts[sku], key=lambda part: -part[0])
        reasons = tuple(dict.fromkeys(r for _, _, rs in ordered for r in rs))
        out.append(Recommendation(product, blended[sku], ordered[0][1], reasons + extra))
    by_name = {r.strategy.name: r for r in request.results}
    floor = min((r.score for r in out), default=1.0)
    for name in fallback:
        filler = by_name.get(name)
        if filler is None or len(out) >= request.count:
            continue
        for sku, score, reasons in _scaled(filler):
            if len(out) >= request.count:
                break
            product = keep.allows(sku)
            if product is None:
                continue
            keep.take(product)
            # Below everything blended: a filler never outranks a real match.
            out.append(Recommendation(product, floor * score * 0.5, name, reasons + extra))
    return out


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(description="Blends the strategies' candidates into one list. Reads nothing.")
