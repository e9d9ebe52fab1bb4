"""Built-in plugin ``tightrope-insights``: the shop's figures for its back office.

``insights(days)`` (scope ``insights:read``) answers a back-office frontend:
what the lists served earned per strategy, placement and blend, the lift of
personal recommendations against the holdout (and of A/B variants), the
merchandiser's insights ranked by distance from popularity, and the
dormant-data report. Every figure is the host's (gateway/insights/), made
only over shoppers whose consent allows ``analytics`` and over cells of at
least ``TIGHTROPE_INSIGHTS_MIN_CUSTOMERS`` customers; docs/insights.md
explains each one.

``insights:read`` is for the retailer's own back office: a first-party
client's own token (client credentials). A token issued for a customer never
carries it, and third parties never hold it.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from tightrope import (
    BadUserInput,
    ClientKind,
    DataCategory,
    FieldSpec,
    Manifest,
    Purpose,
    ScopeSpec,
    hookimpl,
)

Info = strawberry.Info
INSIGHTS_READ = "insights:read"
MAX_DAYS = 365
MAX_FINDINGS = 100


@strawberry.enum(description="How list figures are grouped.")
class Dimension(Enum):
    ALL = "all"
    STRATEGY = "strategy"
    PLACEMENT = "placement"
    BLEND = "blend"


@strawberry.type(description="What the lists of one strategy, placement or blend earned.")
class ListPerformance:
    dimension: Dimension
    name: str
    shoppers: int = strawberry.field(description="Distinct shoppers the lists were shown to.")
    suppressed: bool = strawberry.field(
        description="Fewer shoppers than the minimum: the figures are withheld."
    )
    impressions: int | None
    clicks: int | None
    ctr: float | None = strawberry.field(description="Clicks per impression.")
    add_to_carts: int | None
    conversions: int | None
    revenue: float | None
    rpm: float | None = strawberry.field(description="Revenue per thousand impressions.")


@strawberry.type(description="One group of shoppers in a comparison.")
class GroupConversion:
    name: str
    shoppers: int
    conversions: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    revenue_per_shopper: float | None


@strawberry.type(description="Treatment against control: the lift, or why there is none yet.")
class Lift:
    comparison: str
    experiment: str | None
    treatment: GroupConversion
    control: GroupConversion
    status: str = strawberry.field(description='"measured", or "not enough data yet".')
    needed: str | None = strawberry.field(description="What is missing for a measurement.")
    method: str
    lift: float | None = strawberry.field(description="Relative: rate ratio minus 1.")
    lift_low: float | None
    lift_high: float | None
    difference: float | None = strawberry.field(description="In rates (0.01 is a point).")
    difference_low: float | None
    difference_high: float | None
    p_value: float | None
    significant: bool


@strawberry.type(description="An insight for the merchandiser.")
class Finding:
    rank: int
    kind: str
    subject: str
    title: str
    effect: float = strawberry.field(description="Observed over what popularity predicts.")
    low: float
    high: float
    p_value: float
    distance: float = strawberry.field(description="How far from popularity: the rank.")
    basis: str = strawberry.field(description="The data it rests on.")
    shoppers: int
    action: str


@strawberry.type(description="Something that read a category of data.")
class DataReader:
    plugin: str
    purpose: str
    reader: str
    last_used_at: datetime
    source: str = strawberry.field(description='"access log" or "ledger".')


@strawberry.type(description="One kind of data held, what read it lately, and the proposal.")
class DormantData:
    kind: str
    category: str
    held: int
    oldest: datetime | None
    newest: datetime | None
    read_by: list[DataReader]
    dormant: bool
    proposed_for_deletion: bool
    why: str


def _group(g: Any) -> GroupConversion:
    return GroupConversion(
        name=g.name,
        shoppers=g.shoppers,
        conversions=g.conversions,
        rate=g.rate,
        rate_low=g.rate_low,
        rate_high=g.rate_high,
        revenue_per_shopper=g.revenue_per_shopper,
    )


def _lift(found: Any) -> Lift:
    r = found.result
    return Lift(
        comparison=found.comparison,
        experiment=found.experiment,
        treatment=_group(found.treatment),
        control=_group(found.control),
        status=found.status,
        needed=found.needed,
        method=found.method,
        lift=r.lift if r else None,
        lift_low=r.lift_low if r else None,
        lift_high=r.lift_high if r else None,
        difference=r.difference if r else None,
        difference_low=r.difference_low if r else None,
        difference_high=r.difference_high if r else None,
        p_value=r.p_value if r else None,
        significant=found.significant,
    )


async def _performance(root: ShopInsights, by: Dimension | None = None) -> list[ListPerformance]:
    rows = (await root.report.lists()).rows
    return [
        ListPerformance(
            dimension=Dimension(r.dimension),
            name=r.name,
            shoppers=r.shoppers,
            suppressed=r.suppressed,
            impressions=r.impressions,
            clicks=r.clicks,
            ctr=r.ctr,
            add_to_carts=r.add_to_carts,
            conversions=r.conversions,
            revenue=r.revenue,
            rpm=r.rpm,
        )
        for r in rows
        if by is None or r.dimension == by.value
    ]


async def _lifts(root: ShopInsights) -> list[Lift]:
    return [_lift(found) for found in (await root.report.lists()).lifts]


async def _findings(root: ShopInsights, first: int = 10) -> list[Finding]:
    if not 1 <= first <= MAX_FINDINGS:
        raise BadUserInput(f"first: 1 to {MAX_FINDINGS}", argument="first")
    ranked = (await root.report.insights()).ranked[:first]
    return [
        Finding(
            rank=i,
            kind=f.kind,
            subject=f.subject,
            title=f.title,
            effect=f.effect,
            low=f.low,
            high=f.high,
            p_value=f.p_value,
            distance=f.distance,
            basis=f.basis,
            shoppers=f.shoppers,
            action=f.action,
        )
        for i, f in enumerate(ranked, start=1)
    ]


async def _suppressed(root: ShopInsights) -> int:
    found: int = (await root.report.insights()).suppressed
    return found


async def _dormant(root: ShopInsights) -> list[DormantData]:
    rows = (await root.report.dormant()).rows
    return [
        DormantData(
            kind=r.kind,
            category=r.category,
            held=r.held,
            oldest=r.oldest,
            newest=r.newest,
            read_by=[
                DataReader(
                    plugin=u.plugin,
                    purpose=u.purpose,
                    reader=u.reader,
                    last_used_at=u.last_at,
                    source=u.source,
                )
                for u in r.readers
            ],
            dormant=r.dormant,
            proposed_for_deletion=r.proposed,
            why=r.why,
        )
        for r in rows
    ]


@strawberry.type(description="The shop's figures over a period (docs/insights.md).")
class ShopInsights:
    report: strawberry.Private[Any]
    as_of: datetime
    period_days: int
    attribution_window_days: int
    min_customers: int = strawberry.field(description="Smaller cells are suppressed.")
    holdout_share: float
    experiment: str | None
    performance: list[ListPerformance] = strawberry.field(
        resolver=_performance,
        description="Impressions to revenue, per strategy, placement or blend.",
    )
    lift: list[Lift] = strawberry.field(
        resolver=_lifts,
        description="Personal recommendations against the holdout; A/B variants.",
    )
    findings: list[Finding] = strawberry.field(
        resolver=_findings, description="Insights, the farthest from popularity first."
    )
    suppressed_findings: int = strawberry.field(
        resolver=_suppressed, description="Insights withheld: fewer customers than the minimum."
    )
    dormant_data: list[DormantData] = strawberry.field(
        resolver=_dormant,
        description="What the shop holds, what read it lately, what nothing did.",
    )


async def shop_insights(root: Any, info: Info, days: int = 28) -> ShopInsights:
    if not 1 <= days <= MAX_DAYS:
        raise BadUserInput(f"days: 1 to {MAX_DAYS}", argument="days")
    report = info.context.shop_report(days)
    settings = report.settings
    return ShopInsights(
        report=report,
        as_of=report.options.now,
        period_days=days,
        attribution_window_days=settings.attribution_window_days,
        min_customers=settings.insights_min_customers,
        holdout_share=settings.holdout_share,
        experiment=settings.experiment.name if settings.experiment else None,
    )


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec(
            INSIGHTS_READ,
            "back office: the shop's figures over many customers (never one customer's)",
            kinds=frozenset({ClientKind.FIRST_PARTY}),
            back_office=True,
        )
    ]


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [
        FieldSpec(
            "Query",
            "insights",
            ShopInsights,
            shop_insights,
            description="The shop's figures over the last `days` days (back office: "
            "insights:read, a service's own token).",
            scopes=frozenset({INSIGHTS_READ}),
        )
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.ANALYTICS}),
        categories=frozenset({DataCategory.BROWSING_HISTORY, DataCategory.PURCHASE_HISTORY}),
        description="The shop's figures for its back office (insights:read).",
    )
