"""The shop's report: list figures, lift, insights and dormant data, made once from the graph.

One pipeline for every place people look (the back office's GraphQL fields,
``tightrope insights`` and its HTML report, ``tightrope evaluate insights``):
:class:`ShopReport` makes each part on first use and keeps it, so a request
that asks for only the dormant data reads only that. Making the figures is
itself a read of shoppers' data for ``analytics``: it is noted in the
data-use ledger (gateway/insights/dormant.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from gateway.fields import Purpose
from gateway.gate.policy import Policies
from gateway.insights.dormant import DormantReport, dormant_report
from gateway.insights.figures import ListFigures, Period, list_figures
from gateway.insights.findings import (
    Insights,
    Windows,
    bestsellers,
    loyalty_insights,
    product_insights,
    rank,
)
from gateway.insights.privacy import HOST, READS, Counted, who_counts
from gateway.settings import Settings
from graph import Graph
from graph.insights import Noted, note_uses
from graph.insights.facts import activity, customer_ids, product_facts, purchase_lines

T = TypeVar("T")
DEFAULT_DAYS: Final = 28
MAX_DAYS: Final = 365


@dataclass(frozen=True)
class Options:
    """What a report covers: ``days`` of lists ending ``now``, and the insights' windows."""

    now: datetime
    days: int = DEFAULT_DAYS
    recent_days: int = 14
    baseline_days: int = 56

    @property
    def windows(self) -> Windows:
        return Windows(self.now, self.recent_days, self.baseline_days)


class ShopReport:
    """The parts of one report, each made on first use (and only once)."""

    def __init__(
        self,
        graph: Graph,
        policies: Policies,
        settings: Settings,
        options: Options | None = None,
        step: Callable[[str], None] | None = None,
    ) -> None:
        self.graph = graph
        self.policies = policies
        self.settings = settings
        self.options = options or Options(datetime.now(UTC))
        self._step = step or (lambda name: None)
        self._made: dict[str, asyncio.Task[Any]] = {}

    async def _once(self, name: str, make: Callable[[], Awaitable[T]]) -> T:
        if name not in self._made:
            self._made[name] = asyncio.ensure_future(make())
        found: T = await self._made[name]
        return found

    @property
    def period(self) -> Period:
        return Period.ending(self.options.now, self.options.days)

    async def lists(self) -> ListFigures:
        """Impressions to revenue per strategy, placement and blend; lift."""

        async def make() -> ListFigures:
            found = await list_figures(self.graph, self.policies, self.settings, self.period)
            self._step("lists")
            await self._note_read()
            return found

        return await self._once("lists", make)

    async def counted(self) -> Counted:
        async def make() -> Counted:
            return await who_counts(self.policies, self.graph, await customer_ids(self.graph))

        return await self._once("counted", make)

    async def insights(self) -> Insights:
        """The merchandiser's insights, ranked by distance from popularity."""

        async def make() -> Insights:
            counted = await self.counted()
            windows = self.options.windows
            customers = sorted(counted.customers)
            found = await activity(
                self.graph, customers, counted.anonymous, windows.start, windows.split, windows.now
            )
            facts = await product_facts(self.graph, list(found))
            since = windows.now - timedelta(days=windows.loyalty_days)
            lines = await purchase_lines(self.graph, customers, since, windows.now)
            self._step("insights")
            await self._note_read()
            candidates = product_insights(found, facts, windows) + loyalty_insights(lines, windows)
            return rank(candidates, bestsellers(found, facts), self.settings.insights_min_customers)

        return await self._once("insights", make)

    async def dormant(self) -> DormantReport:
        """What the shop holds and what read it in the last ``dormant_days``."""

        async def make() -> DormantReport:
            found = await dormant_report(self.graph, self.options.now, self.settings.dormant_days)
            self._step("dormant")
            return found

        return await self._once("dormant", make)

    async def _note_read(self) -> None:
        now = datetime.now(UTC)
        notes = [Noted(HOST, "insights", Purpose.ANALYTICS.value, c.value, now) for c in READS]
        await note_uses(self.graph, notes)

    async def everything(self) -> tuple[ListFigures, Insights, DormantReport]:
        return await self.lists(), await self.insights(), await self.dormant()
