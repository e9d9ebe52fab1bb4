"""Finding the customer who signs in, or whom a token is to be about."""

from __future__ import annotations

from typing import LiteralString

from graph.driver import Graph
from graph.pii import email_hmac

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


CUSTOMER_EXISTS: LiteralString = "MATCH (c:Customer {id: $id}) RETURN count(c) > 0 AS found"


async def customer_exists(graph: Graph, customer_id: str) -> bool:
    rows = await graph.read(CUSTOMER_EXISTS, {"id": customer_id})
    return bool(rows and rows[0]["found"])
