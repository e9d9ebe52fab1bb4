"""What customers let apps read: ``(:Customer)-[:AUTHORISED {scopes, at}]->(:Client)``.

Deleting the grant (``revokeApp``) revokes every token family of that pair.
The grant's ``at`` is shown to customers, so it is a datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import LiteralString

from graph.driver import Graph, reads
from graph.oauth.families import write_revoking


@dataclass(frozen=True)
class GrantRecord:
    customer_id: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    granted_at: datetime


# A new approval adds to what the customer already granted the app; the tokens
# of each sign-in carry only what that sign-in approved.
MERGE_GRANT: LiteralString = """
MATCH (cu:Customer {id: $customer_id}), (cl:Client {client_id: $client_id})
MERGE (cu)-[g:AUTHORISED]->(cl)
ON CREATE SET g.scopes = $scopes, g.at = datetime({epochSeconds: $now})
ON MATCH SET g.scopes = [s IN g.scopes WHERE NOT s IN $scopes] + $scopes,
             g.at = datetime({epochSeconds: $now})
RETURN g.scopes AS scopes
"""

GET_GRANT_SCOPES: LiteralString = """
MATCH (:Customer {id: $customer_id})-[g:AUTHORISED]->(:Client {client_id: $client_id})
RETURN g.scopes AS scopes
"""

LIST_GRANTS: LiteralString = """
MATCH (:Customer {id: $customer_id})-[g:AUTHORISED]->(cl:Client)
RETURN cl.client_id AS client_id, cl.name AS client_name, g.scopes AS scopes, g.at AS at
ORDER BY g.at DESC
"""

# Revoking an app deletes the grant and ends every token family of the pair,
# including the ones its live authorization codes would start: a code approved
# a moment before and exchanged a moment after would otherwise start a family
# nobody revoked. Each such code expires now (its exchange is refused), and its
# family is made here already revoked, in case its exchange is under way (the
# code claimed, the family not saved yet): saving fills it in and never clears
# revoked_at (graph/oauth/families.py).
REVOKE_GRANT: LiteralString = """
OPTIONAL MATCH (:Customer {id: $customer_id})-[g:AUTHORISED]->(:Client {client_id: $client_id})
DELETE g
WITH count(g) AS grants
CALL () {
  MATCH (c:AuthCode {customer_id: $customer_id, client_id: $client_id})
  WHERE c.expires_at > $now
  MERGE (f:TokenFamily {id: c.family_id})
  ON CREATE SET f.client_id = c.client_id, f.customer_id = c.customer_id, f.scopes = c.scopes,
                f.created_at = $now, f.expires_at = c.expires_at
  SET f.revoked_at = coalesce(f.revoked_at, $now), c.expires_at = $now
  RETURN count(c) AS codes
}
OPTIONAL MATCH (f:TokenFamily {customer_id: $customer_id, client_id: $client_id})
WHERE f.revoked_at IS NULL
SET f.revoked_at = $now
RETURN grants, codes, count(f) AS families
"""


async def merge_grant(
    graph: Graph, customer_id: str, client_id: str, scopes: list[str], now: int
) -> list[str]:
    rows = await graph.write(
        MERGE_GRANT,
        {"customer_id": customer_id, "client_id": client_id, "scopes": scopes, "now": now},
    )
    return list(rows[0]["scopes"]) if rows else []


async def grant_scopes(graph: Graph, customer_id: str, client_id: str) -> frozenset[str] | None:
    """The scopes the customer granted the client, or None without a grant."""
    rows = await graph.read(GET_GRANT_SCOPES, {"customer_id": customer_id, "client_id": client_id})
    return frozenset(rows[0]["scopes"]) if rows else None


@reads("profile")
async def list_grants(graph: Graph, customer_id: str) -> list[GrantRecord]:
    rows = await graph.read(LIST_GRANTS, {"customer_id": customer_id})
    return [
        GrantRecord(
            customer_id=customer_id,
            client_id=row["client_id"],
            client_name=row["client_name"],
            scopes=tuple(row["scopes"]),
            granted_at=row["at"].to_native(),
        )
        for row in rows
    ]


@reads("profile")
async def revoke_grant(graph: Graph, customer_id: str, client_id: str, now: int) -> bool:
    """Delete the grant and revoke the pair's tokens; True if anything was revoked."""
    rows = await write_revoking(
        graph, REVOKE_GRANT, {"customer_id": customer_id, "client_id": client_id, "now": now}
    )
    return bool(rows and (rows[0]["grants"] or rows[0]["codes"] or rows[0]["families"]))
