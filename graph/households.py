"""Households: customers who share a home and its devices, as a node of their own.

``(:Customer)-[:MEMBER_OF {since, method}]->(:Household {id, created_at})``
    a member. ``method`` says how they came to be one: ``proved`` (they and
    another member signed in on one device) or the method of the guess that
    found the device their household's (``probabilistic``).
``(:Device)-[:SHARED_BY {method, confidence, linked_at, evidence, codes, linker}]->(:Household)``
    the device is the household's: several members proved it theirs
    (``proved``, confidence 1), or a guess fitted several members and none
    alone. A household's device is nobody's personal device
    (graph/sessions.py): its anonymous visits are in no member's history.

A household always has two members or more, each of whom granted
``cross_device`` when they joined; the host decides who joins which
(gateway/linking/households.py) and this module only reads and writes what it
is told, under the locks :func:`apply_households` takes. Leaving
(:data:`LEAVE_HOUSEHOLDS`: a withdrawn ``cross_device``, an erasure) removes
the membership and the guesses of the households left, which may rest on the
leaver's browsing; a household with fewer than two members left goes, with
its ``SHARED_BY`` edges.

Household ids are random: they say nothing about who is in one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph, reads

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT household_id IF NOT EXISTS FOR (n:Household) REQUIRE n.id IS UNIQUE",
)

# How a device came to be a household's when several members proved it.
PROVED: Final = "proved"

# For a bound device `d`: the customers who proved it theirs, by the rule of
# graph/sessions.py (signed in on it, or linked to it with full confidence).
PROVED_BY: LiteralString = """COLLECT {
  MATCH (d)-[u:USED_BY]->(c:Customer) WHERE coalesce(u.confidence, 1.0) >= 1.0
  RETURN c.id AS customer
  UNION
  MATCH (d)<-[:ON]-(:Session)-[:SIGNED_IN_AS]->(c:Customer)
  RETURN c.id AS customer
}"""

# Devices first, then customers, then households, each in id order: the order
# graph/links.py's apply_links takes its locks in, so the two never deadlock.
# A device's `provers` are those of PROVED_BY; `at_home` the customers with
# another device proved theirs on a network the device was seen on that few
# devices use (at most $home_devices: a home, not a cafe).
LOCK_DEVICES: LiteralString = (
    """
UNWIND $ids AS id
MATCH (d:Device {id: id})
SET d._lock = true
REMOVE d._lock
RETURN collect({
  id: d.id, kind: d.kind,
  household: head([(d)-[:SHARED_BY]->(h:Household) | h.id]),
  provers: """
    + PROVED_BY
    + """,
  guessed: [(d)-[u:USED_BY]->(c:Customer) WHERE coalesce(u.confidence, 1.0) < 1.0 | c.id],
  at_home: COLLECT {
    MATCH (d)-[:SEEN_ON]->(n:Network)<-[:SEEN_ON]-(o:Device)
    WHERE o <> d AND n.devices <= $home_devices
    MATCH (o)-[u:USED_BY]->(c:Customer) WHERE coalesce(u.confidence, 1.0) >= 1.0
    RETURN DISTINCT c.id AS customer
  }
}) AS devices
"""
)

# Who proved each device theirs, read before the decision so that the consent
# gate can be asked about them (outside the transaction); read again under the
# lock by LOCK_DEVICES.
PROVERS: LiteralString = (
    """
UNWIND $ids AS id
MATCH (d:Device {id: id})
RETURN d.id AS id, """
    + PROVED_BY
    + """ AS provers
"""
)

# A customer's stored cross_device answer is read after their lock, which
# setConsent takes too (graph/consent.py): a refusal stored since the gate
# was asked is seen here.
LOCK_CUSTOMERS: LiteralString = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
SET c._lock = true
REMOVE c._lock
RETURN collect({
  id: c.id,
  household: head([(c)-[:MEMBER_OF]->(h:Household) | h.id]),
  cross_device: head([(c)-[k:CONSENT {purpose: 'cross_device'}]->(:Purpose) | k.granted])
}) AS customers
"""

