"""Registered applications: ``(:Client)``, with only a hash of its secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from graph.driver import Graph
from graph.oauth.families import write_revoking


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
    rows = await write_revoking(graph, REMOVE_CLIENT, {"client_id": client_id, "now": now})
    return bool(rows and rows[0]["removed"])
