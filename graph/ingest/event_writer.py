"""Writing behavioural events in batches, idempotently: the one write path for events.

The bulk loader and the gateway's ``trackEvents`` mutation both use
:func:`write_events`, so its contract is:

* events are stored each exactly once however often they are sent (the
  sender's ``event_id``, unique per event type and sender, is the key: see
  :func:`graph.pii.sender_prefix`), and the result
  says per type how many were new, how many were stored before, and which were
  rejected and why; a rejection carries the event's position in the input, so
  a caller can point at it;
* an event naming a product or customer the graph does not hold is rejected,
  never invented;
* an id the graph holds for a *different* event is rejected, never counted as
  stored: otherwise whoever sends an id first could silence the rightful
  sender's event; within a batch, the later of two different events with one id
  is rejected;
* a ``login`` for a session already signed in as another customer is
  rejected: session and device ids are chosen by the client, and without this
  rule anyone could sign a victim's session (and its device) in to their own
  account. A sender speaking for a customer (``as_customer``) may likewise
  write only to sessions that are anonymous or signed in as that customer.
  The owners are read after locking the sessions, so concurrent batches cannot
  both find a session free;
* an event for an erased customer, or a session or device erased with one,
  is rejected, never stored again (graph/erasure.py): the tombstones are
  read after the batch is written, inside its transaction, and a batch that
  found any is rolled back and written again without those events.

The statements and why they are shaped so: :mod:`graph.ingest.cypher`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from neo4j import AsyncManagedTransaction

from graph.driver import Graph, reads
from graph.erasure import erased_among, erased_key
from graph.ingest.cypher import (
    EVENT_STATEMENTS,
    LOCK_SESSIONS,
    MERGE_DEVICES,
    MERGE_SESSIONS,
    MISSING,
    STORED_EVENTS,
)
from graph.ingest.writers import DEFAULT_BATCH
from graph.model import EVENT_TYPES, Event, EventType
from graph.pii import sender_prefix

SIGNED_ELSEWHERE: Final = "the session is signed in as another customer"

ERASED: Final = "was erased at the customer's request: nothing is stored for it again"


@dataclass(frozen=True)
class Rejected:
    event_id: str
    field: str
    reason: str
    # Position of the event in the sequence given to write_events.
    index: int


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


def _dedupe(events: Sequence[Event], offset: int, result: WriteResult) -> list[tuple[int, Event]]:
    """Keep the first of each id; a resend is 'already stored', a clash is rejected.

    Returns each kept event with its position in the caller's input (``offset``
    is the batch's start), so that later rejections can name the position too.
    An id names one event of each type (see docs/data.md), as the graph's
    uniqueness constraints do.
    """
    first: dict[tuple[str, str], Event] = {}
    kept: list[tuple[int, Event]] = []
    for i, event in enumerate(events, start=offset):
        key = (event.type, event.event_id)
        seen = first.get(key)
        if seen is None:
            first[key] = event
            kept.append((i, event))
        elif seen == event:
            result.already_stored[event.type] += 1
        else:
            result.rejected.append(
                Rejected(
                    event.event_id, "event_id", "used by a different event in the same batch", i
                )
            )
    return kept


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


async def _unknown(tx: AsyncManagedTransaction, what: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    result = await tx.run(MISSING[what], ids=sorted(ids))
    record = await result.single(strict=True)
    return set(record["missing"])


async def _lock_sessions(
    tx: AsyncManagedTransaction, events: Sequence[Event], as_customer: str | None
) -> dict[str, set[str]]:
    """Lock the sessions whose owner matters to these events; who each is signed in as.

    A login's session always matters; every session does when the sender speaks
    for a customer. See ``LOCK_SESSIONS`` for why the lock comes first.
    """
    started: dict[str, datetime] = {}
    for e in events:
        if e.session_id is not None and (e.type == "login" or as_customer is not None):
            known = started.get(e.session_id)
            started[e.session_id] = e.at if known is None else min(known, e.at)
    if not started:
        return {}
    rows = [{"id": sid, "started_at": started[sid].isoformat()} for sid in sorted(started)]
    # One record for all the sessions: the driver's cost is per record.
    locked = await (await tx.run(LOCK_SESSIONS, rows=rows)).single(strict=True)
    return {r["session_id"]: set(r["customers"]) for r in locked["sessions"]}


def _refused(event: Event, owners: dict[str, set[str]], as_customer: str | None) -> bool:
    """Whether the event's session is signed in as someone else; a login's claim is recorded.

    Logins earlier in the batch count as stored, so the first of two competing
    logins wins. A session signed in as this customer (among others, in data
    loaded before the rule) may be signed in as them again: a resend stays
    idempotent. Other events are refused only when the sender speaks for a
    customer who is not among the session's.
    """
    if event.session_id is None or event.session_id not in owners:
        return False
    signed = owners[event.session_id]
    if event.type == "login":
        if signed and event.customer_id not in signed:
            return True
        if event.customer_id is not None:
            signed.add(event.customer_id)
        return False
    return as_customer is not None and bool(signed) and as_customer not in signed


def _same(event: Event, stored: dict[str, Any]) -> bool:
    """Whether what the graph holds under the event's id is this event.

    Only what the event's relationship records can be compared: its ends, time
    and order details. A device or channel is the session's, not the event's.
    """
    mine: dict[str, object]
    if event.type == "purchase":
        mine = {"customer_id": event.customer_id, "sku": event.sku, "qty": event.qty}
        mine["order_id"] = event.order_id
        if event.price is not None:  # without one, the product's price was stored
            mine["price"] = event.price
    elif event.type == "login":
        mine = {"session_id": event.session_id, "customer_id": event.customer_id}
    else:
        mine = {"session_id": event.session_id, "sku": event.sku}
    at = stored["at"]
    # Aware datetimes compare by instant: a resend may state another offset.
    same_time = (at.to_native() if hasattr(at, "to_native") else at) == event.at
    return same_time and all(stored[name] == value for name, value in mine.items())


async def _conflicts(
    tx: AsyncManagedTransaction, event_type: EventType, events: list[tuple[int, Event]]
) -> list[Rejected]:
    """The events whose id the graph holds for a different event of their type."""
    result = await tx.run(STORED_EVENTS[event_type], ids=[e.event_id for _, e in events])
    stored = {r["event_id"]: dict(r) async for r in result}
    reason = (
        f"was stored before for a different {event_type} event: "
        "send each event with an id of its own"
    )
    return [
        Rejected(e.event_id, "event_id", reason, i)
        for i, e in events
        if e.event_id in stored and not _same(e, stored[e.event_id])
    ]


class _Resurrects(Exception):
    """Raised inside a batch's transaction (rolling it back) when it touched erased ids."""

    def __init__(self, found: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(found)} erased ids")
        self.found = found


