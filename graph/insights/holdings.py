"""What the shop holds, kind by kind, and who read which category of it lately.

The inventory behind the dormant-data report (gateway/insights/dormant.py):
per kind of data (each of one data category), how many items the graph
holds and how old they are; per data category, which plugin read it, for
what and through which fields or strategies, since a given time. Reads come
from two places: the access log (every allowed read of a customer's data)
and the data-use ledger ``(:DataUse {key, plugin, reader, purpose, category,
last_at})``, where the gateway notes reads the access log does not see
(strategies run for anonymous visits, ``tightrope recompute``, the shop's own
figures). The ledger is about no one: one node per plugin, reader, purpose
and category, with the last time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph
from graph.retention import LIST_EVENTS, OLD_EVENTS, SERVED_LISTS

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT data_use_key IF NOT EXISTS FOR (n:DataUse) REQUIRE n.key IS UNIQUE",
)


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of data the graph holds: its name, category, and how to count it."""

    name: str
    category: str
    count: LiteralString


# Counts come from the counts store where they can (labels, relationship types).
KINDS: Final = (
    Kind(
        "customers",
        "profile",
        "MATCH (n:Customer) RETURN count(n) AS n, null AS oldest, null AS newest",
    ),
    Kind(
        "contact details",
        "contact",
        "MATCH (n:Customer) WHERE n.contact_enc IS NOT NULL "
        "RETURN count(n) AS n, null AS oldest, null AS newest",
    ),
    Kind(
        "purchases",
        "purchase_history",
        "MATCH ()-[r:PURCHASED]->() RETURN count(r) AS n, min(r.at) AS oldest, max(r.at) AS newest",
    ),
    Kind(
        "views",
        "browsing_history",
        "MATCH ()-[r:VIEWED]->() RETURN count(r) AS n, min(r.at) AS oldest, max(r.at) AS newest",
    ),
    Kind(
        "basket additions",
        "browsing_history",
        "MATCH ()-[r:ADDED_TO_CART]->() "
        "RETURN count(r) AS n, min(r.at) AS oldest, max(r.at) AS newest",
    ),
    Kind(
        "visits",
        "browsing_history",
        "MATCH (s:Session) RETURN count(s) AS n, min(s.started_at) AS oldest, "
        "max(s.started_at) AS newest",
    ),
    Kind(
        "sign-ins",
        "device",
        "MATCH ()-[r:SIGNED_IN_AS]->() "
        "RETURN count(r) AS n, min(r.at) AS oldest, max(r.at) AS newest",
    ),
    Kind(
        "devices",
        "device",
        "MATCH (d:Device) RETURN count(d) AS n, min(d.first_seen) AS oldest, "
        "max(d.last_seen) AS newest",
    ),
    Kind(
        "device links",
        "device",
        "MATCH ()-[r:USED_BY]->() RETURN count(r) AS n, min(r.linked_at) AS oldest, "
        "max(r.linked_at) AS newest",
    ),
    Kind(
        "network sightings",
        "device",
        "MATCH ()-[r:SEEN_ON]->() RETURN count(r) AS n, min(r.first_at) AS oldest, "
        "max(r.last_at) AS newest",
    ),
    Kind(
        "derived preferences",
        "derived_preferences",
        "MATCH ()-[r:PREFERS]->() RETURN count(r) AS n, null AS oldest, null AS newest",
    ),
    Kind(
        "served lists",
        "browsing_history",
        "MATCH (l:ServedList) RETURN count(l) AS n, min(l.at) AS oldest, max(l.at) AS newest",
    ),
    Kind(
        "events from lists",
        "browsing_history",
        "MATCH (e:ListEvent) RETURN count(e) AS n, min(e.at) AS oldest, max(e.at) AS newest",
    ),
)

