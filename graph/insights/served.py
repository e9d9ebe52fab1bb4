"""Served lists and what they led to: the raw material of the shop's figures.

``(:ServedList {id, at, placement, arm, blend, experiment, customer_id,
session_id, device_id, skus, strategies})``: one node per list served, its
items as two parallel lists (the product and the strategy at each position,
position 1 first). ``(:ListEvent {key, list_id, position, sku, type, at,
session_id, customer_id, qty, price})``: a view, add-to-cart or purchase the
client sent back "from list X". A list event names its list by id only, with
no relationship to it: the gateway writes lists in batches after the response
(gateway/insights/recorder.py), so a click may well arrive first, and joining
by id when the figures are made loses nothing.

Both are personal data (who was shown what, who clicked): they are exported
and erased with the customer, and removed after the analytics retention
period (``tightrope prune``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.customers import to_datetime
from graph.driver import Graph, reads, record_params
from graph.erasure import erased_among, erased_key
from graph.sessions import OWN_DEVICES

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT served_list_id IF NOT EXISTS FOR (n:ServedList) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX served_list_at IF NOT EXISTS FOR (n:ServedList) ON (n.at)",
    "CREATE INDEX served_list_customer IF NOT EXISTS FOR (n:ServedList) ON (n.customer_id)",
    "CREATE INDEX served_list_session IF NOT EXISTS FOR (n:ServedList) ON (n.session_id)",
    "CREATE INDEX served_list_device IF NOT EXISTS FOR (n:ServedList) ON (n.device_id)",
    "CREATE CONSTRAINT list_event_key IF NOT EXISTS FOR (n:ListEvent) REQUIRE n.key IS UNIQUE",
    "CREATE INDEX list_event_at IF NOT EXISTS FOR (n:ListEvent) ON (n.at)",
    "CREATE INDEX list_event_customer IF NOT EXISTS FOR (n:ListEvent) ON (n.customer_id)",
    "CREATE INDEX list_event_session IF NOT EXISTS FOR (n:ListEvent) ON (n.session_id)",
)


@dataclass(frozen=True, slots=True)
class ServedRecord:
    """One list as served. ``arm``: ``personal`` or ``holdout``; ``blend``: the
    experiment variant that blended it (``default`` outside an experiment)."""

    id: str
    at: datetime
    placement: str
    arm: str
    blend: str
    experiment: str | None
    customer_id: str | None
    session_id: str | None
    device_id: str | None
    skus: tuple[str, ...]
    strategies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListEventRecord:
    """A view, add-to-cart or purchase sent with the id of the list it came from."""

    key: str
    list_id: str
    position: int | None
    sku: str
    type: str
    at: datetime
    session_id: str | None
    customer_id: str | None
    qty: int | None = None
    price: float | None = None


def list_event_key(event_type: str, event_id: str, sku: str, at: datetime, who: str) -> str:
    """The same event sent again (a retry) is the same list event: its key is its content."""
    text = "\x1f".join((event_type, event_id, sku, at.isoformat(), who))
    return hashlib.sha256(text.encode()).hexdigest()


# Lists of a customer erased (or a visit or device erased with one) since the
# list was served are not written: the tombstones are read in the same
# transaction, as the event writer does (graph/erasure.py says why).
WRITE_SERVED: LiteralString = """
UNWIND $rows AS r
MERGE (l:ServedList {id: r.id})
ON CREATE SET l.at = datetime(r.at), l.placement = r.placement, l.arm = r.arm,
  l.blend = r.blend, l.experiment = r.experiment, l.customer_id = r.customer_id,
  l.session_id = r.session_id, l.device_id = r.device_id, l.skus = r.skus,
  l.strategies = r.strategies
"""

WRITE_LIST_EVENTS: LiteralString = """
UNWIND $rows AS r
MERGE (e:ListEvent {key: r.key})
ON CREATE SET e.list_id = r.list_id, e.position = r.position, e.sku = r.sku, e.type = r.type,
  e.at = datetime(r.at), e.session_id = r.session_id, e.customer_id = r.customer_id,
  e.qty = r.qty, e.price = r.price
