"""`tightrope evaluate insights` on a small shop (the full run of 20 seeds is not a test)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.evaluation.shop import GROWTH, build
from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_seed_always_builds_the_same_shop_with_its_effects_planted() -> None:
    first, again, other = build(3, 200, NOW), build(3, 200, NOW), build(4, 200, NOW)
    assert first.events == again.events and first.planted == again.planted
    assert first.events != other.events
    planted = first.planted
    stock = {p.sku: p.in_stock for p in first.catalogue.products}
    assert stock[planted.wanted] is False
    assert all(stock[s] for s in planted.rising)
    # Planted on products of middling popularity, never on a bestseller.
    ranked = sorted(first.weights, key=lambda s: -first.weights[s])
    for sku in (*planted.rising, planted.wanted):
        assert 15 <= ranked.index(sku) < 60
    assert not set(planted.bestsellers) & {*planted.rising, planted.wanted}
    assert GROWTH > 1
    # Nothing is bought out of stock; every customer is in the history.
    bought = [e for e in first.events if e.type == "purchase"]
    assert bought and all(stock[e.sku] for e in bought if e.sku)
    assert {e.customer_id for e in bought} == {c.id for c in first.customers.customers}


async def test_evaluate_insights_runs_the_whole_pipeline_and_scores_it(
    clean_graph: Graph,
) -> None:
    port = os.environ["TIGHTROPE_NEO4J_PORT"]
    command = [str(BIN), "evaluate", "insights", "--seed", "3", "--customers", "300",
               "--json", "--port", port, "--no-progress"]  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (doc,) = json.loads(result.stdout)
    assert doc["seed"] == 3 and doc["customers"] == 300
    # Every customer has bought before, so the personal group is shown personal lists.
    assert doc["treated_share"] > 0.9
    assert 0 < doc["planted_lift"] <= 0.3
    assert doc["lift"]["comparison"] == "personal recommendations against the holdout"
    assert doc["ab"]["comparison"] == "evaluation: B against A"
    # 300 customers are too few for a holdout of 5 %: the report says so.
    assert doc["lift"]["status"] == "not enough data yet" and doc["covered"] is None
    assert 0 < len(doc["top5"]) <= 5 and 0 <= doc["precision_at_5"] <= 1
    # Only customers who allow analytics were counted (85 % of them, by construction).
    counted = doc["lift"]["treatment"]["shoppers"] + doc["lift"]["control"]["shoppers"]
    assert 0.75 * 300 < counted < 0.95 * 300
    rows = await clean_graph.read("MATCH (m:EvaluationGraph) RETURN count(m) AS n")
    assert rows[0]["n"] == 1