LOCK_HOUSEHOLDS: LiteralString = """
UNWIND $ids AS id
MATCH (h:Household {id: id})
SET h._lock = true
REMOVE h._lock
RETURN collect({id: h.id, members: [(c:Customer)-[:MEMBER_OF]->(h) | c.id]}) AS households
"""

# One row per household: its new members and the devices that become its. A
# guess about one person on a household's device is dropped: the evidence
# fits several.
WRITE_HOUSEHOLDS: LiteralString = """
UNWIND $rows AS r
MERGE (h:Household {id: r.household})
ON CREATE SET h.created_at = datetime(r.at)
WITH h, r
CALL (h, r) {
  UNWIND r.members AS m
  MATCH (c:Customer {id: m.customer})
  MERGE (c)-[j:MEMBER_OF]->(h)
  ON CREATE SET j.since = datetime(r.at), j.method = m.method
}
CALL (h, r) {
  UNWIND r.devices AS s
  MATCH (d:Device {id: s.device})
  MERGE (d)-[x:SHARED_BY]->(h)
  ON CREATE SET x.linked_at = datetime(s.linked_at)
  SET x.method = s.method, x.confidence = s.confidence, x.evidence = s.evidence,
      x.codes = s.codes, x.linker = s.linker
  WITH d
  MATCH (d)-[g:USED_BY]->(:Customer) WHERE coalesce(g.confidence, 1.0) < 1.0
  DELETE g
}
"""

# The customer leaves every household (a withdrawn cross_device, an erasure).
# The households' guessed devices go: a guess may rest on the leaver's
# browsing. A household left with fewer than two members goes, with its
# SHARED_BY edges. Locks: the households' devices, the customer, the
# households, in the order apply_households takes them.
LEAVE_HOUSEHOLDS: LiteralString = """
MATCH (c:Customer {id: $customer_id})
CALL (c) {
  MATCH (c)-[:MEMBER_OF]->(:Household)<-[:SHARED_BY]-(d:Device)
  WITH DISTINCT d ORDER BY d.id
  SET d._lock = true
  REMOVE d._lock
}
SET c._lock = true
REMOVE c._lock
WITH c
MATCH (c)-[j:MEMBER_OF]->(h:Household)
WITH j, h ORDER BY h.id
SET h._lock = true
REMOVE h._lock
DELETE j
WITH DISTINCT h
CALL (h) {
  MATCH (h)<-[x:SHARED_BY]-(:Device) WHERE x.method <> $proved
  DELETE x
}
WITH h, COUNT { (:Customer)-[:MEMBER_OF]->(h) } AS left
FOREACH (_ IN CASE WHEN left < 2 THEN [1] ELSE [] END | DETACH DELETE h)
RETURN count(*) AS left, sum(CASE WHEN left < 2 THEN 1 ELSE 0 END) AS dissolved
"""


@dataclass(frozen=True, slots=True)
class DeviceState:
    kind: str | None = None
    household: str | None = None  # the household it is shared by, if any
    provers: frozenset[str] = frozenset()  # customers who proved it theirs
    guessed: frozenset[str] = frozenset()  # customers it is linked to by a guess
    # Customers with another device proved theirs on a home network of this one.
    at_home: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CustomerState:
    household: str | None = None
    cross_device: bool | None = None  # the stored answer; None: never answered


@dataclass(frozen=True, slots=True)
class HouseholdState:
    """The locked devices, customers and households of one decision (a missing id: none)."""

    devices: dict[str, DeviceState]
    customers: dict[str, CustomerState]
    households: dict[str, frozenset[str]]  # household -> its members


@dataclass(frozen=True, slots=True)
class Shared:
    """A device that becomes a household's, and why."""

    device_id: str
    method: str
    confidence: float
    linked_at: datetime
    evidence: tuple[str, ...]
    codes: tuple[str, ...]
    linker: str


