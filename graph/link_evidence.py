"""Reads that identity linking decides from: devices, networks, what was looked at.

Each is one query, batched where a decision needs many keys. Which of these a
linker may call is the host's business (gateway/linking/data.py): graph/ only
reads. ``deterministic`` parameters name the link methods the host counts as
proof (a sign-in, an email): only those make a customer a candidate, so one
guess never leads to another.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph

SESSION_DEVICES: LiteralString = """
UNWIND $ids AS id
MATCH (:Session {id: id})-[:ON]->(d:Device)
RETURN id AS of, d.id AS device
"""

DEVICE_FACTS: LiteralString = """
UNWIND $ids AS id
MATCH (d:Device {id: id})
RETURN d.id AS id, d.kind AS kind, d.ua_hmac AS ua,
  [(d)-[u:USED_BY]->(c:Customer) | {customer: c.id, method: u.method,
                                    confidence: u.confidence}] AS links
"""

# A network on which more than $max_devices devices still in the graph were seen
# is not read device by device: it is public whatever the window says, and
# reading it would cost as much as it has devices.
NETWORK_PEERS: LiteralString = """
MATCH (n:Network {id: $network})
WITH n, coalesce(n.devices, 0) AS total
CALL (n, total) {
  MATCH (n)<-[s:SEEN_ON]-(d:Device)
  WHERE total <= $max_devices AND s.last_at >= datetime($since)
  RETURN collect({device: d.id, kind: d.kind, ua: d.ua_hmac, last_at: s.last_at,
    links: [(d)-[u:USED_BY]->(c:Customer) | {customer: c.id, method: u.method,
                                             confidence: u.confidence}]}) AS devices
}
RETURN total, devices
"""

# What a device's anonymous visits looked at or put in a basket; and what a
# customer did in their own sessions (signed in, or on a device proved theirs)
# and bought. Recent first, a bounded number of products each.
DEVICE_PRODUCTS: LiteralString = """
UNWIND $ids AS id
CALL (id) {
  MATCH (:Device {id: id})<-[:ON]-(s:Session)-[r:VIEWED|ADDED_TO_CART]->(p:Product)
  WHERE r.at >= datetime($since) AND NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
  WITH p, max(r.at) AS at ORDER BY at DESC LIMIT $limit
  RETURN collect(p.sku) AS skus, collect(at) AS times
}
RETURN id AS of, skus, times
"""

CUSTOMER_PRODUCTS: LiteralString = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
CALL (c) {
  CALL (c) {
    MATCH (s:Session)-[:SIGNED_IN_AS]->(c)
    RETURN s
    UNION
    MATCH (s:Session)-[:ON]->(:Device)-[u:USED_BY]->(c)
    WHERE u.method IN $deterministic AND NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
    RETURN s
  }
  MATCH (s)-[r:VIEWED|ADDED_TO_CART]->(p:Product) WHERE r.at >= datetime($since)
  RETURN p, r.at AS at
  UNION ALL
  MATCH (c)-[r:PURCHASED]->(p:Product) WHERE $purchases AND r.at >= datetime($since)
  RETURN p, r.at AS at
}
WITH id, p, max(at) AS at ORDER BY at DESC
WITH id, collect(p.sku) AS skus, collect(at) AS times
RETURN id AS of, skus[..$limit] AS skus, times[..$limit] AS times
"""

# How many views each product has had: the degree of the product node, which
# Neo4j keeps, so this costs no scan; and all views, from the counts store.
POPULARITY: LiteralString = """
CALL () { MATCH ()-[r:VIEWED]->() RETURN count(r) AS total }
UNWIND $skus AS sku
MATCH (p:Product {sku: sku})
RETURN sku, COUNT { (p)<-[:VIEWED]-() } AS views, total
"""

CUSTOMERS_WITH_EMAIL: LiteralString = """
UNWIND $hashes AS h
MATCH (c:Customer {email_hmac: h})
RETURN h AS of, c.id AS customer
"""


@dataclass(frozen=True, slots=True)
class LinkedTo:
    """One link of a device, as linking sees it."""

    customer_id: str
    method: str | None
    confidence: float | None


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    id: str
    kind: str | None
    user_agent: str | None  # the keyed hash of its browser family
    links: tuple[LinkedTo, ...]


