"""What callers of the graph hear when Neo4j is slow."""

from __future__ import annotations

from dataclasses import replace

import pytest
from neo4j import AsyncManagedTransaction

from graph import GraphTimeout, GraphUnavailable, Neo4jSettings, connect

# Far more work than any machine does in the timeout below.
RUNAWAY = "UNWIND range(1, 500000000) AS x WITH x WHERE x % 7 = 0 RETURN count(*) AS n"


async def test_a_query_past_the_timeout_is_stopped_by_neo4j(
    neo4j_settings: Neo4jSettings,
) -> None:
    graph = connect(replace(neo4j_settings, query_timeout=0.3))
    try:
        with pytest.raises(GraphTimeout):
            await graph.read(RUNAWAY)
        # The gateway maps it like any unavailability, and the graph still serves.
        assert issubclass(GraphTimeout, GraphUnavailable)
        assert await graph.read("RETURN 1 AS ok") == [{"ok": 1}]
    finally:
        await graph.close()


async def test_a_write_transaction_past_the_timeout_is_stopped_too(
    neo4j_settings: Neo4jSettings,
) -> None:
    graph = connect(replace(neo4j_settings, query_timeout=0.3))

    async def work(tx: AsyncManagedTransaction) -> None:
        await (await tx.run(RUNAWAY)).consume()

    try:
        with pytest.raises(GraphTimeout):
            await graph.write_tx(work)
    finally:
        await graph.close()


def test_the_password_stays_out_of_reprs(neo4j_settings: Neo4jSettings) -> None:
    assert neo4j_settings.password not in repr(neo4j_settings)
