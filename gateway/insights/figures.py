"""The figures of served lists over a period, made from the graph (docs/insights.md).

Reads the lists served, the events sent back from them and the purchases of
the shoppers concerned, keeps only the shoppers whose consent allows
``analytics``, credits what happened (gateway/insights/attribution.py),
suppresses cells of fewer than ``insights_min_customers`` shoppers, and
compares the groups of the holdout and of an A/B test
(gateway/insights/lift.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.gate.policy import Policies
from gateway.insights.attribution import Attributed, Performance, attribute, performance
from gateway.insights.lift import Lift, exposures, lifts
from gateway.insights.privacy import Counted, who_counts
from gateway.settings import Settings
from graph import Graph
from graph.insights import (
    ServedRecord,
    list_events_between,
    purchases_between,
    served_between,
)


@dataclass(frozen=True)
class Period:
    """The days a report covers: [since, until)."""

    since: datetime
    until: datetime

    @classmethod
    def ending(cls, until: datetime, days: int) -> Period:
        return cls(until - timedelta(days=days), until)

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400


@dataclass(frozen=True)
class ListFigures:
    """What the lists of a period led to: the credited events and the figures."""

    period: Period
    window_days: int
    min_customers: int
    lists: tuple[ServedRecord, ...]
    counted: Counted
    attributed: Attributed
    rows: tuple[Performance, ...]
    lifts: tuple[Lift, ...]


async def list_figures(
    graph: Graph, policies: Policies, settings: Settings, period: Period
) -> ListFigures:
    """Every figure of the lists served in ``period`` (the lists just before it for clicks)."""
    window = timedelta(days=settings.attribution_window_days)
    lists = await served_between(graph, period.since - window, period.until)
    events = await list_events_between(graph, period.since, period.until)
    customers = {s.customer_id for s in lists if s.customer_id is not None}
    customers |= {e.customer_id for e in events if e.customer_id is not None}
    counted = await who_counts(policies, graph, customers)
    purchases = await purchases_between(
        graph, counted.customers & customers, period.since, period.until
    )
    attributed = attribute(lists, events, purchases, counted, period.since, window)
    k = settings.insights_min_customers
    shown = tuple(s for s in lists if s.at >= period.since and counted.allows(s.customer_id))
    configured = settings.experiment
    order = {configured.name: [v.name for v in configured.variants]} if configured else {}
    minimum = max(settings.insights_min_subjects, k)
    return ListFigures(
        period,
        settings.attribution_window_days,
        k,
        shown,
        counted,
        attributed,
        tuple(performance(attributed, k)),
        tuple(lifts(exposures(shown, purchases, window), minimum, order)),
    )
