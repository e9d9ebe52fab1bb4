"""OAuth 2 state in the graph: clients, customers' grants, codes, token families.

The authorization server keeps nothing in memory between requests, so several
gateway processes can share one graph. What lives here:

- ``(:Client)`` — a registered application; only a hash of its secret.
- ``(:Customer)-[:AUTHORISED {scopes, at}]->(:Client)`` — what the customer let
  the app read; deleting it (``revokeApp``) revokes every token of that pair.
- ``(:AuthCode)`` — one-time authorization codes, stored by hash, kept after use
  until they expire so that a second use is recognised (and punished).
- ``(:TokenFamily)`` — one per sign-in of a client for a customer (or per
  client-credentials token). Access tokens carry its id as ``gid``; the resource
  server checks that the family is alive, which is how a revocation takes
  effect on the very next request. Refresh tokens rotate inside a family; a
  spent one presented again revokes the family.
- ``(:Customer)-[:SIGNS_IN_WITH]->(:Password {hash})`` — kept off the Customer
  node so that an export of the customer never carries it.

Times are epoch seconds (integers) except the grant's ``at``, which is shown to
customers and stored as a datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.driver import Graph
from graph.pii import email_hmac

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT token_family_id IF NOT EXISTS FOR (n:TokenFamily) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT refresh_token_hash IF NOT EXISTS "
    "FOR (n:RefreshToken) REQUIRE n.hash IS UNIQUE",
    "CREATE CONSTRAINT auth_code_hash IF NOT EXISTS FOR (n:AuthCode) REQUIRE n.hash IS UNIQUE",
    "CREATE INDEX token_family_pair IF NOT EXISTS "
    "FOR (n:TokenFamily) ON (n.customer_id, n.client_id)",
    "CREATE INDEX token_family_client IF NOT EXISTS FOR (n:TokenFamily) ON (n.client_id)",
    "CREATE INDEX auth_code_expiry IF NOT EXISTS FOR (n:AuthCode) ON (n.expires_at)",
    "CREATE INDEX token_family_expiry IF NOT EXISTS FOR (n:TokenFamily) ON (n.expires_at)",
)


# ---------------------------------------------------------------- clients


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    name: str
    kind: str
    allowed_scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    secret_hash: str | None
    trusted: bool


CREATE_CLIENT: LiteralString = """
CREATE (c:Client {client_id: $client_id, name: $name, kind: $kind,
                  allowed_scopes: $allowed_scopes, redirect_uris: $redirect_uris,
                  secret_hash: $secret_hash, trusted: $trusted, created_at: $now})
"""

GET_CLIENT: LiteralString = "MATCH (c:Client {client_id: $client_id}) RETURN c {.*} AS c"

LIST_CLIENTS: LiteralString = "MATCH (c:Client) RETURN c {.*} AS c ORDER BY c.name, c.client_id"

# Removing a client ends everything issued to it, at once.
REMOVE_CLIENT: LiteralString = """
MATCH (c:Client {client_id: $client_id})
OPTIONAL MATCH (f:TokenFamily {client_id: $client_id}) WHERE f.revoked_at IS NULL
SET f.revoked_at = $now
WITH DISTINCT c
DETACH DELETE c
RETURN count(c) AS removed
"""


def _client(row: dict[str, Any]) -> ClientRecord:
    return ClientRecord(
        client_id=row["client_id"],
        name=row["name"],
        kind=row["kind"],
        allowed_scopes=tuple(row.get("allowed_scopes") or ()),
        redirect_uris=tuple(row.get("redirect_uris") or ()),
        secret_hash=row.get("secret_hash"),
        trusted=bool(row.get("trusted")),
    )


async def create_client(graph: Graph, client: ClientRecord, now: int) -> None:
    await graph.write(
        CREATE_CLIENT,
        {
            "client_id": client.client_id,
            "name": client.name,
            "kind": client.kind,
            "allowed_scopes": list(client.allowed_scopes),
            "redirect_uris": list(client.redirect_uris),
            "secret_hash": client.secret_hash,
            "trusted": client.trusted,
            "now": now,
        },
    )


async def get_client(graph: Graph, client_id: str) -> ClientRecord | None:
    rows = await graph.read(GET_CLIENT, {"client_id": client_id})
    return _client(rows[0]["c"]) if rows else None


async def list_clients(graph: Graph) -> list[ClientRecord]:
    return [_client(row["c"]) for row in await graph.read(LIST_CLIENTS)]


async def remove_client(graph: Graph, client_id: str, now: int) -> bool:
    rows = await graph.write(REMOVE_CLIENT, {"client_id": client_id, "now": now})
    return bool(rows and rows[0]["removed"])


# ---------------------------------------------------------------- passwords

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


# ---------------------------------------------------------------- grants


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

# Revoking an app deletes the grant and ends every token family of the pair.
REVOKE_GRANT: LiteralString = """
OPTIONAL MATCH (:Customer {id: $customer_id})-[g:AUTHORISED]->(:Client {client_id: $client_id})
DELETE g
WITH count(g) AS grants
OPTIONAL MATCH (f:TokenFamily {customer_id: $customer_id, client_id: $client_id})
WHERE f.revoked_at IS NULL
SET f.revoked_at = $now
RETURN grants, count(f) AS families
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


