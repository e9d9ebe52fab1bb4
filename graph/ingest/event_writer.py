"""Writing behavioural events in batches, idempotently: the one write path for events.

The bulk loader and the gateway's ``trackEvents`` mutation both use
:func:`write_events`, so its contract is:

* events are stored each exactly once however often they are sent (the
  sender's ``event_id`` is the key), and the result says per type how many
  were new, how many were stored before, and which were rejected and why;
* an event naming a product or customer the graph does not hold is rejected,
  never invented; a rejection carries the event's position in the input, so a
  caller can point at it; two different events with one id in a batch: the
  later is rejected;
* a ``login`` for a session already signed in as another customer is
  rejected: session and device ids are chosen by the client, and without this
  rule anyone could sign a victim's session (and its device) in to their own
  account.

The statements and why they are shaped so: :mod:`graph.ingest.cypher`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.ingest.cypher import (
    EVENT_STATEMENTS,
    MERGE_DEVICES,
    MERGE_SESSIONS,
    MISSING,
    SESSION_OWNERS,
)
from graph.ingest.writers import DEFAULT_BATCH
from graph.model import EVENT_TYPES, Event, EventType


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
class EventRows:
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


def group_events(events: Sequence[Event]) -> EventRows:
    """The parameter rows of each statement for these (distinct, valid) events."""
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
    return EventRows(list(devices.values()), list(sessions.values()), by_type)


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
        no_product = await _unknown(tx, MISSING["product"], skus)
        no_customer = await _unknown(tx, MISSING["customer"], customers)
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
