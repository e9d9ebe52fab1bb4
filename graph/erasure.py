"""Erasing a customer from the graph, and the tombstones that keep them erased.

:func:`erase_customer` removes, in one write transaction, the customer node
and everything that carries their identity: their devices (those proved
theirs and linked to no one else), their sessions (signed in as them, or
anonymous on those devices) with every event in them, their purchases,
consents and consent history, grants, token families with their refresh
tokens, authorization codes, password and failed sign-ins, privacy-page
sessions and access log. What is derived about them and hangs off the
customer node (a plugin's ``PREFERS``, say) goes with it; plugins erase what
they keep elsewhere first (the ``erase_customer_data`` hook). Aggregates over
many shoppers (a product's popularity, item-to-item edges) stay: they are
nobody's.

Events may still be arriving for the customer while they are erased (a tab
left open, a nightly export). So the erasure leaves **tombstones**: one
``(:Erased {key})`` per erased customer, session and device id, where the key
is a keyed hash (the PII key) of the id, never the id itself. The event
writer and the customer loader refuse what a tombstone names, checking after
their own writes in the same transaction (graph/ingest/event_writer.py): the
erasure first write-locks the customer and their devices and writes the
tombstones in its own transaction, so a concurrent writer either finished
before (and what it wrote is erased too) or sees the tombstones.

Devices (graph/sessions.py says which are whose): a device that is theirs
alone goes, with a tombstone. On a device they proved theirs that others use
too (a family's tablet), their signed-in sessions go and so do the anonymous
ones, which nothing shows to be anyone else's; the device stays for the
others. A device only guessed theirs (a link of confidence below 1) is not
theirs to erase: a guess is wrong often enough (docs/linking.md) that erasing
it would delete, and tombstone for good, someone else's device and visits. It
loses its link, with the customer node. Any device the erasure leaves with
nothing (no link, no visit) goes, and so does any network that no device is
seen on any more.

Households (graph/households.py): the customer leaves every household they
are a member of, the guesses of those households' devices go (they may rest
on the customer's browsing), and a household left with fewer than two members
goes with its ``SHARED_BY`` edges.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, Final, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.households import leave_in
from graph.links import LEAVE_NETWORKS
from graph.oauth.families import REVOCATIONS, tick
from graph.pii import sender_prefix
from graph.sessions import OWN_DEVICES

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT erased_key IF NOT EXISTS FOR (n:Erased) REQUIRE n.key IS UNIQUE",
    "CREATE INDEX token_family_customer IF NOT EXISTS FOR (n:TokenFamily) ON (n.customer_id)",
    "CREATE INDEX auth_code_customer IF NOT EXISTS FOR (n:AuthCode) ON (n.customer_id)",
)

KINDS: Final = ("customer", "session", "device")


def erased_key(kind: str, id_: str, pii_key: str) -> str:
    """The tombstone key of an erased customer, session or device id."""
    if not pii_key:
        raise ValueError("tombstones need the deployment's PII key")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    message = f"tightrope erased {kind} {id_}".encode()
    return hmac.new(pii_key.encode(), message, hashlib.sha256).hexdigest()


# The customer and the devices they proved theirs or are linked to are
# write-locked first: an event writer that would attach a new session to them
# (or sign one in as them) waits for this transaction, and then finds them gone
# and the tombstones in place. It answers the devices that are theirs alone
# (`devices`: deleted and tombstoned), every device they proved, shared or not
# (`proved`: its anonymous visits go, since nothing shows they are another's),
# every device linked to them (`linked`: deleted when nothing is left on it) and
# the networks those devices were seen on (`networks`).
LOCK: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
SET c._erasing = true
WITH c, 1.0 AS min_confidence
"""
    + OWN_DEVICES
    + """
WITH c, own, proved, COLLECT { MATCH (d:Device)-[:USED_BY]->(c) RETURN d } AS linked
FOREACH (d IN own | SET d._erasing = true)
FOREACH (d IN proved + linked | SET d._lock = true REMOVE d._lock)
RETURN c.contact_enc IS NOT NULL AS had_contact, [d IN own | d.id] AS devices,
       [d IN proved | d.id] AS proved, [d IN linked | d.id] AS linked,
       COLLECT { UNWIND proved + linked AS d MATCH (d)-[:SEEN_ON]->(n:Network)
                 RETURN DISTINCT n.id } AS networks
"""
)

# Sessions signed in as the customer, and the anonymous ones on every device
# they proved theirs ($devices): on a shared device too. Another customer's
# link or sign-in there does not make those visits that customer's (that is
# the rule of graph/sessions.py), so it must not keep them from erasure.
SESSIONS: LiteralString = """
MATCH (c:Customer {id: $customer_id})
CALL (c) {
  MATCH (s:Session)-[:SIGNED_IN_AS]->(c)
  RETURN s
  UNION
  UNWIND $devices AS device_id
  MATCH (s:Session)-[:ON]->(:Device {id: device_id})
  WHERE NOT EXISTS { (s)-[:SIGNED_IN_AS]->(:Customer) }
  RETURN s
}
RETURN collect(DISTINCT s.id) AS sessions
"""