def _named(event: Event) -> list[tuple[str, str]]:
    """The (kind, id) of the customer, session and device an event names."""
    named = []
    for kind, value in (
        ("customer", event.customer_id),
        ("session", event.session_id),
        ("device", event.device_id),
    ):
        if value is not None:
            named.append((kind, value))
    return named


async def _write_batch(
    graph: Graph, events: Sequence[Event], offset: int, as_customer: str | None, pii_key: str
) -> WriteResult:
    result = WriteResult()
    kept = _dedupe(events, offset, result)
    # A batch names each session and device many times: one HMAC per id, not per event.
    named = {n for _, e in kept for n in _named(e)}
    keys = {erased_key(kind, id_, pii_key): (kind, id_) for kind, id_ in named}
    erased: set[tuple[str, str]] = set()

    async def work(tx: AsyncManagedTransaction) -> WriteResult:
        # Rebuilt on every attempt: a retried transaction must start from scratch.
        attempt = WriteResult(Counter(result.created), Counter(result.already_stored))
        attempt.rejected.extend(result.rejected)
        live: list[tuple[int, Event]] = []
        for i, e in kept:
            gone = next((kind for kind, id_ in _named(e) if (kind, id_) in erased), None)
            if gone is None:
                live.append((i, e))
            else:
                attempt.rejected.append(Rejected(e.event_id, f"{gone}_id", ERASED, i))
        no_product = await _unknown(tx, "product", {e.sku for _, e in live if e.sku})
        no_customer = await _unknown(
            tx, "customer", {e.customer_id for _, e in live if e.customer_id}
        )
        known: list[tuple[int, Event]] = []
        for i, e in live:
            if e.sku in no_product:
                attempt.rejected.append(
                    Rejected(e.event_id, "sku", f"unknown product {e.sku!r}", i)
                )
            elif e.customer_id in no_customer:
                attempt.rejected.append(
                    Rejected(e.event_id, "customer_id", f"unknown customer {e.customer_id!r}", i)
                )
            else:
                known.append((i, e))
        owners = await _lock_sessions(tx, [e for _, e in known], as_customer)
        good: dict[EventType, list[tuple[int, Event]]] = {t: [] for t in EVENT_TYPES}
        for i, e in known:
            if _refused(e, owners, as_customer):
                attempt.rejected.append(Rejected(e.event_id, "session_id", SIGNED_ELSEWHERE, i))
            else:
                good[e.type].append((i, e))
        batch = group_events([e for of_type in good.values() for _, e in of_type])
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
            created: int = record["created"]
            # Ids already taken: a resend of the same event, or another event's.
            conflicts = (
                await _conflicts(tx, event_type, good[event_type]) if created < len(rows) else []
            )
            attempt.rejected.extend(conflicts)
            attempt.created[event_type] += created
            attempt.already_stored[event_type] += len(rows) - created - len(conflicts)
        # After the writes, in the same transaction: an erasure that committed
        # meanwhile is seen here (see graph/erasure.py for why this order).
        written = {k for k, named in keys.items() if named not in erased}
        found = await erased_among(tx, written)
        if found:
            raise _Resurrects({keys[k] for k in found})
        return attempt

    while True:
        try:
            return await graph.write_tx(work)
        except _Resurrects as exc:
            erased.update(exc.found)  # and again, without the events that name them


