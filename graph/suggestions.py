"""Devices suggested to a customer as theirs, and their answers: ``(:Device)-[:SUGGESTED]->``.

A guess too weak to link (graph/links.py: the host writes one when its
confidence is at least the suggest threshold and below the link threshold)
is kept as a suggestion the customer can answer: confirming it makes the
device theirs by their own word (a ``USED_BY`` with the method ``confirmed``,
confidence 1); rejecting it records ``UNLINKED`` (method ``rejected``), so
that nothing suggests or guesses it again. Both take the locks
:func:`graph.links.apply_links` takes, in its order (the device, then the
customer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.batch import many_per_key
from graph.customers import device_from_row, to_datetime
from graph.driver import Graph, reads
from graph.model import Device

CONFIRMED = "confirmed"
REJECTED = "rejected"
# The visits whose start times describe when a suggested device is used.
MAX_STARTS = 200

SUGGESTIONS_OF_CUSTOMERS: LiteralString = """
UNWIND $ids AS id
MATCH (d:Device)-[s:SUGGESTED]->(c:Customer {id: id})
RETURN id AS of, d.id AS id, d.kind AS kind, d.ua_family AS ua_family,
       d.first_seen AS first_seen, d.last_seen AS last_seen,
       s.confidence AS confidence, s.evidence AS evidence, s.suggested_at AS suggested_at,
       EXISTS {
         MATCH (d)-[:SEEN_ON]->(:Network)<-[:SEEN_ON]-(:Device)-[u:USED_BY]->(c)
         WHERE u.confidence >= 1.0
       } AS near_own,
       COLLECT { MATCH (x:Session)-[:ON]->(d) WHERE x.started_at IS NOT NULL
                 RETURN x.started_at ORDER BY x.started_at DESC LIMIT $starts } AS starts
ORDER BY s.confidence DESC, d.id
"""

# Written by apply_links (graph/links.py) under its locks, for the guesses the
# host decided to suggest: never beside a link to the same customer, never
# after they rejected or unlinked the device; a surer guess raises it.
WRITE_SUGGESTIONS: LiteralString = """
UNWIND $rows AS r
MATCH (d:Device {id: r.device_id})
MATCH (c:Customer {id: r.customer_id})
WHERE NOT EXISTS { (d)-[:USED_BY]->(c) } AND NOT EXISTS { (d)-[:UNLINKED]->(c) }
MERGE (d)-[s:SUGGESTED]->(c)
ON CREATE SET s.suggested_at = datetime(r.linked_at)
SET s.confidence = CASE WHEN s.confidence IS NULL OR r.confidence > s.confidence
                        THEN r.confidence ELSE s.confidence END,
    s.evidence = r.evidence, s.codes = r.codes, s.linker = r.linker,
    s.evidence_at = datetime(r.evidence_at)
"""

_LOCK: LiteralString = """
MATCH (d:Device {id: $device_id})
SET d._lock = true
REMOVE d._lock
WITH d
MATCH (c:Customer {id: $customer_id})
SET c._lock = true
REMOVE c._lock
WITH d, c
MATCH (d)-[s:SUGGESTED]->(c)
DELETE s
"""

# A customer's word is a proof: like a sign-in's link it removes other
# customers' guesses about the device, and their suggestions.
CONFIRM: LiteralString = (
    _LOCK
    + """
MERGE (d)-[u:USED_BY]->(c)
SET u.method = $method, u.confidence = 1.0, u.linked_at = datetime($at),
    u.evidence = [$text], u.codes = ['CONFIRMED'], u.linker = 'customer',
    u.evidence_at = datetime($at)
WITH d, c
CALL (d, c) {
  OPTIONAL MATCH (d)-[g:USED_BY]->(o:Customer)
  WHERE o <> c AND NOT coalesce(g.method, '') IN $keep
  DELETE g
}
CALL (d, c) {
  OPTIONAL MATCH (d)-[other:SUGGESTED]->(o:Customer) WHERE o <> c
  DELETE other
}
RETURN d.id AS id
"""
)

REJECT: LiteralString = (
    _LOCK
    + """
MERGE (d)-[t:UNLINKED]->(c)
SET t.at = datetime($at), t.method = $method
RETURN d.id AS id
"""
)


@dataclass(frozen=True, slots=True)
class SuggestedDevice(Device):
    """A device a guess says may be the customer's, and what it is based on.

    Nothing here is anyone's browsing: the device's kind and browser family,
    when it was seen, whether it was seen on a network one of the customer's
    own devices uses, and the start times of its visits (to say "on weekday
    evenings"), besides the linker's own evidence in words.
    """

    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    suggested_at: datetime | None = None
    near_own: bool = False
    starts: tuple[datetime, ...] = ()


def _suggestion(row: dict[str, Any]) -> SuggestedDevice:
    device = device_from_row(row)
    starts = (to_datetime(at) for at in row["starts"])
    return SuggestedDevice(
        device.id,
        device.kind,
        device.ua_family,
        device.first_seen,
        device.last_seen,
        confidence=float(row["confidence"] or 0.0),
        evidence=tuple(row["evidence"] or ()),
        suggested_at=to_datetime(row["suggested_at"]),
        near_own=bool(row["near_own"]),
        starts=tuple(at for at in starts if at is not None),
    )


@reads("device")
async def suggestions_of_customers(
    graph: Graph, customer_ids: Sequence[str]
) -> list[list[SuggestedDevice]]:
    """Each customer's suggested devices, the surest first."""
    rows = await graph.read(
        SUGGESTIONS_OF_CUSTOMERS, {"ids": list(customer_ids), "starts": MAX_STARTS}
    )
    return many_per_key(customer_ids, rows, _suggestion)


@reads("device")
async def confirm_device(
    graph: Graph, device_id: str, customer_id: str, at: datetime, text: str, keep: Sequence[str]
) -> bool:
    """The customer says the suggested device is theirs; False if it was not suggested to them.

    ``keep`` names the link methods of other customers a proof leaves alone
    (their own proofs: the device is then shared).
    """
    params = {
        "device_id": device_id,
        "customer_id": customer_id,
        "at": at.isoformat(),
        "text": text,
        "method": CONFIRMED,
        "keep": list(keep),
    }
    return bool(await graph.write(CONFIRM, params))


@reads("device")
async def reject_device(graph: Graph, device_id: str, customer_id: str, at: datetime) -> bool:
    """The customer says the suggested device is not theirs; False if it was not suggested."""
    params = {
        "device_id": device_id,
        "customer_id": customer_id,
        "at": at.isoformat(),
        "method": REJECTED,
    }
    return bool(await graph.write(REJECT, params))
