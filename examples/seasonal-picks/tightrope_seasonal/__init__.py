"""Seasonal picks: the products a merchandiser chose for the month, for everyone.

A non-personal recommendation strategy: it reads the catalogue only, so it
declares no purpose and no data category, and it runs for every shopper and on
product pages, consent or not. Its reasons say so (``not_personal``).

The picks come from ``TIGHTROPE_SEASONAL_PICKS``: months and SKUs,
``"11,12,1:sku-01,sku-03;6,7:sku-08"``. Without picks for the month it suggests
nothing. ``TIGHTROPE_SEASONAL_MONTH`` pins the month (tests, previews).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tightrope import (
    NOT_PERSONAL,
    Candidate,
    DataCategory,
    Manifest,
    Reason,
    StrategyData,
    Subject,
    hookimpl,
)


class SeasonalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_SEASONAL_")

    picks: str = Field(default="", description="months:skus;months:skus")
    month: int | None = Field(default=None, ge=1, le=12)

    @field_validator("picks")
    @classmethod
    def _readable(cls, value: str) -> str:
        parse_picks(value)  # a typo stops start-up, naming the setting
        return value


def parse_picks(text: str) -> dict[int, list[str]]:
    """``"11,12:sku-01,sku-03;6:sku-08"`` -> {11: [...], 12: [...], 6: [...]}."""
    by_month: dict[int, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        months, _, skus = part.partition(":")
        chosen = [s.strip() for s in skus.split(",") if s.strip()]
        for month in months.split(","):
            number = int(month)
            if not 1 <= number <= 12 or not chosen:
                raise ValueError(f"{part!r}: expected months 1-12, a colon, SKUs")
            by_month.setdefault(number, []).extend(chosen)
    return by_month


class SeasonalPicks:
    name = "seasonal"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()

    def __init__(self, settings: SeasonalSettings) -> None:
        self.by_month = parse_picks(settings.picks)
        self.month = settings.month

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        month = self.month or datetime.now(UTC).month
        wanted = self.by_month.get(month, [])
        found = await data.products(wanted)
        season = datetime(2000, month, 1).strftime("%B")
        candidates = []
        for rank, sku in enumerate(wanted):
            product = found.get(sku)
            if product is None or not product.in_stock:
                continue
            reason = Reason("SEASONAL", f"In season for {season}: {product.name}")
            candidates.append(Candidate(sku, 1.0 / (1 + rank), (reason,)))
        return candidates[:count]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(description="Seasonal picks: the merchandiser's products for the month.")


@hookimpl
def register_settings() -> type[SeasonalSettings]:
    return SeasonalSettings


@hookimpl
def register_recommenders() -> list[SeasonalPicks]:
    return [SeasonalPicks(SeasonalSettings())]


__all__ = ["SeasonalPicks", "SeasonalSettings", "parse_picks"]