@reads("purchase_history", "browsing_history", "device")
async def write_events(
    graph: Graph,
    events: Sequence[Event],
    batch_size: int = DEFAULT_BATCH,
    *,
    pii_key: str,
    as_customer: str | None = None,
) -> WriteResult:
    """Store events idempotently, one write transaction per ``batch_size`` events.

    ``pii_key`` is the deployment's (``Settings.pii_secret()``): it keys the
    tombstones of erased customers, sessions and devices. ``as_customer`` is
    the customer the sender speaks for (a customer's token): their events may
    then touch only sessions that are anonymous or signed in as that customer,
    and their ids are that customer's own (:func:`graph.pii.sender_prefix`).
    Events naming an unknown product or customer, or an erased customer,
    session or device, events for a session signed in as another customer
    (logins always; other events when ``as_customer`` is given), a second use
    of an event id in a batch, and an id stored before for a different event
    are rejected (listed in the result with the reason and their index in
    ``events``); the rest of their batch is written.
    """
    prefix = sender_prefix(as_customer, pii_key) if as_customer is not None else ""
    if prefix:
        events = [replace(e, event_id=prefix + e.event_id) for e in events]
    total = WriteResult()
    for start in range(0, len(events), batch_size):
        chunk = events[start : start + batch_size]
        total.add(await _write_batch(graph, chunk, start, as_customer, pii_key))
    if prefix:  # the sender hears of its ids as it sent them
        total.rejected = [
            replace(r, event_id=r.event_id.removeprefix(prefix)) for r in total.rejected
        ]
    return total