async def revoke_grant(graph: Graph, customer_id: str, client_id: str, now: int) -> bool:
    """Delete the grant and revoke the pair's tokens; True if anything was revoked."""
    rows = await graph.write(
        REVOKE_GRANT, {"customer_id": customer_id, "client_id": client_id, "now": now}
    )
    return bool(rows and (rows[0]["grants"] or rows[0]["families"]))


# ---------------------------------------------------------------- authorization codes


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

# Atomic: of two concurrent exchanges of one code exactly one sees claimed = true.
CLAIM_CODE: LiteralString = """
MATCH (c:AuthCode {hash: $hash})
WITH c, c.used_at IS NULL AS fresh
SET c.used_at = coalesce(c.used_at, $now)
RETURN fresh AS claimed
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
    rows = await graph.write(CLAIM_CODE, {"hash": code_hash, "now": now})
    return bool(rows and rows[0]["claimed"])


# ---------------------------------------------------------------- token families


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


# Families a day past their end (and their refresh tokens) are swept as new ones
# are made, a bounded batch at a time, so the store stays the size of what lives.
CREATE_FAMILY: LiteralString = """
MERGE (f:TokenFamily {id: $id})
ON CREATE SET f.client_id = $client_id, f.customer_id = $customer_id, f.scopes = $scopes,
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

# The per-request check: the family is alive and its client still exists.
LIVE_FAMILY: LiteralString = """
MATCH (f:TokenFamily {id: $id})
WHERE f.revoked_at IS NULL AND f.expires_at > $now
MATCH (c:Client {client_id: f.client_id})
RETURN f.client_id AS client_id, f.customer_id AS customer_id,
       c.kind AS kind, c.allowed_scopes AS allowed
"""


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
    f = rows[0]["f"]
    return FamilyRecord(
        id=f["id"],
        client_id=f["client_id"],
        customer_id=f.get("customer_id"),
        scopes=tuple(f["scopes"]),
        expires_at=f["expires_at"],
        revoked_at=f.get("revoked_at"),
    )


async def revoke_family(graph: Graph, family_id: str, now: int) -> bool:
    rows = await graph.write(REVOKE_FAMILY, {"id": family_id, "now": now})
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
    )


# ---------------------------------------------------------------- refresh tokens


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

CLAIM_REFRESH: LiteralString = """
MATCH (r:RefreshToken {hash: $hash})
WITH r, r.used_at IS NULL AS fresh
SET r.used_at = coalesce(r.used_at, $now)
RETURN fresh AS claimed
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
    family = FamilyRecord(
        id=f["id"],
        client_id=f["client_id"],
        customer_id=f.get("customer_id"),
        scopes=tuple(f["scopes"]),
        expires_at=f["expires_at"],
        revoked_at=f.get("revoked_at"),
    )
    return RefreshRecord(family=family, expires_at=r["expires_at"], used_at=r.get("used_at"))


async def claim_refresh(graph: Graph, token_hash: str, now: int) -> bool:
    rows = await graph.write(CLAIM_REFRESH, {"hash": token_hash, "now": now})
    return bool(rows and rows[0]["claimed"])
