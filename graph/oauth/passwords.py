"""Customers' sign-in credentials and the failed-sign-in counter.

``(:Customer)-[:SIGNS_IN_WITH]->(:Password {hash})`` is kept off the Customer
node so that an export of the customer never carries it.
"""

from __future__ import annotations

from typing import LiteralString

from graph.driver import Graph
from graph.pii import email_hmac

SET_SIGN_IN_HASH: LiteralString = """
MATCH (c:Customer {id: $customer_id})
MERGE (c)-[:SIGNS_IN_WITH]->(p:Password)
SET p.hash = $hash, p.updated_at = $now
REMOVE p.failures, p.failed_at
RETURN c.id AS id
"""

GET_SIGN_IN_HASH: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
RETURN p.hash AS hash
"""

# Failed sign-ins are counted on the Password node, so every gateway process
# sees the same count; a success (or a new password) clears it.
COUNT_FAILURE: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
SET p.failures = CASE WHEN coalesce(p.failed_at, 0) < $now - $window THEN 1
                      ELSE coalesce(p.failures, 0) + 1 END,
    p.failed_at = $now
RETURN p.failures AS failures
"""

RECENT_FAILURES: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
RETURN CASE WHEN coalesce(p.failed_at, 0) < $now - $window THEN 0
            ELSE coalesce(p.failures, 0) END AS failures
"""

CLEAR_FAILURES: LiteralString = """
MATCH (:Customer {id: $customer_id})-[:SIGNS_IN_WITH]->(p:Password)
WHERE p.failures IS NOT NULL
REMOVE p.failures, p.failed_at
"""


async def set_password_hash(graph: Graph, customer_id: str, hash_: str, now: int) -> bool:
    """Store a customer's password hash; False if there is no such customer."""
    rows = await graph.write(
        SET_SIGN_IN_HASH, {"customer_id": customer_id, "hash": hash_, "now": now}
    )
    return bool(rows)


async def count_sign_in_failure(graph: Graph, customer_id: str, now: int, window: int) -> int:
    rows = await graph.write(
        COUNT_FAILURE, {"customer_id": customer_id, "now": now, "window": window}
    )
    return int(rows[0]["failures"]) if rows else 0


async def recent_sign_in_failures(graph: Graph, customer_id: str, now: int, window: int) -> int:
    rows = await graph.read(
        RECENT_FAILURES, {"customer_id": customer_id, "now": now, "window": window}
    )
    return int(rows[0]["failures"]) if rows else 0


async def clear_sign_in_failures(graph: Graph, customer_id: str) -> None:
    await graph.write(CLEAR_FAILURES, {"customer_id": customer_id})


# Several customers could share an email only through bad imports; then none
# of them signs in by email (each still can by customer number).
CUSTOMER_BY_EMAIL: LiteralString = """
MATCH (c:Customer {email_hmac: $email_hmac})
WITH collect(c.id) AS ids
RETURN CASE WHEN size(ids) = 1 THEN ids[0] END AS id
"""


async def customer_by_email(graph: Graph, email: str, pii_key: str) -> str | None:
    """The id of the one customer with this email, matched by its keyed hash."""
    rows = await graph.read(CUSTOMER_BY_EMAIL, {"email_hmac": email_hmac(email, pii_key)})
    return rows[0]["id"] if rows and rows[0]["id"] is not None else None


async def get_password_hash(graph: Graph, customer_id: str) -> str | None:
    rows = await graph.read(GET_SIGN_IN_HASH, {"customer_id": customer_id})
    return str(rows[0]["hash"]) if rows else None
