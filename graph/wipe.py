"""Emptying a graph: for tests, evaluations and benchmarks, never the product's data."""

from __future__ import annotations

from typing import LiteralString

from graph.driver import Graph

# Relationships first, in slices: a product or a network can hold thousands of
# relationships, and DETACH DELETE of thousands of such nodes at once outgrows
# a transaction's memory pool (CI once failed so, on a store another tool had
# left on the fault tests' port).
WIPE_RELATIONSHIPS: LiteralString = (
    "MATCH ()-[r]->() WITH r LIMIT 20000 DELETE r RETURN count(*) AS deleted"
)
WIPE_NODES: LiteralString = "MATCH (n) WITH n LIMIT 10000 DELETE n RETURN count(*) AS deleted"


async def wipe(graph: Graph) -> None:
    """Delete every node and relationship; constraints and indexes stay.

    Batch by batch until nothing is left: CALL { } IN TRANSACTIONS would need
    an auto-commit transaction, which Graph.write (a managed one) is not.
    """
    for statement in (WIPE_RELATIONSHIPS, WIPE_NODES):
        while (await graph.write(statement))[0]["deleted"]:
            pass
