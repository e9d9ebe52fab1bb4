"""Token families: ``(:TokenFamily)``, one per sign-in of a client for a customer.

(Or one per client-credentials token.) Access tokens carry the family's id as
``gid``; the resource server checks that the family is alive, which is how a
revocation takes effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT token_family_id IF NOT EXISTS FOR (n:TokenFamily) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX token_family_pair IF NOT EXISTS "
    "FOR (n:TokenFamily) ON (n.customer_id, n.client_id)",
    "CREATE INDEX token_family_client IF NOT EXISTS FOR (n:TokenFamily) ON (n.client_id)",
    "CREATE INDEX token_family_expiry IF NOT EXISTS FOR (n:TokenFamily) ON (n.expires_at)",
    "CREATE CONSTRAINT revocation_clock_id IF NOT EXISTS "
    "FOR (n:RevocationClock) REQUIRE n.id IS UNIQUE",
)


# The epoch (Graph.epoch) that every revocation through a Graph advances: the
# resource server's cache of live families watches it, so a revocation made
# by this process bites on its very next request.
REVOCATIONS = "revocations"

# Every write that can end a token's life also ticks this clock, in the same
# transaction. Other processes read the one number a moment (gateway/oauth/
# liveness.py) instead of asking after each token family on every request.
TICK: LiteralString = """
MERGE (k:RevocationClock {id: 'revocations'})
SET k.value = coalesce(k.value, 0) + 1
"""
CLOCK: LiteralString = (
    "OPTIONAL MATCH (k:RevocationClock {id: 'revocations'}) RETURN k.value AS value"
)


@dataclass(frozen=True)
class FamilyRecord:
    id: str
    client_id: str
    customer_id: str | None
    scopes: tuple[str, ...]
    expires_at: int
    revoked_at: int | None


@dataclass(frozen=True)
class LiveFamily:
    """What the resource server learns from one cheap read per request."""

    client_id: str
    customer_id: str | None
    client_kind: str
    allowed_scopes: frozenset[str]
    expires_at: int  # the family's end (seconds since the epoch): kept no longer


# Families a day past their end (and their refresh tokens) are swept as new ones
# are made, a bounded batch at a time, so the store stays the size of what lives.
# The family may exist already, revoked by a replay of the code that started it
# (graph/oauth/codes.py): it is filled in, and revoked_at is left as it is.
CREATE_FAMILY: LiteralString = """
MERGE (f:TokenFamily {id: $id})
SET f.client_id = $client_id, f.customer_id = $customer_id, f.scopes = $scopes,
    f.created_at = $now, f.expires_at = $expires_at
WITH count(*) AS done
MATCH (old:TokenFamily) WHERE old.expires_at < $now - 86400
WITH old LIMIT 100
OPTIONAL MATCH (r:RefreshToken)-[:OF]->(old)
DETACH DELETE r, old
"""

GET_FAMILY: LiteralString = "MATCH (f:TokenFamily {id: $id}) RETURN f {.*} AS f"

REVOKE_FAMILY: LiteralString = """
MATCH (f:TokenFamily {id: $id}) WHERE f.revoked_at IS NULL
SET f.revoked_at = $now
RETURN count(f) AS revoked
"""

# The per-request check: the family is alive, its client still exists, and so
# does its customer (an erased customer's tokens die with them).
LIVE_FAMILY: LiteralString = """
MATCH (f:TokenFamily {id: $id})
WHERE f.revoked_at IS NULL AND f.expires_at > $now
  AND (f.customer_id IS NULL OR EXISTS { (:Customer {id: f.customer_id}) })
MATCH (c:Client {client_id: f.client_id})
RETURN f.client_id AS client_id, f.customer_id AS customer_id,
       c.kind AS kind, c.allowed_scopes AS allowed, f.expires_at AS expires_at
"""


def family_from_row(f: dict[str, Any]) -> FamilyRecord:
    """A family as stored (``f {.*}``) to its record."""
    return FamilyRecord(
        id=f["id"],
        client_id=f["client_id"],
        customer_id=f.get("customer_id"),
        scopes=tuple(f["scopes"]),
        expires_at=f["expires_at"],
        revoked_at=f.get("revoked_at"),
    )


async def create_family(graph: Graph, family: FamilyRecord, now: int) -> None:
    await graph.write(
        CREATE_FAMILY,
        {
            "id": family.id,
            "client_id": family.client_id,
            "customer_id": family.customer_id,
            "scopes": list(family.scopes),
            "expires_at": family.expires_at,
            "now": now,
        },
    )


async def get_family(graph: Graph, family_id: str) -> FamilyRecord | None:
    rows = await graph.read(GET_FAMILY, {"id": family_id})
    if not rows:
        return None
    return family_from_row(rows[0]["f"])


async def revoke_family(graph: Graph, family_id: str, now: int) -> bool:
    rows = await write_revoking(graph, REVOKE_FAMILY, {"id": family_id, "now": now})
    return bool(rows and rows[0]["revoked"])


async def live_family(graph: Graph, family_id: str, now: int) -> LiveFamily | None:
    rows = await graph.read(LIVE_FAMILY, {"id": family_id, "now": now})
    if not rows:
        return None
    row = rows[0]
    return LiveFamily(
        client_id=row["client_id"],
        customer_id=row["customer_id"],
        client_kind=row["kind"],
        allowed_scopes=frozenset(row["allowed"]),
        expires_at=row["expires_at"],
    )


async def revocation_clock(graph: Graph) -> int:
    """How many revoking writes the graph has seen (0 before the first)."""
    rows = await graph.read(CLOCK)
    return int(rows[0]["value"] or 0) if rows else 0


async def tick(tx: AsyncManagedTransaction) -> None:
    """Tick the revocation clock inside a revoking write's transaction."""
    await (await tx.run(TICK)).consume()


async def write_revoking(
    graph: Graph, query: LiteralString, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run a write that can end tokens' lives and tick the clock, in one transaction."""

    async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
        rows = [record.data() async for record in await tx.run(query, params)]
        await tick(tx)
        return rows

    rows = await graph.write_tx(work)
    graph.advance(REVOCATIONS)
    return rows
