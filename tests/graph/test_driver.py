"""What callers of the graph hear when Neo4j is slow."""

from __future__ import annotations

from dataclasses import replace

import pytest

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