# How ``tightrope prune --dormant`` removes a kind: in slices of $batch, each
# statement returning how many went as ``n``. Kinds without one are never
# removed that way (the report says why).
REMOVE: Final[dict[str, LiteralString]] = {
    "purchases": OLD_EVENTS["purchases"],
    "views": OLD_EVENTS["views"],
    "basket additions": OLD_EVENTS["basket additions"],
    "derived preferences": """
MATCH ()-[r:PREFERS]->()
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS n
""",
    "served lists": SERVED_LISTS,
    "events from lists": LIST_EVENTS,
}


@dataclass(frozen=True, slots=True)
class Held:
    kind: str
    category: str
    count: int
    oldest: datetime | None
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class Use:
    """Something that read a category since the time asked: who, through what, when last."""

    category: str
    plugin: str
    purpose: str
    reader: str
    last_at: datetime
    source: str  # "access log" or "ledger"


async def holdings(graph: Graph) -> list[Held]:
    """How much of each kind of data the graph holds (one query per kind)."""
    found = []
    for kind in KINDS:
        rows = await graph.read(kind.count)
        row = rows[0] if rows else {}
        found.append(
            Held(
                kind.name,
                kind.category,
                int(row.get("n") or 0),
                to_datetime(row.get("oldest")),
                to_datetime(row.get("newest")),
            )
        )
    return found


# Every allowed read of a customer's data since $since, per category and reader.
ACCESS_LOG_USES: LiteralString = """
MATCH (a:AccessRecord) WHERE a.at >= datetime($since)
UNWIND a.categories AS category
UNWIND CASE WHEN size(a.fields) = 0 THEN [a.plugin] ELSE a.fields END AS reader
RETURN category, a.plugin AS plugin, a.purpose AS purpose, reader, max(a.at) AS last_at
"""

LEDGER_USES: LiteralString = """
MATCH (u:DataUse) WHERE u.last_at >= datetime($since)
RETURN u.category AS category, u.plugin AS plugin, u.purpose AS purpose, u.reader AS reader,
       u.last_at AS last_at
"""

NOTE_USES: LiteralString = """
UNWIND $rows AS r
MERGE (u:DataUse {key: r.key})
ON CREATE SET u.plugin = r.plugin, u.reader = r.reader, u.purpose = r.purpose,
              u.category = r.category
WITH u, datetime(r.at) AS at
SET u.last_at = CASE WHEN u.last_at IS NULL OR u.last_at < at THEN at ELSE u.last_at END
"""


async def uses_since(graph: Graph, since: datetime) -> list[Use]:
    """What read each category since ``since``: the access log's readers and the ledger's."""
    found = []
    for query, source in ((ACCESS_LOG_USES, "access log"), (LEDGER_USES, "ledger")):
        for r in await graph.read(query, {"since": since.isoformat()}):
            last = to_datetime(r["last_at"])
            assert last is not None
            found.append(Use(r["category"], r["plugin"], r["purpose"], r["reader"], last, source))
    return found


@dataclass(frozen=True, slots=True)
class Noted:
    """A read the access log does not see, for the ledger."""

    plugin: str
    reader: str
    purpose: str
    category: str
    at: datetime

    @property
    def key(self) -> str:
        return "\x1f".join((self.plugin, self.reader, self.purpose, self.category))


async def note_uses(graph: Graph, uses: Iterable[Noted]) -> None:
    """Record reads in the ledger (each key keeps its latest time)."""
    rows = [
        {
            "key": u.key,
            "plugin": u.plugin,
            "reader": u.reader,
            "purpose": u.purpose,
            "category": u.category,
            "at": u.at.isoformat(),
        }
        for u in uses
    ]
    if rows:
        await graph.write(NOTE_USES, {"rows": rows})


async def remove_kind(graph: Graph, kind: str, before: datetime, batch: int) -> int:
    """Remove one slice of a kind (``REMOVE``); how many items went."""
    rows = await graph.write(REMOVE[kind], {"before": before, "batch": batch})
    return int(rows[0]["n"]) if rows else 0