"""


def _named(record: ServedRecord) -> list[tuple[str, str]]:
    return [
        (kind, value)
        for kind, value in (
            ("customer", record.customer_id),
            ("session", record.session_id),
            ("device", record.device_id),
        )
        if value is not None
    ]


async def write_served(graph: Graph, records: Sequence[ServedRecord], pii_key: str) -> int:
    """Store served lists (merged on their id: a batch written twice stores each once).

    A list naming a customer, visit or device erased meanwhile is dropped;
    returns how many were written or found written.
    """
    keys = {erased_key(kind, id_, pii_key): (kind, id_) for r in records for kind, id_ in _named(r)}

    async def work(tx: AsyncManagedTransaction) -> int:
        gone = {keys[k] for k in await erased_among(tx, keys)}
        rows = [
            {**record_params(r), "skus": list(r.skus), "strategies": list(r.strategies)}
            for r in records
            if not any(named in gone for named in _named(r))
        ]
        if rows:
            await (await tx.run(WRITE_SERVED, rows=rows)).consume()
        return len(rows)

    return await graph.write_tx(work)


async def write_list_events(graph: Graph, records: Sequence[ListEventRecord]) -> None:
    """Store list events (merged on their key: sending an event again adds nothing)."""
    if records:
        await graph.write(WRITE_LIST_EVENTS, {"rows": [record_params(r) for r in records]})


# -- reading them back for the figures ------------------------------------------

# A list served to a visit before it signed in is that customer's once it did.
SERVED_BETWEEN: LiteralString = """
MATCH (l:ServedList) WHERE l.at >= datetime($since) AND l.at < datetime($until)
CALL (l) {
  OPTIONAL MATCH (:Session {id: l.session_id})-[:SIGNED_IN_AS]->(c:Customer)
  RETURN c.id AS signed_in ORDER BY c.id LIMIT 1
}
RETURN l.id AS id, l.at AS at, l.placement AS placement, l.arm AS arm, l.blend AS blend,
       l.experiment AS experiment, coalesce(l.customer_id, signed_in) AS customer_id,
       l.session_id AS session_id, l.device_id AS device_id, l.skus AS skus,
       l.strategies AS strategies
"""

LIST_EVENTS_BETWEEN: LiteralString = """
MATCH (e:ListEvent) WHERE e.at >= datetime($since) AND e.at < datetime($until)
CALL (e) {
  OPTIONAL MATCH (:Session {id: e.session_id})-[:SIGNED_IN_AS]->(c:Customer)
  RETURN c.id AS signed_in ORDER BY c.id LIMIT 1
}
RETURN e.key AS key, e.list_id AS list_id, e.position AS position, e.sku AS sku,
       e.type AS type, e.at AS at, e.session_id AS session_id,
       coalesce(e.customer_id, signed_in) AS customer_id, e.qty AS qty, e.price AS price
"""

PURCHASES_BETWEEN: LiteralString = """
UNWIND $customers AS id
MATCH (c:Customer {id: id})-[p:PURCHASED]->(product:Product)
WHERE p.at >= datetime($since) AND p.at < datetime($until)
RETURN c.id AS customer_id, product.sku AS sku, p.at AS at, p.qty AS qty, p.price AS price,
       p.event_id AS event_id
