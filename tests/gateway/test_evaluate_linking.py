"""`tightrope evaluate linking` on a small scenario (the default scenario's run is not a test).

The small run goes through the same code as the full one: the generated
shoppers' visits written by ``write_events``, linked by the installed linkers
under the host's rules and the consent gate, scored against each device's
known owner.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.evaluation.households import Scale, build
from gateway.evaluation.linking import THRESHOLDS
from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"
SMALL = Scale(households=6, visitors=3)


def test_a_seed_always_gives_the_same_shoppers_and_every_device_has_a_known_owner() -> None:
    first, again, other = build(4, SMALL), build(4, SMALL), build(5, SMALL)
    assert [v.events for v in first.visits] == [v.events for v in again.visits]
    assert [v.events for v in first.visits] != [v.events for v in other.visits]
    for visit in first.visits:
        for event, _, _ in visit.events:
            assert event.device_id is not None
            owner = first.owner(event.device_id)
            assert owner in first.people or owner.startswith("shared:")


async def test_evaluate_linking_scores_each_threshold_and_links_no_one_without_consent(
    clean_graph: Graph,
) -> None:
    port = os.environ["TIGHTROPE_NEO4J_PORT"]
    command = [
        str(BIN),
        "evaluate",
        "linking",
        "--seed",
        "4",
        "--json",
        "--households",
        str(SMALL.households),
        "--visitors",
        str(SMALL.visitors),
        "--port",
        port,
        "--no-progress",
    ]
    # In a thread: the command runs for a while, and the test's loop holds the graph.
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["seed"] == 4
    thresholds = {str(t) for t in THRESHOLDS}
    assert set(doc["precision"]) == thresholds and set(doc["recall"]) == thresholds
    for t in thresholds:
        assert 0.0 <= doc["precision"][t] <= 1.0 and 0.0 <= doc["recall"][t] <= 1.0
    # The ceiling says where recall stops, whatever the threshold: a device is
    # found only if its owner was proposed at all.
    ceiling = doc["ceiling"]
    assert ceiling["targets"] == doc["scenario"]["target_devices"] > 0
    assert 0 < ceiling["proposed"] <= ceiling["targets"]
    assert all(row["found"] <= ceiling["proposed"] for row in doc["thresholds"])
    shape = doc["scenario"]
    # The scenario holds customers who never granted cross_device, and the
    # linkers proposed links: the zero below is the gate's, not an empty run's.
    assert shape["customers"] > shape["customers_consenting"] > 0
    assert shape["proposals"] > 0
    assert doc["links_without_consent"] == 0
    assert doc["deterministic_links_not_proved"] == 0
    # The graph is the evaluation's, marked so that no later run wipes a real one.
    marked = await clean_graph.read("MATCH (m:EvaluationGraph) RETURN count(m) AS n")
    assert marked[0]["n"] == 1
