"""Operations a client registered ahead of time, by the SHA-256 of their text.

``(:PersistedOperation {key, client_id, sha256, text, name, added_at})``, one
per client and text (``key`` is ``client_id:sha256``), and on the client the
mode it runs under: ``(:Client {operations})`` is ``"allowlist"`` (only its
registered operations), ``"any"``, or absent (the gateway's default for its
kind). Nothing here decides who may run what: gateway/graphql/operations.py does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from graph.driver import Graph

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT persisted_operation_key IF NOT EXISTS "
    "FOR (n:PersistedOperation) REQUIRE n.key IS UNIQUE",
)

ADD_OPERATIONS: LiteralString = """
MATCH (c:Client {client_id: $client_id})
UNWIND $operations AS op
MERGE (o:PersistedOperation {key: $client_id + ':' + op.sha256})
ON CREATE SET o.client_id = $client_id, o.sha256 = op.sha256, o.text = op.text,
              o.added_at = $now
SET o.name = op.name
RETURN count(o) AS added
"""

CLIENT_OPERATIONS: LiteralString = """
MATCH (c:Client {client_id: $client_id})
OPTIONAL MATCH (o:PersistedOperation {client_id: $client_id})
WITH c, o ORDER BY o.added_at, o.sha256
RETURN c.kind AS kind, c.operations AS mode,
       collect(o {.sha256, .text, .name}) AS operations
"""

REMOVE_OPERATION: LiteralString = """
MATCH (o:PersistedOperation {key: $client_id + ':' + $sha256})
DETACH DELETE o
RETURN count(*) AS removed
"""

SET_MODE: LiteralString = """
MATCH (c:Client {client_id: $client_id})
SET c.operations = $mode
RETURN count(c) AS found
"""


@dataclass(frozen=True)
class PersistedOperation:
    sha256: str
    text: str
    name: str | None = None


@dataclass(frozen=True)
class ClientOperations:
    """A client's kind, its mode (None: the default for its kind) and its operations."""

    kind: str
    mode: str | None
    operations: tuple[PersistedOperation, ...]


async def add_operations(
    graph: Graph, client_id: str, operations: list[PersistedOperation], now: int
) -> int | None:
    """Register operations for a client (again is harmless); None when there is no such client."""
    if await client_operations(graph, client_id) is None:
        return None
    rows = await graph.write(
        ADD_OPERATIONS,
        {
            "client_id": client_id,
            "now": now,
            "operations": [
                {"sha256": o.sha256, "text": o.text, "name": o.name} for o in operations
            ],
        },
    )
    return int(rows[0]["added"]) if rows else 0


async def client_operations(graph: Graph, client_id: str) -> ClientOperations | None:
    rows = await graph.read(CLIENT_OPERATIONS, {"client_id": client_id})
    if not rows:
        return None
    row = rows[0]
    return ClientOperations(
        kind=row["kind"],
        mode=row["mode"],
        operations=tuple(
            PersistedOperation(o["sha256"], o["text"], o.get("name")) for o in row["operations"]
        ),
    )


async def remove_operation(graph: Graph, client_id: str, sha256: str) -> bool:
    rows = await graph.write(REMOVE_OPERATION, {"client_id": client_id, "sha256": sha256})
    return bool(rows and rows[0]["removed"])


async def set_operations_mode(graph: Graph, client_id: str, mode: str | None) -> bool:
    rows = await graph.write(SET_MODE, {"client_id": client_id, "mode": mode})
    return bool(rows and rows[0]["found"])
