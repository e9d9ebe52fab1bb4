"""The dormant-data report: what the shop holds, what read it lately, what nothing did.

For every kind of data the graph holds (views, purchases, devices, ...; each
of one data category) the report gives how much is held and how old, and
which plugins read its category in the last ``days`` days, through which
fields or strategies, for what and when last: from the access log (every
allowed read of a customer's data) and the data-use ledger (reads the access
log does not see: strategies run for anonymous visits, ``tightrope
recompute``, the shop's own figures).

A kind whose category nothing read is **dormant**. Dormant kinds that can go
without breaking anything else are proposed for deletion, and ``tightrope
prune --dormant`` removes them (``--dry-run`` shows what would go). Some kinds
are kept whatever the report finds, each for a reason the report states:
they say who is who or whose data is whose, or they are read where the
access log does not look.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from graph import Graph
from graph.insights import REMOVE, Held, Use, holdings, remove_kind, uses_since

# Kinds never proposed for deletion, and why.
KEPT: Final[dict[str, str]] = {
    "customers": "who is who: a customer goes only when erased",
    "contact details": "signing in and answering the customer need them, and those reads "
    "are not in the access log",
    "visits": "they hold the events; they go with their events (retention)",
    "sign-ins": "they say whose visits are whose: without them a customer's visits would "
    "turn anonymous, readable by whoever holds a visit's id",
    "devices": "they hold the visits and links; anonymous ones go by retention",
    "device links": "they are shown to the customer, who decides on them",
    "network sightings": "cross-device linking reads them outside the access log; they go "
    "with their device",
}


@dataclass(frozen=True)
class DormantRow:
    kind: str
    category: str
    held: int
    oldest: datetime | None
    newest: datetime | None
    readers: tuple[Use, ...]
    dormant: bool
    proposed: bool
    why: str


@dataclass(frozen=True)
class DormantReport:
    days: int
    since: datetime
    rows: tuple[DormantRow, ...]

    @property
    def proposed(self) -> tuple[DormantRow, ...]:
        return tuple(r for r in self.rows if r.proposed)


def _readers(uses: list[Use]) -> dict[str, tuple[Use, ...]]:
    """Per category, each (plugin, purpose, reader) once, latest use, most recent first."""
    latest: dict[tuple[str, str, str, str], Use] = {}
    for u in uses:
        key = (u.category, u.plugin, u.purpose, u.reader)
        if key not in latest or u.last_at > latest[key].last_at:
            latest[key] = u
    by_category: dict[str, list[Use]] = defaultdict(list)
    for u in latest.values():
        by_category[u.category].append(u)
    return {
        c: tuple(sorted(found, key=lambda u: (-u.last_at.timestamp(), u.plugin, u.reader)))
        for c, found in by_category.items()
    }


def classify(held: list[Held], uses: list[Use], days: int, since: datetime) -> DormantReport:
    readers = _readers(uses)
    rows = []
    for h in held:
        read = readers.get(h.category, ())
        dormant = h.count > 0 and not read
        if h.kind in KEPT:
            why, proposed = f"kept: {KEPT[h.kind]}", False
        elif read:
            names = ", ".join(sorted({u.plugin for u in read}))
            why, proposed = f"in use: {h.category} read by {names}", False
        elif h.count == 0:
            why, proposed = "nothing held", False
        else:
            why = f"proposed for deletion: nothing read {h.category} in the last {days} days"
            proposed = h.kind in REMOVE
        rows.append(
            DormantRow(
                h.kind, h.category, h.count, h.oldest, h.newest, read, dormant, proposed, why
            )
        )
    return DormantReport(days, since, tuple(rows))


async def dormant_report(graph: Graph, now: datetime, days: int) -> DormantReport:
    """The report as of ``now``, looking back ``days`` days for reads."""
    since = now - timedelta(days=days)
    return classify(await holdings(graph), await uses_since(graph, since), days, since)


async def remove_dormant(
    graph: Graph,
    report: DormantReport,
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Remove every kind the report proposes, in slices of ``batch``; how many went of each.

    Everything of the kind held when the report was made goes (items newer
    than that are left for the next report).
    """
    removed = {}
    made = report.since + timedelta(days=report.days)
    for row in report.proposed:
        total = 0
        while True:
            n = await remove_kind(graph, row.kind, made, batch)
            total += n
            if progress is not None and n:
                progress(n)
            if n < batch:
                break
        removed[row.kind] = total
    return removed
