"""Retention: remove behavioural data past its period (``tightrope prune``).

What goes, oldest first, in small transactions so that a gateway serving at
the same time only ever waits for one short batch:

* events older than the event period: views, basket additions and purchases
  (relationships with an ``at``); a visit that started before then goes as a
  whole, with its sign-in;
* anonymous visits (no customer signed in) that started before the
  anonymous lifetime, with their events;
* anonymous devices (linked to no customer) last seen before the anonymous
  lifetime that no visit is on any more;
* access records (who read a customer's data, and why) older than the access
  log's period: the log is itself personal data, and a long-lived customer's
  would otherwise grow with every request for ever;
* served recommendation lists and the events sent back from them
  (graph/insights/served.py) older than the analytics period.

Customers, their consents and their history of consents, their grants and
their contact details are not touched: they go when the customer is erased.
Aggregates derived from the removed events (popularity, bought-together)
change at the next ``tightrope recompute``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import LiteralString

from graph.driver import Graph
from graph.links import LEAVE_NETWORKS

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE INDEX session_started IF NOT EXISTS FOR (n:Session) ON (n.started_at)",
    "CREATE INDEX device_last_seen IF NOT EXISTS FOR (n:Device) ON (n.last_seen)",
    "CREATE INDEX viewed_at IF NOT EXISTS FOR ()-[r:VIEWED]-() ON (r.at)",
    "CREATE INDEX cart_at IF NOT EXISTS FOR ()-[r:ADDED_TO_CART]-() ON (r.at)",
    "CREATE INDEX purchased_at IF NOT EXISTS FOR ()-[r:PURCHASED]-() ON (r.at)",
    "CREATE INDEX access_record_at IF NOT EXISTS FOR (n:AccessRecord) ON (n.at)",
)

OLD_SESSIONS: LiteralString = """
MATCH (s:Session) WHERE s.started_at < $before
WITH s LIMIT $batch
DETACH DELETE s
RETURN count(*) AS n
"""

ANONYMOUS_SESSIONS: LiteralString = """
MATCH (s:Session) WHERE s.started_at < $before
  AND NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
WITH s LIMIT $batch
DETACH DELETE s
RETURN count(*) AS n
"""

# One statement per type: each seeks its own index on ``at``.
OLD_EVENTS: dict[str, LiteralString] = {
    "views": """
MATCH ()-[r:VIEWED]->() WHERE r.at < $before
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS n
""",
    "basket additions": """
MATCH ()-[r:ADDED_TO_CART]->() WHERE r.at < $before
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS n
""",
    "purchases": """
MATCH ()-[r:PURCHASED]->() WHERE r.at < $before
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS n
""",
}

ANONYMOUS_DEVICES: LiteralString = (
    """
MATCH (d:Device) WHERE d.last_seen < $before
  AND NOT EXISTS { (d)-[:USED_BY]->() } AND NOT EXISTS { (:Session)-[:ON]->(d) }
WITH d LIMIT $batch
"""
    + LEAVE_NETWORKS
    + """
DETACH DELETE d
RETURN count(*) AS n
"""
)

# Served recommendation lists and the events sent back from them
# (graph/insights/served.py).
SERVED_LISTS: LiteralString = """
MATCH (l:ServedList) WHERE l.at < $before
WITH l LIMIT $batch
DETACH DELETE l
RETURN count(*) AS n
"""

LIST_EVENTS: LiteralString = """
MATCH (e:ListEvent) WHERE e.at < $before
WITH e LIMIT $batch
DETACH DELETE e
RETURN count(*) AS n
"""

ACCESS_RECORDS: LiteralString = """
MATCH (a:AccessRecord) WHERE a.at < $before
WITH a LIMIT $batch
DETACH DELETE a
RETURN count(*) AS n
"""


@dataclass
class PruneReport:
    """How many of each kind of data ``prune`` removed."""

    removed: dict[str, int] = field(default_factory=dict)


async def _drain(
    graph: Graph,
    query: LiteralString,
    before: datetime,
    batch: int,
    progress: Callable[[int], None] | None,
) -> int:
    total = 0
    while True:
        rows = await graph.write(query, {"before": before, "batch": batch})
        n = int(rows[0]["n"]) if rows else 0
        total += n
        if progress is not None and n:
            progress(n)
        if n < batch:
            return total


async def prune(
    graph: Graph,
    events_before: datetime,
    anonymous_before: datetime,
    access_before: datetime,
    batch: int = 1_000,
    progress: Callable[[int], None] | None = None,
    analytics_before: datetime | None = None,
) -> PruneReport:
    """Remove what is past its period (see the module); safe while the gateway serves.

    ``analytics_before``: served lists and the events sent back from them
    (graph/insights/served.py) older than this go too.
    """
    report = PruneReport()
    steps: list[tuple[str, LiteralString, datetime]] = [
        ("visits past the event period", OLD_SESSIONS, events_before),
        ("anonymous visits", ANONYMOUS_SESSIONS, anonymous_before),
        *((name, query, events_before) for name, query in OLD_EVENTS.items()),
        ("anonymous devices", ANONYMOUS_DEVICES, anonymous_before),
        ("access records", ACCESS_RECORDS, access_before),
    ]
    if analytics_before is not None:
        steps += [
            ("served lists", SERVED_LISTS, analytics_before),
            ("events from lists", LIST_EVENTS, analytics_before),
        ]
    for name, query, before in steps:
        report.removed[name] = await _drain(graph, query, before, batch, progress)
    return report