"""


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    customer_id: str
    sku: str
    at: datetime
    qty: int
    price: float
    event_id: str


def _served(row: dict[str, Any]) -> ServedRecord:
    at = to_datetime(row["at"])
    assert at is not None
    return ServedRecord(
        id=row["id"],
        at=at,
        placement=row["placement"],
        arm=row["arm"],
        blend=row["blend"],
        experiment=row["experiment"],
        customer_id=row["customer_id"],
        session_id=row["session_id"],
        device_id=row["device_id"],
        skus=tuple(row["skus"] or ()),
        strategies=tuple(row["strategies"] or ()),
    )


def _list_event(row: dict[str, Any]) -> ListEventRecord:
    at = to_datetime(row["at"])
    assert at is not None
    return ListEventRecord(
        key=row["key"],
        list_id=row["list_id"],
        position=row["position"],
        sku=row["sku"],
        type=row["type"],
        at=at,
        session_id=row["session_id"],
        customer_id=row["customer_id"],
        qty=row["qty"],
        price=row["price"],
    )


def _window(since: datetime, until: datetime) -> dict[str, str]:
    return {"since": since.isoformat(), "until": until.isoformat()}


async def served_between(graph: Graph, since: datetime, until: datetime) -> list[ServedRecord]:
    """Lists served in [since, until), each with the customer it was for if known now."""
    return [_served(r) for r in await graph.read(SERVED_BETWEEN, _window(since, until))]


async def list_events_between(
    graph: Graph, since: datetime, until: datetime
) -> list[ListEventRecord]:
    """List events in [since, until), each with its customer if known now."""
    rows = await graph.read(LIST_EVENTS_BETWEEN, _window(since, until))
    return [_list_event(r) for r in rows]


async def purchases_between(
    graph: Graph, customer_ids: Iterable[str], since: datetime, until: datetime
) -> list[PurchaseRow]:
    """The purchases of these customers in [since, until)."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return []
    rows = await graph.read(PURCHASES_BETWEEN, {"customers": wanted, **_window(since, until)})
    found = []
    for r in rows:
        at = to_datetime(r["at"])
        assert at is not None
        found.append(
            PurchaseRow(
                r["customer_id"], r["sku"], at, int(r["qty"] or 1), float(r["price"] or 0.0),
                r["event_id"],
            )
        )  # fmt: skip
    return found


# -- a customer's rights, and retention ------------------------------------------

# The customer's lists and list events: by their id, or by a visit signed in
# as them or on a device of their own (the export's and erasure's definition).
THEIRS: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
WITH c, 1.0 AS min_confidence
"""
    + OWN_DEVICES
    + """
WITH c, [d IN own | d.id] AS devices,
     COLLECT { MATCH (s:Session)-[:SIGNED_IN_AS]->(c) RETURN s.id } AS signed
WITH c, devices, signed + COLLECT {
  UNWIND devices AS device
  MATCH (s:Session)-[:ON]->(:Device {id: device})
  WHERE NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
  RETURN s.id
} AS sessions
"""
)

EXPORT_SERVED: LiteralString = (
    THEIRS
    + """
RETURN COLLECT {
  MATCH (l:ServedList)
  WHERE l.customer_id = c.id OR l.session_id IN sessions OR l.device_id IN devices
  RETURN {id: l.id, at: l.at, placement: l.placement, arm: l.arm, blend: l.blend,
          skus: l.skus, strategies: l.strategies}
} AS lists,
COLLECT {
  MATCH (e:ListEvent) WHERE e.customer_id = c.id OR e.session_id IN sessions
  RETURN {list_id: e.list_id, position: e.position, sku: e.sku, type: e.type, at: e.at}
} AS events
"""
)

ERASE_SERVED: LiteralString = (
    THEIRS
    + """
CALL (c, sessions, devices) {
  MATCH (l:ServedList)
  WHERE l.customer_id = c.id OR l.session_id IN sessions OR l.device_id IN devices
  DETACH DELETE l
  RETURN count(*) AS lists
}
CALL (c, sessions) {
  MATCH (e:ListEvent) WHERE e.customer_id = c.id OR e.session_id IN sessions
  DETACH DELETE e
  RETURN count(*) AS events
}
RETURN lists, events
"""
)


@reads("browsing_history", "purchase_history")
async def export_served(graph: Graph, customer_id: str) -> dict[str, Any]:
    """The lists served to the customer and the list events they sent, for their export."""
    rows = await graph.read(EXPORT_SERVED, {"customer_id": customer_id})
    if not rows:
        return {"lists": [], "events": []}
    return {"lists": list(rows[0]["lists"]), "events": list(rows[0]["events"])}


@reads("browsing_history", "purchase_history")
async def erase_served(graph: Graph, customer_id: str) -> int:
    """Delete the customer's lists and list events; return how many went."""
    rows = await graph.write(ERASE_SERVED, {"customer_id": customer_id})
    return int(rows[0]["lists"] + rows[0]["events"]) if rows else 0
