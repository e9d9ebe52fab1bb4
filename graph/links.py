"""Device links: the signals they are decided from, writing them, and undoing them.

The graph holds, for linking:

``(:Device {ua_hmac})-[:SEEN_ON {first_at, last_at, times}]->(:Network {id, devices})``
    where a device was seen: ``id`` is the keyed hash of a network prefix and
    ``ua_hmac`` that of the device's browser family (graph/pii.py); never an
    address or a user-agent string. ``devices`` counts the devices seen on
    the network that are still in the graph, so a public one is recognised
    without reading them all (:data:`LEAVE_NETWORKS` keeps it so).
``(:Device)-[:USED_BY {method, confidence, linked_at, evidence, codes, linker}]->(:Customer)``
    a link: one edge per device and customer, nothing merged (``evidence_at``:
    when what proves it happened). Removing the edge is all it takes to undo it.
``(:Device)-[:UNLINKED {at, method}]->(:Customer)``
    the customer said the device is not theirs (unlinked it, or rejected it
    when it was suggested): the same evidence must not link it again (the
    host reads it in :func:`apply_links`).
``(:Device)-[:SUGGESTED {confidence, evidence, codes, linker, suggested_at}]->(:Customer)``
    a guess too weak to link, for the customer to confirm or reject
    (graph/suggestions.py).

Nothing here decides anything: the host (gateway/linking) reads the state of
the devices and customers concerned inside one write transaction, after
locking them, and says what to write (:func:`apply_links`). Locking first
means two decisions racing for one device (two processes, two batches) see
each other's links instead of both finding the device free, and a decision
racing a withdrawn consent (:func:`drop_links`, which takes the same locks)
sees the customer's answer as it is when the links are written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.customers import to_datetime
from graph.driver import Graph, reads, record_params
from graph.suggestions import WRITE_SUGGESTIONS

RECORD_SIGNALS: LiteralString = """
UNWIND $rows AS r
MATCH (d:Device {id: r.device_id})
SET d.ua_hmac = coalesce(r.user_agent, d.ua_hmac), d.kind = coalesce(d.kind, r.kind)
WITH d, r WHERE r.network IS NOT NULL
WITH d, r, datetime(r.first_at) AS first, datetime(r.last_at) AS last
MERGE (n:Network {id: r.network})
ON CREATE SET n.devices = 0, n.first_seen = first
MERGE (d)-[s:SEEN_ON]->(n)
ON CREATE SET s.first_at = first, s.last_at = last, s.times = 1, n.devices = n.devices + 1
ON MATCH SET
  s.first_at = CASE WHEN first < s.first_at THEN first ELSE s.first_at END,
  s.last_at = CASE WHEN last > s.last_at THEN last ELSE s.last_at END,
  s.times = s.times + 1
"""

# Run on each device ``d`` about to be deleted (erasure, retention): it leaves
# its networks' counts first. Counting every device ever seen instead, a home
# network whose browsers clear their cookies, or whose anonymous devices
# retention removes, would pass the public cut-off in time and stay public,
# its household never linked again. The network's write lock is taken before
# its count is read (deleting an edge of a dense node does not take it), so a
# device arriving on it at the same moment (RECORD_SIGNALS, whose MERGE locks
# the network) loses no update.
LEAVE_NETWORKS: LiteralString = """
CALL (d) {
  MATCH (d)-[s:SEEN_ON]->(n:Network)
  SET n._lock = true
  REMOVE n._lock
  DELETE s
  SET n.devices = n.devices - 1
}
"""

# Devices in id order, then customers in id order: every transaction takes its
# locks in the same order, so two of them do not deadlock over each other's.
# The property set and removed is how Cypher takes a node's write lock.
LOCK_DEVICES: LiteralString = """
UNWIND $ids AS id
MATCH (d:Device {id: id})
SET d._lock = true
REMOVE d._lock
RETURN collect({
  id: d.id,
  links: [(d)-[u:USED_BY]->(c:Customer) | {customer: c.id, method: u.method,
          confidence: u.confidence, linked_at: u.linked_at, evidence_at: u.evidence_at}],
  unlinked: [(d)-[t:UNLINKED]->(c:Customer) | {customer: c.id, at: t.at}]
}) AS devices
"""

# The customers' consents are read after their lock: a change of consent
# (graph/consent.py SET_CONSENT) takes the same lock, so it is either seen
# here or made after this decision's links are written.
LOCK_CUSTOMERS: LiteralString = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
SET c._lock = true
REMOVE c._lock
RETURN collect({
  id: c.id, email_hmac: c.email_hmac, devices: count { (:Device)-[:USED_BY]->(c) },
  consents: [(c)-[k:CONSENT]->(:Purpose) | {purpose: k.purpose, granted: k.granted}]
}) AS customers
"""

