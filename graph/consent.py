"""A customer's consents: the current answer per purpose, and every change ever made.

``(:Customer)-[:CONSENT {purpose, granted, at, version, source}]->(:Purpose)``
holds the current answer, one edge per purpose. Every change also adds a
``[:CONSENT_CHANGE {purpose, granted, at, version, source, seq}]`` edge that
nothing ever updates or removes (short of erasing the customer): the history.

A change through the API locks the customer first, so two changes at once are
serialised: each gets its own ``seq`` (a counter on the customer) and a time
read after the lock, and the current edge ends up as the one written last. The
bulk loader writes the same two edges (graph/ingest/cypher.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, LiteralString

from graph.batch import many_per_key
from graph.customers import to_datetime
from graph.driver import Graph, reads
from graph.model import Consent
from graph.together import Part, read_part

# A part (graph/together.py): the gate's consent read can share a request's exchange.
CONSENTS_OF_CUSTOMERS = Part(
    "consents_of_customers",
    """UNWIND keys AS id
MATCH (:Customer {id: id})-[k:CONSENT]->(:Purpose)
WITH {of: id, purpose: k.purpose, granted: k.granted, at: k.at,
      version: k.version, source: k.source} AS row""",
)

# The property set and removed is how Cypher takes the customer's write lock
# before reading the counter (graph/ingest/cypher.py LOCK_SESSIONS does the same).
SET_CONSENT: LiteralString = """
MATCH (c:Customer {id: $customer_id})
SET c._lock = true
REMOVE c._lock
WITH c, coalesce(c.consent_seq, 0) + 1 AS seq
SET c.consent_seq = seq
WITH c, seq, datetime.realtime() AS at
MERGE (p:Purpose {name: $purpose})
CREATE (c)-[:CONSENT_CHANGE {purpose: $purpose, granted: $granted, at: at,
                             version: $version, source: $source, seq: seq}]->(p)
MERGE (c)-[k:CONSENT {purpose: $purpose}]->(p)
SET k.granted = $granted, k.at = at, k.version = $version, k.source = $source
RETURN c.id AS customer_id, k.purpose AS purpose, k.granted AS granted, k.at AS at,
       k.version AS version, k.source AS source
"""

CONSENT_HISTORY: LiteralString = """
MATCH (:Customer {id: $customer_id})-[h:CONSENT_CHANGE]->(:Purpose)
WHERE $purpose IS NULL OR h.purpose = $purpose
RETURN h.purpose AS purpose, h.granted AS granted, h.at AS at,
       h.version AS version, h.source AS source
ORDER BY h.at DESC, coalesce(h.seq, 0) DESC
LIMIT $limit
"""


def _consent(customer_id: str, row: Mapping[str, Any]) -> Consent:
    at = to_datetime(row["at"])
    assert at is not None  # every writer records a time
    return Consent(
        customer_id,
        row["purpose"],
        bool(row["granted"]),
        at,
        row["version"] or "",
        row["source"] or "",
    )


@reads("profile")
async def consents_of_customers(graph: Graph, ids: Sequence[str]) -> list[dict[str, Consent]]:
    """Each customer's current answer per purpose; a purpose never answered is absent."""
    rows = await read_part(graph, CONSENTS_OF_CUSTOMERS, list(ids))
    grouped = many_per_key(ids, rows, lambda row: row)
    return [
        {row["purpose"]: _consent(customer_id, row) for row in found}
        for customer_id, found in zip(ids, grouped, strict=True)
    ]


@reads("profile")
async def set_consent(
    graph: Graph, customer_id: str, purpose: str, granted: bool, *, source: str, version: str
) -> Consent | None:
    """Record a customer's answer (and keep it in the history); None if no such customer."""
    rows = await graph.write(
        SET_CONSENT,
        {
            "customer_id": customer_id,
            "purpose": purpose,
            "granted": granted,
            "source": source,
            "version": version,
        },
    )
    return _consent(customer_id, rows[0]) if rows else None


@reads("profile")
async def consent_history(
    graph: Graph, customer_id: str, limit: int, purpose: str | None = None
) -> list[Consent]:
    """A customer's changes of consent, newest first (at most ``limit``)."""
    rows = await graph.read(
        CONSENT_HISTORY, {"customer_id": customer_id, "purpose": purpose, "limit": limit}
    )
    return [_consent(customer_id, row) for row in rows]
