"""One-time authorization codes: ``(:AuthCode)``, stored by hash.

A code is kept after use until it expires, so that a second use is recognised
(and punished by revoking the family the first use started).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import LiteralString

from graph.driver import Graph
from graph.oauth.families import write_revoking

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT auth_code_hash IF NOT EXISTS FOR (n:AuthCode) REQUIRE n.hash IS UNIQUE",
    "CREATE INDEX auth_code_expiry IF NOT EXISTS FOR (n:AuthCode) ON (n.expires_at)",
)


@dataclass(frozen=True)
class CodeRecord:
    client_id: str
    customer_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: int
    family_id: str
    used_at: int | None


SAVE_CODE: LiteralString = """
CREATE (:AuthCode {hash: $hash, client_id: $client_id, customer_id: $customer_id,
                   redirect_uri: $redirect_uri, scopes: $scopes,
                   code_challenge: $code_challenge, code_challenge_method: $method,
                   expires_at: $expires_at, family_id: $family_id})
WITH 1 AS done
// Codes live minutes; sweep the long-expired ones as new ones arrive.
MATCH (old:AuthCode) WHERE old.expires_at < $now - 86400
WITH old LIMIT 100
DELETE old
"""

GET_CODE: LiteralString = "MATCH (c:AuthCode {hash: $hash}) RETURN c {.*} AS c"

# The write decides. Each exchange brings its own attempt id; the SET reads the
# property it writes, a "direct dependency" for which Neo4j takes the node's
# write lock before reading. So concurrent claims queue on the lock, only the
# first attempt id sticks, and exactly one exchange sees claimed = true.
# (Reading used_at in a WITH before the SET, as this once did, let every
# concurrent exchange see it unset: read committed takes no lock to read.)
CLAIM_CODE: LiteralString = """
MATCH (c:AuthCode {hash: $hash})
SET c.claimed_by = coalesce(c.claimed_by, $attempt),
    c.used_at = coalesce(c.used_at, $now)
RETURN c.claimed_by = $attempt AS claimed
"""

# A replayed code revokes the family its first exchange started. That exchange
# may still be running (claimed, family not saved yet), so the revocation
# creates the family if need be; CREATE_FAMILY then fills it in and never
# clears revoked_at. Unsaved, it is swept a day after the code expires.
REVOKE_FAMILY_OF_CODE: LiteralString = """
MERGE (f:TokenFamily {id: $family_id})
ON CREATE SET f.client_id = $client_id, f.customer_id = $customer_id, f.scopes = $scopes,
              f.created_at = $now, f.expires_at = $expires_at
SET f.revoked_at = coalesce(f.revoked_at, $now)
"""


async def save_code(graph: Graph, code_hash: str, code: CodeRecord, now: int) -> None:
    await graph.write(
        SAVE_CODE,
        {
            "hash": code_hash,
            "client_id": code.client_id,
            "customer_id": code.customer_id,
            "redirect_uri": code.redirect_uri,
            "scopes": list(code.scopes),
            "code_challenge": code.code_challenge,
            "method": code.code_challenge_method,
            "expires_at": code.expires_at,
            "family_id": code.family_id,
            "now": now,
        },
    )


async def get_code(graph: Graph, code_hash: str) -> CodeRecord | None:
    rows = await graph.read(GET_CODE, {"hash": code_hash})
    if not rows:
        return None
    c = rows[0]["c"]
    return CodeRecord(
        client_id=c["client_id"],
        customer_id=c["customer_id"],
        redirect_uri=c["redirect_uri"],
        scopes=tuple(c["scopes"]),
        code_challenge=c.get("code_challenge"),
        code_challenge_method=c.get("code_challenge_method"),
        expires_at=c["expires_at"],
        family_id=c["family_id"],
        used_at=c.get("used_at"),
    )


async def claim_code(graph: Graph, code_hash: str, now: int) -> bool:
    """Spend the code; True for exactly one caller, however many try at once."""
    attempt = uuid.uuid4().hex
    rows = await graph.write(CLAIM_CODE, {"hash": code_hash, "now": now, "attempt": attempt})
    return bool(rows and rows[0]["claimed"])


async def revoke_family_of_code(graph: Graph, code: CodeRecord, now: int) -> None:
    """Revoke what the code's first exchange issued, even if it is not saved yet."""
    await write_revoking(
        graph,
        REVOKE_FAMILY_OF_CODE,
        {
            "family_id": code.family_id,
            "client_id": code.client_id,
            "customer_id": code.customer_id,
            "scopes": list(code.scopes),
            "expires_at": code.expires_at,
            "now": now,
        },
    )
