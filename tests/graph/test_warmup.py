"""The warm-up's rehearsed writes: the whole event write path runs, and nothing stays.

A gateway in front of a Neo4j that has just started sends every statement of
the request path once before it says it is ready; the writes go through a
:class:`~graph.warmup.Rehearsal`, whose transactions are rolled back. If the
rehearsal stopped reaching the writer's later statements (merging devices and
sessions, creating events, looking up resent ids), the first shoppers' events
would be the ones to pay for planning them; if it ever committed, the warm-up
would leave invented products and events in a retailer's graph.
"""

from __future__ import annotations

from graph import Graph
from graph.ingest import write_events
from graph.warmup import NOBODY, STORED, Rehearsal, _rehearsed_events, warm_up
from tests.conftest import TEST_PII_KEY

EVERYTHING = """
MATCH (n) OPTIONAL MATCH (n)-[r]->()
RETURN count(DISTINCT n) AS nodes, count(r) AS relationships
"""


async def test_a_rehearsed_batch_goes_down_every_path_of_the_writer(clean_graph: Graph) -> None:
    result = await write_events(Rehearsal(clean_graph), _rehearsed_events(), pii_key=TEST_PII_KEY)
    # One new event of each type was created: the staged product, customer
    # and session made them valid, so every statement of the path ran ...
    assert result.created == {"login": 1, "view": 1, "add_to_cart": 1, "purchase": 1}
    # ... and one of each was found stored before under its id (the staged
    # events', at another time): the look-up of resent ids ran too.
    assert sorted((r.event_id, r.field) for r in result.rejected) == [(STORED, "event_id")] * 4
    assert all("was stored before" in r.reason for r in result.rejected)


async def test_the_warm_up_leaves_the_graph_as_it_found_it(clean_graph: Graph) -> None:
    await clean_graph.write("CREATE (:Product {sku: 'P-1', name: 'A lamp', price: 9.5})")
    before = (await clean_graph.read(EVERYTHING))[0]

    await warm_up(clean_graph, TEST_PII_KEY)

    assert (await clean_graph.read(EVERYTHING))[0] == before
    staged = await clean_graph.read(
        "MATCH (n) WHERE n.id = $id OR n.sku = $id RETURN count(n) AS n", {"id": NOBODY}
    )
    assert staged == [{"n": 0}]
