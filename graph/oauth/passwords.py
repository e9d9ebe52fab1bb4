"""Customers' sign-in credentials and the failed-sign-in counter.

``(:Customer)-[:SIGNS_IN_WITH]->(:Password {hash})`` is kept off the Customer
node so that an export of the customer never carries it.
"""

from __future__ import annotations

from typing import LiteralString

from graph.driver import Graph

SET_SIGN_IN_HASH: LiteralString = """
MATCH (c:Customer {id: $customer_id})
MERGE (c)-[:SIGNS_IN_WITH]->(p:Password)
SET p.hash = $hash, p.updated_at = $now
REMOVE p.failures, p.failed_at
WITH c, p
OPTIONAL MATCH (p)-[:FAILED_FROM]->(f:SignInFailures)
DETACH DELETE f
RETURN DISTINCT c.id AS id
"""

GET_SIGN_IN_HASH: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
RETURN p.hash AS hash
"""

# Failed sign-ins are counted in the graph, so every gateway process sees the
# same counts: per customer on the Password node (``failures``, ``failed_at``)
# and per customer and source address on
# ``(:Password)-[:FAILED_FROM]->(:SignInFailures {source, failures, failed_at})``.
# A count lapses a window after its last failure.
#
# An attempt is counted *before* the slow password check, in one statement that
# first writes to the Password node: that write takes the node's lock, so
# concurrent attempts for one customer queue here and each reads the counts the
# one before it left (read committed takes no lock to read: reading first, as
# this once did, let a burst of guesses all see "no failures yet"). A success
# then gives its attempt back.
RESERVE_ATTEMPT: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
SET p.attempted_at = $now
WITH p
CALL (p) {
  MATCH (p)-[:FAILED_FROM]->(old:SignInFailures) WHERE old.failed_at < $now - $window
  WITH old LIMIT 100
  DETACH DELETE old
}
WITH p, CASE WHEN coalesce(p.failed_at, 0) < $now - $window THEN 0
             ELSE coalesce(p.failures, 0) END AS total
OPTIONAL MATCH (p)-[:FAILED_FROM]->(here:SignInFailures {source: $source})
WITH p, total, coalesce(here.failures, 0) AS from_here
WITH p, total, from_here, total < $max_total AND from_here < $max_from_source AS allowed
CALL (p, total, from_here, allowed) {
  WITH p, total, from_here WHERE allowed
  SET p.failures = total + 1, p.failed_at = $now
  MERGE (p)-[:FAILED_FROM]->(f:SignInFailures {source: $source})
  SET f.failures = from_here + 1, f.failed_at = $now
}
RETURN allowed, p.hash AS hash
"""

SIGNED_IN: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
SET p.failures = CASE WHEN coalesce(p.failures, 0) > 0 THEN p.failures - 1 ELSE 0 END
WITH p
OPTIONAL MATCH (p)-[:FAILED_FROM]->(f:SignInFailures {source: $source})
DETACH DELETE f
"""


async def set_password_hash(graph: Graph, customer_id: str, hash_: str, now: int) -> bool:
    """Store a customer's password hash (and forget failures); False if no such customer."""
    rows = await graph.write(
        SET_SIGN_IN_HASH, {"customer_id": customer_id, "hash": hash_, "now": now}
    )
    return bool(rows)


async def reserve_sign_in_attempt(
    graph: Graph,
    customer_id: str,
    source: str,
    now: int,
    *,
    window: int,
    max_from_source: int,
    max_total: int,
) -> str | None:
    """Count a password attempt as failed until it succeeds; the hash to check it against.

    None when the customer has no password, or has had ``max_from_source``
    failures from ``source`` (an opaque key for the client's address) or
    ``max_total`` from anywhere within ``window`` seconds of the last: the
    attempt is then refused (and not counted).
    """
    rows = await graph.write(
        RESERVE_ATTEMPT,
        {
            "customer_id": customer_id,
            "source": source,
            "now": now,
            "window": window,
            "max_from_source": max_from_source,
            "max_total": max_total,
        },
    )
    if not rows or not rows[0]["allowed"]:
        return None
    return str(rows[0]["hash"])


async def sign_in_succeeded(graph: Graph, customer_id: str, source: str) -> None:
    """Give the attempt back, and forget the failures from this source."""
    await graph.write(SIGNED_IN, {"customer_id": customer_id, "source": source})


async def get_password_hash(graph: Graph, customer_id: str) -> str | None:
    rows = await graph.read(GET_SIGN_IN_HASH, {"customer_id": customer_id})
    return str(rows[0]["hash"]) if rows else None