TOMBSTONES: LiteralString = """
UNWIND $keys AS key
MERGE (:Erased {key: key})
"""

EVENTS: LiteralString = """
UNWIND $sessions AS session_id
MATCH (:Session {id: session_id})-[e:VIEWED|ADDED_TO_CART|SIGNED_IN_AS]->()
RETURN type(e) AS type, count(e) AS n
"""

# Every relationship the customer node has, by type: whatever a plugin hung on
# it is counted, then goes with the node. (Sign-ins are counted with their
# sessions, access records and the password as nodes of their own.)
RELATIONSHIPS: LiteralString = """
MATCH (c:Customer {id: $customer_id})-[r]-()
WHERE NOT type(r) IN ['SIGNED_IN_AS', 'ABOUT', 'SIGNS_IN_WITH']
RETURN type(r) AS type, count(r) AS n
"""

# Events sent with the customer's own token that sit on a visit the erasure
# keeps (say, an anonymous visit on a device that is not theirs): their ids
# carry the customer's sender prefix (graph/pii.py), found by an index seek.
DELETE_SENT: LiteralString = """
CALL () {
  MATCH ()-[e:VIEWED]->() USING INDEX e:VIEWED(event_id)
  WHERE e.event_id STARTS WITH $prefix
  DELETE e
  RETURN count(*) AS views
}
CALL () {
  MATCH ()-[e:ADDED_TO_CART]->() USING INDEX e:ADDED_TO_CART(event_id)
  WHERE e.event_id STARTS WITH $prefix
  DELETE e
  RETURN count(*) AS carts
}
RETURN views + carts AS n
"""

DELETE_SESSIONS: LiteralString = """
UNWIND $sessions AS session_id
MATCH (s:Session {id: session_id})
DETACH DELETE s
RETURN count(*) AS n
"""

DELETE_DEVICES: LiteralString = (
    """
UNWIND $devices AS device_id
MATCH (d:Device {id: device_id})
"""
    + LEAVE_NETWORKS
    + """
DETACH DELETE d
RETURN count(*) AS n
"""
)

# Run after the customer node is gone: a device the erasure left with no link,
# no visit and no household is only a kind, a browser family and two dates of
# the erased customer's; it goes too (without a tombstone: it was not proved
# theirs alone, and its id may come back from someone else's browser).
DELETE_LEFT_DEVICES: LiteralString = (
    """
UNWIND $devices AS device_id
MATCH (d:Device {id: device_id})
WHERE NOT EXISTS { (d)-[:USED_BY]->() } AND NOT EXISTS { (:Session)-[:ON]->(d) }
  AND NOT EXISTS { (d)-[:SHARED_BY]->() }
"""
    + LEAVE_NETWORKS
    + """
DETACH DELETE d
RETURN count(*) AS n
"""
)

# A network no device is seen on any more was the erased customer's alone: its
# keyed prefix hash and first-seen time say where they were.
DELETE_NETWORKS: LiteralString = """
UNWIND $networks AS network_id
MATCH (n:Network {id: network_id})
WHERE NOT EXISTS { ()-[:SEEN_ON]->(n) }
DETACH DELETE n
RETURN count(*) AS n
"""

DELETE_ACCESS_LOG: LiteralString = """
MATCH (:Customer {id: $customer_id})<-[:ABOUT]-(a:AccessRecord)
DETACH DELETE a
RETURN count(*) AS n
"""