WRITE_LINKS: LiteralString = """
UNWIND $rows AS r
MATCH (d:Device {id: r.device_id})
MATCH (c:Customer {id: r.customer_id})
MERGE (d)-[u:USED_BY]->(c)
SET u.method = r.method, u.confidence = r.confidence, u.linked_at = datetime(r.linked_at),
    u.evidence = r.evidence, u.codes = r.codes, u.linker = r.linker,
    u.evidence_at = datetime(r.evidence_at)
WITH d, c, r
OPTIONAL MATCH (d)-[t:UNLINKED]->(c)
DELETE t
WITH DISTINCT d, c, r
OPTIONAL MATCH (d)-[sg:SUGGESTED]->(c)
DELETE sg
WITH DISTINCT d, c, r
OPTIONAL MATCH (d)-[g:USED_BY]->(o:Customer)
WHERE r.drop_guesses AND o <> c AND NOT coalesce(g.method, '') IN $keep
DELETE g
WITH DISTINCT d, c, r
OPTIONAL MATCH (d)-[os:SUGGESTED]->(o:Customer)
WHERE r.drop_guesses AND o <> c
DELETE os
"""

UNLINK: LiteralString = """
MATCH (d:Device {id: $device_id})-[u:USED_BY]->(c:Customer {id: $customer_id})
WITH d, c, u, u.method AS method, u.confidence AS confidence, u.linked_at AS linked_at
DELETE u
MERGE (d)-[t:UNLINKED]->(c)
SET t.at = datetime($at), t.method = method
RETURN method, confidence, linked_at
"""

# Takes the locks apply_links takes, in its order (the devices, then the
# customer), before it looks: a decision writing a link to the customer
# meanwhile has either committed (its link is found and removed) or waits
# until this is done (and reads the customer's consent as it is now).
DROP_LINKS: LiteralString = """
MATCH (c:Customer {id: $customer_id})
CALL (c) {
  MATCH (d:Device)-[u:USED_BY]->(c)
  WHERE NOT coalesce(u.method, '') IN $keep
  WITH DISTINCT d ORDER BY d.id
  SET d._lock = true
  REMOVE d._lock
}
SET c._lock = true
REMOVE c._lock
WITH c
CALL (c) {
  MATCH (:Device)-[s:SUGGESTED]->(c)
  DELETE s
}
WITH c
MATCH (:Device)-[u:USED_BY]->(c)
WHERE NOT coalesce(u.method, '') IN $keep
DELETE u
RETURN count(*) AS dropped
"""


@dataclass(frozen=True, slots=True)
class SignalRow:
    """What one device showed in a batch of events: where, with what browser, when."""

    device_id: str
    network: str | None
    user_agent: str | None
    kind: str | None  # what the user agent says the device is; a device's known kind stays
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One of a device's current links."""

    customer_id: str
    method: str | None
    confidence: float | None
    linked_at: datetime | None
    evidence_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceState:
    links: tuple[LinkEnd, ...] = ()
    # Customer id -> when they unlinked this device.
    unlinked: dict[str, datetime] = field(default_factory=dict)

    def link_to(self, customer_id: str) -> LinkEnd | None:
        return next((end for end in self.links if end.customer_id == customer_id), None)


@dataclass(frozen=True, slots=True)
class CustomerState:
    email_hmac: str | None
    devices: int  # devices linked to the customer now
    # Purpose -> the customer's stored answer; a purpose never answered is absent.
    consents: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkState:
    """The locked devices and customers of one decision; a missing id is not in the graph."""

    devices: dict[str, DeviceState]
    customers: dict[str, CustomerState]


@dataclass(frozen=True, slots=True)
class LinkWrite:
    """A link to create, or to set anew (one edge per device and customer)."""

    device_id: str
    customer_id: str
    method: str
    confidence: float
    linked_at: datetime
    evidence: tuple[str, ...]
    codes: tuple[str, ...]
    linker: str
    evidence_at: datetime
    # A proof that the device is this customer's removes other customers'
    # guesses about it (links whose method is not among ``apply_links``'s ``keep``).
    drop_guesses: bool = False
    # Not a link but a suggestion the customer may answer (graph/suggestions.py).
    suggest: bool = False


