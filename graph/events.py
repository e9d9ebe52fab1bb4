"""Behavioural events: validate them, then write them in batches, idempotently.

This is the one write path for events: the bulk loader and the gateway's
``trackEvents`` mutation both use it, so its contract is:

* :func:`parse_event` turns a mapping (a JSON object or a CSV row) into an
  :class:`~graph.model.Event`, or raises :class:`RowError` naming the field and
  the reason.
* :func:`write_events` stores events, each exactly once however often it is sent
  (the sender's ``event_id`` is the key), and reports per type how many were new,
  how many were stored before, and which were rejected and why. An event naming
  a product or customer the graph does not hold is rejected, never invented.
  A rejection carries the event's position in the input, so a caller can point
  at it. Two different events with one id in a batch: the later is rejected.
* A ``login`` for a session already signed in as another customer is rejected:
  session and device ids are chosen by the client, and without this rule anyone
  could sign a victim's session (and its device) in to their own account.

Why the Cypher looks the way it does (see docs/data.md for the measurements):
one UNWIND statement per event type, all inside one write transaction per batch;
sessions and devices are MERGEd first in their own statements, so the event
statements only MATCH them; an event's own id is checked through the
relationship uniqueness constraint (an index seek) and the relationship is then
CREATEd, which is cheaper than MERGE on a pattern whose product end is a dense
node. The seek locks the id, so two writers sending the same new event at once
store it once (a deadlock between them is retried by the managed transaction).
The seek is forced with an index hint: while a type has few relationships the
planner prefers scanning the whole index, and the cached plan then stays
(measured: 984 db hits per purchase row instead of 8).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.model import EVENT_TYPES, Event, EventType

MAX_ID_LENGTH: Final = 200
DEFAULT_BATCH: Final = 10_000


class RowError(ValueError):
    """A row or event is invalid: ``field`` names the culprit, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# -- field parsing, shared with the loader ------------------------------------
