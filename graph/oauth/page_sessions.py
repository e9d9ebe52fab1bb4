"""Signed-in sessions of the customer's privacy page: ``(:PageSession)``.

The page's cookie holds a random token (signed); the graph keeps only its
SHA-256, the customer and when it ends. A session is alive while it has not
ended, was not signed out and its customer exists: signing out, and erasing
the customer, end it at once, whatever the cookie says.
"""

from __future__ import annotations

from typing import LiteralString

from graph.driver import Graph

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT page_session_id IF NOT EXISTS FOR (n:PageSession) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX page_session_customer IF NOT EXISTS FOR (n:PageSession) ON (n.customer_id)",
    "CREATE INDEX page_session_expiry IF NOT EXISTS FOR (n:PageSession) ON (n.expires_at)",
)

# Ended sessions are swept as new ones start, a bounded batch at a time.
START: LiteralString = """
MATCH (c:Customer {id: $customer_id})
CREATE (:PageSession {id: $id, customer_id: c.id, created_at: $now, expires_at: $expires_at})
WITH count(*) AS started
CALL (started) {
  MATCH (old:PageSession) WHERE old.expires_at < $now
  WITH old LIMIT 100
  DELETE old
}
RETURN started
"""

LIVE: LiteralString = """
MATCH (p:PageSession {id: $id})
WHERE p.expires_at > $now AND EXISTS { (:Customer {id: p.customer_id}) }
RETURN p.customer_id AS customer_id
"""

END: LiteralString = "MATCH (p:PageSession {id: $id}) DELETE p RETURN count(*) AS ended"


async def start_page_session(
    graph: Graph, session_hash: str, customer_id: str, now: int, expires_at: int
) -> bool:
    """Record a signed-in page session; False if the customer does not exist."""
    rows = await graph.write(
        START,
        {"id": session_hash, "customer_id": customer_id, "now": now, "expires_at": expires_at},
    )
    return bool(rows and rows[0]["started"])


async def page_session_customer(graph: Graph, session_hash: str, now: int) -> str | None:
    """The customer of a live page session, else None."""
    rows = await graph.read(LIVE, {"id": session_hash, "now": now})
    return str(rows[0]["customer_id"]) if rows else None


async def end_page_session(graph: Graph, session_hash: str) -> bool:
    rows = await graph.write(END, {"id": session_hash})
    return bool(rows and rows[0]["ended"])