@dataclass(frozen=True, slots=True)
class Unlinked:
    """What :func:`unlink` removed."""

    method: str | None
    confidence: float | None
    linked_at: datetime | None


async def record_signals(graph: Graph, rows: Sequence[SignalRow]) -> None:
    """Remember where each device was seen and with what browser family (hashes only)."""
    if not rows:
        return
    params = [record_params(r) for r in rows]
    await graph.write(RECORD_SIGNALS, {"rows": params})


def _end(row: dict[str, Any]) -> LinkEnd:
    confidence = row["confidence"]
    return LinkEnd(
        row["customer"],
        row["method"],
        None if confidence is None else float(confidence),
        to_datetime(row["linked_at"]),
        to_datetime(row["evidence_at"]),
    )


async def _state(
    tx: AsyncManagedTransaction, devices: Sequence[str], customers: Sequence[str]
) -> LinkState:
    # Each lock answers one record: the driver's cost is per record (docs/performance.md).
    found: dict[str, DeviceState] = {}
    locked = await (await tx.run(LOCK_DEVICES, ids=sorted(set(devices)))).single(strict=True)
    for row in locked["devices"]:
        unlinked = {t["customer"]: to_datetime(t["at"]) for t in row["unlinked"]}
        found[row["id"]] = DeviceState(
            tuple(_end(link) for link in row["links"]),
            {c: at for c, at in unlinked.items() if at is not None},
        )
    people: dict[str, CustomerState] = {}
    locked = await (await tx.run(LOCK_CUSTOMERS, ids=sorted(set(customers)))).single(strict=True)
    for row in locked["customers"]:
        consents = {k["purpose"]: bool(k["granted"]) for k in row["consents"]}
        people[row["id"]] = CustomerState(row["email_hmac"], int(row["devices"]), consents)
    return LinkState(found, people)


def _write_row(w: LinkWrite) -> dict[str, Any]:
    return {**record_params(w), "evidence": list(w.evidence), "codes": list(w.codes)}


async def apply_links(
    graph: Graph,
    devices: Collection[str],
    customers: Collection[str],
    decide: Callable[[LinkState], Sequence[LinkWrite]],
    keep: Collection[str] = (),
) -> list[LinkWrite]:
    """Lock the devices and customers, let ``decide`` see their state, write what it says.

    One write transaction; ``decide`` may run more than once (a retried
    transaction), so it must only compute. ``keep`` names the methods a
    ``drop_guesses`` write leaves alone. Returns what was written.
    """

    async def work(tx: AsyncManagedTransaction) -> list[LinkWrite]:
        state = await _state(tx, list(devices), list(customers))
        writes = list(decide(state))
        links = [_write_row(w) for w in writes if not w.suggest]
        if links:
            await (await tx.run(WRITE_LINKS, rows=links, keep=list(keep))).consume()
        suggested = [_write_row(w) for w in writes if w.suggest]
        if suggested:
            await (await tx.run(WRITE_SUGGESTIONS, rows=suggested)).consume()
        return writes

    if not devices:
        return []
    return await graph.write_tx(work)


@reads("device")
async def unlink(graph: Graph, device_id: str, customer_id: str, at: datetime) -> Unlinked | None:
    """Remove the device's link to the customer and remember that they did; None if none.

    Nothing else changes: the device, its sessions and every event stay as
    they were, so the customer's data is again what it was before the link.
    """
    rows = await graph.write(
        UNLINK, {"device_id": device_id, "customer_id": customer_id, "at": at.isoformat()}
    )
    if not rows:
        return None
    row = rows[0]
    confidence = row["confidence"]
    return Unlinked(
        row["method"],
        None if confidence is None else float(confidence),
        to_datetime(row["linked_at"]),
    )


@reads("device")
async def drop_links(graph: Graph, customer_id: str, keep_methods: Collection[str]) -> int:
    """Remove every link of the customer's whose method is not in ``keep_methods``, and
    every device suggested to them.

    Under the locks :func:`apply_links` takes: a link being written to the
    customer meanwhile is written first and removed here, or written after.
    """
    rows = await graph.write(DROP_LINKS, {"customer_id": customer_id, "keep": list(keep_methods)})
    return int(rows[0]["dropped"]) if rows else 0