#
# CSV gives every value as a string and JSON gives typed values, so each parser
# accepts both, and treats an empty string as a missing value.


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def text(row: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """A non-empty identifier or name."""
    value = row.get(name)
    if _missing(value):
        if required:
            raise RowError(name, "is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError(name, f"must be a string, not {type(value).__name__}")
    result = str(value).strip()
    if len(result) > MAX_ID_LENGTH:
        raise RowError(name, f"is longer than {MAX_ID_LENGTH} characters")
    return result


def required_text(row: Mapping[str, Any], name: str) -> str:
    value = text(row, name)
    assert value is not None
    return value


def timestamp(row: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp that states its timezone (``Z`` or ``+01:00``)."""
    value = row.get(name)
    if _missing(value):
        if required:
            raise RowError(name, "is required")
        return None
    if not isinstance(value, str):
        raise RowError(name, f"must be an ISO 8601 string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowError(name, f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise RowError(name, f"{value!r} has no timezone (add Z or an offset such as +01:00)")
    return parsed


def required_timestamp(row: Mapping[str, Any], name: str) -> datetime:
    value = timestamp(row, name)
    assert value is not None
    return value


def integer(row: Mapping[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = row.get(name)
    if _missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RowError(name, f"must be a whole number, not {type(value).__name__}")
    try:
        result = int(value)
    except ValueError:
        raise RowError(name, f"{value!r} is not a whole number") from None
    if minimum is not None and result < minimum:
        raise RowError(name, f"must be at least {minimum}")
    return result


def number(row: Mapping[str, Any], name: str, *, minimum: float | None = None) -> float | None:
    value = row.get(name)
    if _missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowError(name, f"must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except ValueError:
        raise RowError(name, f"{value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise RowError(name, "must be a finite number")
    if minimum is not None and result < minimum:
        raise RowError(name, f"must be at least {minimum}")
    return result


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def boolean(row: Mapping[str, Any], name: str, *, default: bool | None = None) -> bool:
    value = row.get(name)
    if _missing(value):
        if default is None:
            raise RowError(name, "is required")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RowError(name, f"{value!r} is not true or false")


# -- events -------------------------------------------------------------------

# Which fields each event type needs beyond event_id, type and at.
_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "view": ("session_id", "sku"),
    "add_to_cart": ("session_id", "sku"),
    "purchase": ("sku", "customer_id"),  # offline orders have no session
    "login": ("session_id", "customer_id"),
}


def parse_event(row: Mapping[str, Any]) -> Event:
    """Validate one event; raise :class:`RowError` naming the first bad field."""
    event_id = required_text(row, "event_id")
    kind = required_text(row, "type")
    if kind not in EVENT_TYPES:
        raise RowError("type", f"{kind!r} is not one of {', '.join(EVENT_TYPES)}")
    event_type: EventType = kind
    at = required_timestamp(row, "at")
    for name in _NEEDS[event_type]:
        text(row, name)  # raises when required and missing
    purchase = event_type == "purchase"
    qty = integer(row, "qty", minimum=1) if purchase else None
    return Event(
        event_id=event_id,
        type=event_type,
        at=at,
        session_id=text(row, "session_id", required=False),
        device_id=text(row, "device_id", required=False),
        channel=text(row, "channel", required=False),
        sku=text(row, "sku", required=False) if event_type != "login" else None,
        customer_id=text(row, "customer_id", required=False),
        qty=(qty or 1) if purchase else None,
        price=number(row, "price", minimum=0) if purchase else None,
        # A one-line order needs no separate id: the event is the order line.
        order_id=(text(row, "order_id", required=False) or event_id) if purchase else None,
    )


# -- Cypher -------------------------------------------------------------------

MISSING_PRODUCTS: LiteralString = """
UNWIND $ids AS id
OPTIONAL MATCH (p:Product {sku: id})
WITH id, p WHERE p IS NULL
RETURN collect(id) AS missing
"""

MISSING_CUSTOMERS: LiteralString = """
UNWIND $ids AS id
OPTIONAL MATCH (c:Customer {id: id})
WITH id, c WHERE c IS NULL
RETURN collect(id) AS missing
"""

# Who each session is signed in as already, for the login events of a batch.
SESSION_OWNERS: LiteralString = """
UNWIND $ids AS id
MATCH (:Session {id: id})-[:SIGNED_IN_AS]->(c:Customer)
RETURN id AS session_id, collect(DISTINCT c.id) AS customers
"""

# first_seen/last_seen widen to cover every event seen on the device, whatever
# order the events arrive in.
MERGE_DEVICES: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.first_seen) AS first, datetime(r.last_seen) AS last
MERGE (d:Device {id: r.id})
ON CREATE SET d.first_seen = first, d.last_seen = last
ON MATCH SET
  d.first_seen = CASE WHEN d.first_seen IS NULL OR first < d.first_seen
                      THEN first ELSE d.first_seen END,
  d.last_seen = CASE WHEN d.last_seen IS NULL OR last > d.last_seen
                     THEN last ELSE d.last_seen END
"""

MERGE_SESSIONS: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.started_at) AS started
MERGE (s:Session {id: r.id})
ON CREATE SET s.started_at = started, s.channel = r.channel
ON MATCH SET
  s.started_at = CASE WHEN s.started_at IS NULL OR started < s.started_at
                      THEN started ELSE s.started_at END,
  s.channel = coalesce(s.channel, r.channel)
WITH s, r WHERE r.device_id IS NOT NULL
MATCH (d:Device {id: r.device_id})
MERGE (s)-[:ON]->(d)
"""

CREATE_VIEWS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:VIEWED {event_id: r.event_id}]->()
  USING INDEX seen:VIEWED(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (p:Product {sku: r.sku})
CREATE (s)-[:VIEWED {event_id: r.event_id, at: datetime(r.at)}]->(p)
RETURN count(*) AS created
"""

CREATE_CARTS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:ADDED_TO_CART {event_id: r.event_id}]->()
  USING INDEX seen:ADDED_TO_CART(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (p:Product {sku: r.sku})
CREATE (s)-[:ADDED_TO_CART {event_id: r.event_id, at: datetime(r.at)}]->(p)
RETURN count(*) AS created
"""

CREATE_PURCHASES: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:PURCHASED {event_id: r.event_id}]->()
  USING INDEX seen:PURCHASED(event_id)
WITH r WHERE seen IS NULL
MATCH (c:Customer {id: r.customer_id})
MATCH (p:Product {sku: r.sku})
CREATE (c)-[:PURCHASED {event_id: r.event_id, at: datetime(r.at), order_id: r.order_id,
                        qty: r.qty, price: coalesce(r.price, p.price)}]->(p)
RETURN count(*) AS created
"""

# A login proves the session's device belongs to the customer: the device link
# becomes (or stays) a deterministic one, dated by its earliest login.
CREATE_LOGINS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:SIGNED_IN_AS {event_id: r.event_id}]->()
  USING INDEX seen:SIGNED_IN_AS(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (c:Customer {id: r.customer_id})
WITH r, s, c, datetime(r.at) AS at
CREATE (s)-[:SIGNED_IN_AS {event_id: r.event_id, at: at}]->(c)
WITH s, c, r, at
CALL (s, c, r, at) {
  MATCH (s)-[:ON]->(d:Device)
  MERGE (d)-[u:USED_BY]->(c)
  ON CREATE SET u.method = 'login', u.confidence = 1.0, u.linked_at = at,
                u.evidence = 'login event ' + r.event_id
  ON MATCH SET
    u.linked_at = CASE WHEN u.method = 'login' AND u.linked_at <= at
                       THEN u.linked_at ELSE at END,
    u.evidence = CASE WHEN u.method = 'login' AND u.linked_at <= at
                      THEN u.evidence ELSE 'login event ' + r.event_id END,
    u.method = 'login', u.confidence = 1.0
}
RETURN count(*) AS created
"""

EVENT_STATEMENTS: Final[dict[EventType, LiteralString]] = {
    "view": CREATE_VIEWS,
    "add_to_cart": CREATE_CARTS,
    "purchase": CREATE_PURCHASES,
    "login": CREATE_LOGINS,
}


# -- writing ------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    event_id: str
    field: str
    reason: str
    # Position of the event in the sequence given to write_events.
    index: int | None = None


@dataclass
class WriteResult:
    """What a call to :func:`write_events` did, per event type."""

    created: Counter[str] = field(default_factory=Counter)
    already_stored: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, other: WriteResult) -> None:
        self.created.update(other.created)
        self.already_stored.update(other.already_stored)
        self.rejected.extend(other.rejected)


@dataclass(frozen=True)
class _Batch:
    """One batch, already grouped into the parameter rows of each statement."""

    devices: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    by_type: dict[EventType, list[dict[str, Any]]]


def _dedupe(
    events: Sequence[Event], offset: int, result: WriteResult
) -> tuple[list[Event], dict[str, int]]:
    """Keep the first of each event_id; a resend is 'already stored', a clash is rejected.

    Also returns where each kept event stood in the caller's input (``offset`` is
    the batch's start), so that later rejections can name the position too.
    """
    first: dict[str, Event] = {}
    position: dict[str, int] = {}
    for i, event in enumerate(events, start=offset):
        seen = first.get(event.event_id)
        if seen is None:
            first[event.event_id] = event
            position[event.event_id] = i
        elif seen == event:
            result.already_stored[event.type] += 1
        else:
            result.rejected.append(
                Rejected(
                    event.event_id, "event_id", "used by a different event in the same batch", i
                )
            )
    return list(first.values()), position


def group_events(events: Sequence[Event]) -> _Batch:
    devices: dict[str, dict[str, Any]] = {}
    sessions: dict[tuple[str, str | None], dict[str, Any]] = {}
    by_type: dict[EventType, list[dict[str, Any]]] = {t: [] for t in EVENT_TYPES}
    for e in events:
        if e.device_id is not None:
            d = devices.get(e.device_id)
            if d is None:
                devices[e.device_id] = {"id": e.device_id, "first_seen": e.at, "last_seen": e.at}
            else:
                d["first_seen"] = min(d["first_seen"], e.at)
                d["last_seen"] = max(d["last_seen"], e.at)
        if e.session_id is not None:
            key = (e.session_id, e.device_id)
            s = sessions.get(key)
            if s is None:
                sessions[key] = {
                    "id": e.session_id,
                    "started_at": e.at,
                    "channel": e.channel,
                    "device_id": e.device_id,
                }
            else:
                s["started_at"] = min(s["started_at"], e.at)
                s["channel"] = s["channel"] or e.channel
        row: dict[str, Any] = {"event_id": e.event_id, "at": e.at.isoformat()}
        if e.type in ("view", "add_to_cart"):
            row.update(session_id=e.session_id, sku=e.sku)
        elif e.type == "purchase":
            row.update(
                customer_id=e.customer_id, sku=e.sku, qty=e.qty, price=e.price, order_id=e.order_id
            )
        else:
            row.update(session_id=e.session_id, customer_id=e.customer_id)
        by_type[e.type].append(row)
    # Timestamps travel as ISO 8601 text and Cypher's datetime() parses them:
    # the driver's packing of Python datetimes costs more than the whole write.
    for d in devices.values():
        d["first_seen"] = d["first_seen"].isoformat()
        d["last_seen"] = d["last_seen"].isoformat()
    for s in sessions.values():
        s["started_at"] = s["started_at"].isoformat()
    return _Batch(list(devices.values()), list(sessions.values()), by_type)


async def _unknown(tx: AsyncManagedTransaction, query: LiteralString, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    result = await tx.run(query, ids=sorted(ids))
    record = await result.single(strict=True)
    return set(record["missing"])


async def _session_owners(
    tx: AsyncManagedTransaction, events: Sequence[Event]
) -> dict[str, set[str]]:
    """The customers each login event's session is signed in as, in the graph."""
    ids = {e.session_id for e in events if e.type == "login" and e.session_id is not None}
    if not ids:
        return {}
    result = await tx.run(SESSION_OWNERS, ids=sorted(ids))
    return {r["session_id"]: set(r["customers"]) async for r in result}


def _signed_in_elsewhere(event: Event, owners: dict[str, set[str]]) -> bool:
    """Whether a login claims a session signed in as someone else; else record the claim.

    Logins earlier in the batch count as stored, so the first of two competing
    logins wins. A session signed in as this customer (among others, in data
    loaded before the rule) may be signed in as them again: a resend stays
    idempotent.
    """
    if event.type != "login" or event.session_id is None or event.customer_id is None:
        return False
    signed = owners.setdefault(event.session_id, set())
    if signed and event.customer_id not in signed:
        return True
    signed.add(event.customer_id)
    return False


async def _write_batch(graph: Graph, events: Sequence[Event], offset: int = 0) -> WriteResult:
    result = WriteResult()
    events, position = _dedupe(events, offset, result)

    async def work(tx: AsyncManagedTransaction) -> WriteResult:
        # Rebuilt on every attempt: a retried transaction must start from scratch.
        attempt = WriteResult(Counter(result.created), Counter(result.already_stored))
        attempt.rejected.extend(result.rejected)
        skus = {e.sku for e in events if e.sku is not None}
        customers = {e.customer_id for e in events if e.customer_id is not None}
        no_product = await _unknown(tx, MISSING_PRODUCTS, skus)
        no_customer = await _unknown(tx, MISSING_CUSTOMERS, customers)
        owners = await _session_owners(tx, events)
        good: list[Event] = []
        for e in events:
            at = position[e.event_id]
            if e.sku in no_product:
                attempt.rejected.append(
                    Rejected(e.event_id, "sku", f"unknown product {e.sku!r}", at)
                )
            elif e.customer_id in no_customer:
                attempt.rejected.append(
                    Rejected(e.event_id, "customer_id", f"unknown customer {e.customer_id!r}", at)
                )
            elif _signed_in_elsewhere(e, owners):
                attempt.rejected.append(
                    Rejected(
                        e.event_id, "session_id", "the session is signed in as another customer", at
                    )
                )
            else:
                good.append(e)
        batch = group_events(good)
        if batch.devices:
            await (await tx.run(MERGE_DEVICES, rows=batch.devices)).consume()
        if batch.sessions:
            await (await tx.run(MERGE_SESSIONS, rows=batch.sessions)).consume()
        for event_type, rows in batch.by_type.items():
            if not rows:
                continue
            record = await (await tx.run(EVENT_STATEMENTS[event_type], rows=rows)).single(
                strict=True
            )
            attempt.created[event_type] += record["created"]
            attempt.already_stored[event_type] += len(rows) - record["created"]
        return attempt

    return await graph.write_tx(work)


async def write_events(
    graph: Graph, events: Sequence[Event], batch_size: int = DEFAULT_BATCH
) -> WriteResult:
    """Store events idempotently, one write transaction per ``batch_size`` events.

    Events naming an unknown product or customer, logins to a session signed in
    as another customer, and second uses of an event id in a batch are rejected
    (listed in the result with the reason and their index in ``events``); the
    rest of their batch is written.
    """
    total = WriteResult()
    for start in range(0, len(events), batch_size):
        total.add(await _write_batch(graph, events[start : start + batch_size], start))
    return total
