"""Refresh tokens: ``(:RefreshToken)-[:OF]->(:TokenFamily)``, stored by hash.

They rotate inside a family; a spent one presented again revokes the family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import LiteralString

from graph.driver import Graph
from graph.oauth.families import FamilyRecord, family_from_row

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT refresh_token_hash IF NOT EXISTS "
    "FOR (n:RefreshToken) REQUIRE n.hash IS UNIQUE",
)


@dataclass(frozen=True)
class RefreshRecord:
    family: FamilyRecord
    expires_at: int
    used_at: int | None


SAVE_REFRESH: LiteralString = """
MATCH (f:TokenFamily {id: $family_id})
CREATE (r:RefreshToken {hash: $hash, family_id: $family_id, issued_at: $now,
                        expires_at: $expires_at})-[:OF]->(f)
"""

GET_REFRESH: LiteralString = """
MATCH (r:RefreshToken {hash: $hash})-[:OF]->(f:TokenFamily)
RETURN r {.*} AS r, f {.*} AS f
"""

# The write decides, as in CLAIM_CODE (graph/oauth/codes.py): the first
# attempt id written under the token's write lock is the only one that sticks.
CLAIM_REFRESH: LiteralString = """
MATCH (r:RefreshToken {hash: $hash})
SET r.claimed_by = coalesce(r.claimed_by, $attempt),
    r.used_at = coalesce(r.used_at, $now)
RETURN r.claimed_by = $attempt AS claimed
"""


async def save_refresh(
    graph: Graph, token_hash: str, family_id: str, expires_at: int, now: int
) -> None:
    await graph.write(
        SAVE_REFRESH,
        {"hash": token_hash, "family_id": family_id, "expires_at": expires_at, "now": now},
    )


async def get_refresh(graph: Graph, token_hash: str) -> RefreshRecord | None:
    rows = await graph.read(GET_REFRESH, {"hash": token_hash})
    if not rows:
        return None
    r, f = rows[0]["r"], rows[0]["f"]
    return RefreshRecord(
        family=family_from_row(f), expires_at=r["expires_at"], used_at=r.get("used_at")
    )


async def claim_refresh(graph: Graph, token_hash: str, now: int) -> bool:
    """Spend the refresh token; True for exactly one caller, however many try at once."""
    attempt = uuid.uuid4().hex
    rows = await graph.write(CLAIM_REFRESH, {"hash": token_hash, "now": now, "attempt": attempt})
    return bool(rows and rows[0]["claimed"])
