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
from datetime import datetime
from typing import Any, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph, reads


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


WRITE_ACCESS_RECORDS: LiteralString = """
UNWIND $rows AS r
MATCH (c:Customer {id: r.customer_id})
MERGE (a:AccessRecord {id: r.id})
ON CREATE SET a.at = r.at, a.client_id = r.client_id, a.client_kind = r.client_kind,
              a.purpose = r.purpose, a.plugin = r.plugin, a.categories = r.categories,
              a.fields = r.fields
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
    rows = [
        {
            "id": r.id,
            "customer_id": r.customer_id,
            "at": r.at,
            "client_id": r.client_id,
            "client_kind": r.client_kind,
            "purpose": r.purpose,
            "plugin": r.plugin,
            "categories": list(r.categories),
            "fields": list(r.fields),
        }
        for r in records
    ]
    await graph.write(WRITE_ACCESS_RECORDS, {"rows": rows})


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