@dataclass(frozen=True, slots=True)
class HouseholdWrite:
    """New members and devices of one household (``household`` None: a new one)."""

    household: str | None
    members: tuple[tuple[str, str], ...]  # (customer, method)
    devices: tuple[Shared, ...]
    at: datetime
    new_id: str = field(default_factory=lambda: "h." + secrets.token_urlsafe(16))

    @property
    def id(self) -> str:
        return self.household or self.new_id


@dataclass(frozen=True, slots=True)
class Left:
    """What leaving did: households left, and those of them that went."""

    left: int
    dissolved: int


async def _state(
    tx: AsyncManagedTransaction,
    devices: Collection[str],
    customers: Collection[str],
    home_devices: int,
) -> HouseholdState:
    found: dict[str, DeviceState] = {}
    record = await (
        await tx.run(LOCK_DEVICES, ids=sorted(set(devices)), home_devices=home_devices)
    ).single(strict=True)
    for row in record["devices"]:
        found[row["id"]] = DeviceState(
            row["kind"],
            row["household"],
            frozenset(row["provers"]),
            frozenset(row["guessed"]),
            frozenset(row["at_home"]),
        )
    people: dict[str, CustomerState] = {}
    record = await (await tx.run(LOCK_CUSTOMERS, ids=sorted(set(customers)))).single(strict=True)
    for row in record["customers"]:
        answer = row["cross_device"]
        people[row["id"]] = CustomerState(
            row["household"], None if answer is None else bool(answer)
        )
    ids = {d.household for d in found.values() if d.household}
    ids |= {c.household for c in people.values() if c.household}
    record = await (await tx.run(LOCK_HOUSEHOLDS, ids=sorted(ids))).single(strict=True)
    homes = {row["id"]: frozenset(row["members"]) for row in record["households"]}
    return HouseholdState(found, people, homes)


def _row(w: HouseholdWrite) -> dict[str, Any]:
    return {
        "household": w.id,
        "at": w.at.isoformat(),
        "members": [{"customer": c, "method": m} for c, m in w.members],
        "devices": [
            {
                "device": s.device_id,
                "method": s.method,
                "confidence": s.confidence,
                "linked_at": s.linked_at.isoformat(),
                "evidence": list(s.evidence),
                "codes": list(s.codes),
                "linker": s.linker,
            }
            for s in w.devices
        ],
    }


async def apply_households(
    graph: Graph,
    devices: Collection[str],
    customers: Collection[str],
    decide: Callable[[HouseholdState], Sequence[HouseholdWrite]],
    home_devices: int,
) -> list[HouseholdWrite]:
    """Lock the devices, customers and their households, let ``decide`` see them, write.

    One write transaction; ``decide`` may run more than once (a retried
    transaction), so it must only compute. ``home_devices``: the most devices
    a network may have been seen with to count as a home. Returns what was
    written.
    """

    async def work(tx: AsyncManagedTransaction) -> list[HouseholdWrite]:
        state = await _state(tx, devices, customers, home_devices)
        writes = list(decide(state))
        if writes:
            await (await tx.run(WRITE_HOUSEHOLDS, rows=[_row(w) for w in writes])).consume()
        return writes

    if not devices:
        return []
    return await graph.write_tx(work)


@reads("device")
async def provers_of(graph: Graph, device_ids: Collection[str]) -> dict[str, frozenset[str]]:
    """The customers who proved each device theirs (graph/sessions.py's rule)."""
    rows = await graph.read(PROVERS, {"ids": sorted(set(device_ids))})
    return {row["id"]: frozenset(row["provers"]) for row in rows}


async def leave_in(tx: AsyncManagedTransaction, customer_id: str) -> Left:
    """:data:`LEAVE_HOUSEHOLDS` inside a caller's transaction (the erasure's)."""
    record = await (await tx.run(LEAVE_HOUSEHOLDS, customer_id=customer_id, proved=PROVED)).single()
    if record is None:
        return Left(0, 0)
    return Left(int(record["left"]), int(record["dissolved"] or 0))


@reads("device")
async def leave_households(graph: Graph, customer_id: str) -> Left:
    """The customer leaves every household (see the module): what they left."""
    return await graph.write_tx(lambda tx: leave_in(tx, customer_id))