@dataclass(frozen=True, slots=True)
class Peer:
    """A device seen on a network within the window, and when it was last there."""

    device: DeviceFacts
    last_at: datetime


@dataclass(frozen=True, slots=True)
class NetworkPeers:
    """A network's devices within the window (none read when ``total`` is over the cap)."""

    total: int  # devices seen on it that are still in the graph
    peers: tuple[Peer, ...]


def _links(rows: Sequence[dict[str, Any]]) -> tuple[LinkedTo, ...]:
    return tuple(
        LinkedTo(
            r["customer"],
            r["method"],
            None if r["confidence"] is None else float(r["confidence"]),
        )
        for r in rows
    )


async def session_devices(graph: Graph, session_ids: Collection[str]) -> dict[str, list[str]]:
    """The devices each session ran on (a session without one is left out)."""
    if not session_ids:
        return {}
    found: dict[str, list[str]] = {}
    for row in await graph.read(SESSION_DEVICES, {"ids": sorted(set(session_ids))}):
        found.setdefault(row["of"], []).append(row["device"])
    return found


async def device_facts(graph: Graph, ids: Collection[str]) -> dict[str, DeviceFacts]:
    """Each known device's kind, browser family hash and links."""
    if not ids:
        return {}
    rows = await graph.read(DEVICE_FACTS, {"ids": sorted(set(ids))})
    return {r["id"]: DeviceFacts(r["id"], r["kind"], r["ua"], _links(r["links"])) for r in rows}


async def network_peers(
    graph: Graph, network: str, since: datetime, max_devices: int
) -> NetworkPeers | None:
    """The devices seen on a network since ``since``; None for a network never seen."""
    rows = await graph.read(
        NETWORK_PEERS,
        {"network": network, "since": since.isoformat(), "max_devices": max_devices},
    )
    if not rows:
        return None
    peers = []
    for d in rows[0]["devices"]:
        last_at = to_datetime(d["last_at"])
        if last_at is not None:
            facts = DeviceFacts(d["device"], d["kind"], d["ua"], _links(d["links"]))
            peers.append(Peer(facts, last_at))
    return NetworkPeers(int(rows[0]["total"]), tuple(peers))


Seen = dict[str, datetime]  # product -> the last time it was looked at or kept


def _seen(row: dict[str, Any]) -> Seen:
    found = {}
    for sku, at in zip(row["skus"], row["times"], strict=True):
        when = to_datetime(at)
        if when is not None:
            found[sku] = when
    return found


async def products_of_devices(
    graph: Graph, ids: Collection[str], since: datetime, limit: int
) -> dict[str, Seen]:
    """Products looked at or kept in each device's anonymous visits since ``since``, and when."""
    if not ids:
        return {}
    rows = await graph.read(
        DEVICE_PRODUCTS, {"ids": sorted(set(ids)), "since": since.isoformat(), "limit": limit}
    )
    return {r["of"]: _seen(r) for r in rows}


async def products_of_customers(
    graph: Graph,
    ids: Collection[str],
    since: datetime,
    limit: int,
    deterministic: Collection[str],
    purchases: bool,
) -> dict[str, Seen]:
    """Products each customer looked at, kept (and bought, if ``purchases``), and when last."""
    if not ids:
        return {}
    params = {
        "ids": sorted(set(ids)),
        "since": since.isoformat(),
        "limit": limit,
        "deterministic": list(deterministic),
        "purchases": purchases,
    }
    rows = await graph.read(CUSTOMER_PRODUCTS, params)
    return {r["of"]: _seen(r) for r in rows}


async def popularity(graph: Graph, skus: Collection[str]) -> tuple[dict[str, int], int]:
    """How many views each product has had, and how many views there are in all."""
    if not skus:
        return {}, 0
    rows = await graph.read(POPULARITY, {"skus": sorted(set(skus))})
    total = int(rows[0]["total"]) if rows else 0
    return {r["sku"]: int(r["views"]) for r in rows}, total


async def customers_with_email(graph: Graph, hashes: Collection[str]) -> dict[str, list[str]]:
    """The customers whose email hash is each of ``hashes``."""
    if not hashes:
        return {}
    found: dict[str, list[str]] = {}
    for row in await graph.read(CUSTOMERS_WITH_EMAIL, {"hashes": sorted(set(hashes))}):
        found.setdefault(row["of"], []).append(row["customer"])
    return found