DELETE_SIGN_IN: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
OPTIONAL MATCH (p)-[:FAILED_FROM]->(f:SignInFailures)
WITH p, collect(f) AS failures
FOREACH (f IN failures | DETACH DELETE f)
DETACH DELETE p
RETURN count(*) AS n
"""

DELETE_FAMILIES: LiteralString = """
MATCH (f:TokenFamily {customer_id: $customer_id})
OPTIONAL MATCH (r:RefreshToken)-[:OF]->(f)
WITH f, collect(r) AS tokens
FOREACH (r IN tokens | DETACH DELETE r)
DETACH DELETE f
RETURN count(*) AS n
"""

DELETE_CODES: LiteralString = """
MATCH (a:AuthCode {customer_id: $customer_id})
DELETE a
RETURN count(*) AS n
"""

DELETE_CUSTOMER: LiteralString = """
MATCH (c:Customer {id: $customer_id})
DETACH DELETE c
RETURN count(*) AS n
"""

DELETE_PAGE_SESSIONS: LiteralString = """
MATCH (p:PageSession {customer_id: $customer_id})
DELETE p
RETURN count(*) AS n
"""

IS_ERASED: LiteralString = "MATCH (e:Erased {key: $key}) RETURN count(e) > 0 AS erased"

# Which of these tombstone keys exist (the writers' check).
ERASED_AMONG: LiteralString = """
UNWIND $keys AS key
MATCH (e:Erased {key: key})
RETURN collect(key) AS found
"""

# What the counts are called in the report: a relationship type, in words.
NAMES: Final = {
    "VIEWED": "views",
    "ADDED_TO_CART": "basket additions",
    "SIGNED_IN_AS": "sign-ins",
    "PURCHASED": "purchases",
    "CONSENT": "consents",
    "CONSENT_CHANGE": "consent changes",
    "AUTHORISED": "authorised apps",
    "USED_BY": "device links",
    "MEMBER_OF": "household memberships",
    "PREFERS": "derived preferences",
}


async def _single(tx: AsyncManagedTransaction, query: LiteralString, **params: Any) -> int:
    record = await (await tx.run(query, **params)).single(strict=True)
    return int(record["n"])


async def erase_customer(graph: Graph, customer_id: str, pii_key: str) -> dict[str, int] | None:
    """Erase the customer (see the module's docstring); what went, by kind; None if unknown."""

    async def work(tx: AsyncManagedTransaction) -> dict[str, int] | None:
        locked = await (await tx.run(LOCK, customer_id=customer_id)).single()
        if locked is None:
            return None
        devices: list[str] = list(locked["devices"])
        found = await (
            await tx.run(SESSIONS, customer_id=customer_id, devices=list(locked["proved"]))
        ).single(strict=True)
        sessions: list[str] = list(found["sessions"])
        keys = [erased_key("customer", customer_id, pii_key)]
        keys += [erased_key("session", s, pii_key) for s in sessions]
        keys += [erased_key("device", d, pii_key) for d in devices]
        await (await tx.run(TOMBSTONES, keys=keys)).consume()

        counts: dict[str, int] = {"customer": 1, "contact": 1 if locked["had_contact"] else 0}
        for query, params in (
            (EVENTS, {"sessions": sessions}),
            (RELATIONSHIPS, {"customer_id": customer_id}),
        ):
            async for row in await tx.run(query, **params):
                name = NAMES.get(row["type"], row["type"])
                counts[name] = counts.get(name, 0) + int(row["n"])
        counts["sessions"] = await _single(tx, DELETE_SESSIONS, sessions=sessions)
        counts["events sent elsewhere"] = await _single(
            tx, DELETE_SENT, prefix=sender_prefix(customer_id, pii_key)
        )
        counts["devices"] = await _single(tx, DELETE_DEVICES, devices=devices)
        for name, query in (
            ("access log records", DELETE_ACCESS_LOG),
            ("passwords", DELETE_SIGN_IN),
            ("token families", DELETE_FAMILIES),
            ("authorization codes", DELETE_CODES),
            ("privacy page sessions", DELETE_PAGE_SESSIONS),
        ):
            counts[name] = await _single(tx, query, customer_id=customer_id)
        # Their households lose them, and the guesses that may rest on their
        # browsing; one left with fewer than two members goes.
        counts["households"] = (await leave_in(tx, customer_id)).dissolved
        await _single(tx, DELETE_CUSTOMER, customer_id=customer_id)
        left = sorted((set(locked["proved"]) | set(locked["linked"])) - set(devices))
        counts["devices"] += await _single(tx, DELETE_LEFT_DEVICES, devices=left)
        counts["networks"] = await _single(tx, DELETE_NETWORKS, networks=locked["networks"])
        await tick(tx)  # other processes' caches of live tokens learn of it too
        return {name: n for name, n in counts.items() if n}

    erased = await graph.write_tx(work)
    if erased is not None:
        # This process's cache of live token families empties at once.
        graph.advance(REVOCATIONS)
    return erased


async def is_erased(graph: Graph, customer_id: str, pii_key: str) -> bool:
    """Whether a customer of this id was erased (a tombstone names them)."""
    rows = await graph.read(IS_ERASED, {"key": erased_key("customer", customer_id, pii_key)})
    return bool(rows and rows[0]["erased"])


async def erased_among(tx: AsyncManagedTransaction, keys: Iterable[str]) -> set[str]:
    """Which of these tombstone keys exist, read inside a writer's transaction."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    record = await (await tx.run(ERASED_AMONG, keys=wanted)).single(strict=True)
    return set(record["found"])


async def erased_ids(graph: Graph, kind: str, ids: Iterable[str], pii_key: str) -> set[str]:
    """Those of ``ids`` (customers, sessions or devices) that were erased."""
    keys = {erased_key(kind, id_, pii_key): id_ for id_ in set(ids)}
    if not keys:
        return set()
    rows = await graph.read(ERASED_AMONG, {"keys": sorted(keys)})
    return {keys[k] for k in rows[0]["found"]} if rows else set()
