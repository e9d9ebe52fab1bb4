"""The access log: who read which of a customer's data, for what, and when.

``(:AccessRecord {id, at, client_id, client_kind, purpose, plugin, categories,
fields})-[:ABOUT]->(:Customer)``. The gateway buffers records and writes them
in batches (gateway/gate/access_log.py); a record is merged on its id, so a
batch written again after an error adds nothing twice. Records about a
customer who no longer exists are not written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph, reads

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One allowed read of a customer's data (fields of one plugin, for one purpose)."""

    id: str
    customer_id: str
    at: datetime
    client_id: str | None
    client_kind: str | None
    purpose: str
    plugin: str
    categories: tuple[str, ...]
    fields: tuple[str, ...]
    # Filled in when reading: the client's registered name, if it still exists.
    client_name: str | None = None


@dataclass(frozen=True, slots=True)
class CategoryUse:
    """The last time a plugin read a category of a customer's data for a purpose."""

    category: str
    plugin: str
    purpose: str
    last_used_at: datetime


# A batch goes as compact lists, not maps: a flush sends hundreds of records
# that share a few shapes (client, purpose, plugin, categories, fields), and
# packing a map and a datetime per record was a sixth of the CPU of a request
# that reads a customer's purchases. ``at`` travels as epoch seconds and
# nanoseconds, which Neo4j turns into the same UTC datetime.
WRITE_ACCESS_RECORDS: LiteralString = """
UNWIND $rows AS r
WITH r, $shapes[r[4]] AS s
MATCH (c:Customer {id: r[1]})
MERGE (a:AccessRecord {id: r[0]})
ON CREATE SET a.at = datetime({epochSeconds: r[2], nanosecond: r[3]}),
              a.client_id = s[0], a.client_kind = s[1], a.purpose = s[2], a.plugin = s[3],
              a.categories = s[4], a.fields = s[5]
MERGE (a)-[:ABOUT]->(c)
"""

# Newest first; the keyset condition uses < and > only (graph/history.py says why).
ACCESS_LOG_PAGE: LiteralString = """
MATCH (:Customer {id: $customer_id})<-[:ABOUT]-(a:AccessRecord)
WHERE $after_at IS NULL
   OR a.at < datetime($after_at)
   OR (NOT a.at > datetime($after_at) AND a.id < $after_id)
WITH a ORDER BY a.at DESC, a.id DESC LIMIT $limit
OPTIONAL MATCH (client:Client {client_id: a.client_id})
RETURN a.id AS id, a.at AS at, a.client_id AS client_id, a.client_kind AS client_kind,
       client.name AS client_name, a.purpose AS purpose, a.plugin AS plugin,
       a.categories AS categories, a.fields AS fields
ORDER BY a.at DESC, a.id DESC
"""

CATEGORY_USE: LiteralString = """
MATCH (:Customer {id: $customer_id})<-[:ABOUT]-(a:AccessRecord)
UNWIND a.categories AS category
RETURN category, a.plugin AS plugin, a.purpose AS purpose, max(a.at) AS last_used_at
ORDER BY category, last_used_at DESC
"""


@reads("profile")
async def write_access_records(graph: Graph, records: Sequence[AccessRecord]) -> None:
    shapes: dict[tuple[Any, ...], int] = {}
    rows = []
    for r in records:
        shape = (r.client_id, r.client_kind, r.purpose, r.plugin, r.categories, r.fields)
        index = shapes.setdefault(shape, len(shapes))
        since = r.at - EPOCH
        seconds = since.days * 86_400 + since.seconds
        rows.append([r.id, r.customer_id, seconds, since.microseconds * 1000, index])
    params = {
        "rows": rows,
        "shapes": [[*shape[:4], list(shape[4]), list(shape[5])] for shape in shapes],
    }
    await graph.write(WRITE_ACCESS_RECORDS, params)


def _record(customer_id: str, row: dict[str, Any]) -> AccessRecord:
    at = to_datetime(row["at"])
    assert at is not None  # the writer always sets it
    return AccessRecord(
        id=row["id"],
        customer_id=customer_id,
        at=at,
        client_id=row["client_id"],
        client_kind=row["client_kind"],
        purpose=row["purpose"],
        plugin=row["plugin"],
        categories=tuple(row["categories"] or ()),
        fields=tuple(row["fields"] or ()),
        client_name=row["client_name"],
    )


@reads("profile")
async def access_log_page(
    graph: Graph,
    customer_id: str,
    limit: int,
    after_at: datetime | None = None,
    after_id: str | None = None,
) -> list[AccessRecord]:
    """Up to ``limit`` records about the customer, newest first, after (after_at, after_id)."""
    rows = await graph.read(
        ACCESS_LOG_PAGE,
        {
            "customer_id": customer_id,
            "limit": limit,
            "after_at": after_at.isoformat() if after_at else None,
            "after_id": after_id or "",
        },
    )
    return [_record(customer_id, row) for row in rows]


@reads("profile")
async def category_use(graph: Graph, customer_id: str) -> list[CategoryUse]:
    """Per category, plugin and purpose: when the customer's data was last read."""
    rows = await graph.read(CATEGORY_USE, {"customer_id": customer_id})
    uses = []
    for row in rows:
        at = to_datetime(row["last_used_at"])
        assert at is not None
        uses.append(CategoryUse(row["category"], row["plugin"], row["purpose"], at))
    return uses
