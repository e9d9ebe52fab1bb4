"""`tightrope evaluate recs` on a small slice of MovieLens-100k (the full run is not a test).

The slice (the first users of the data set, their split, the served
strategies, the baselines) runs the same code as the full evaluation; the
collaborative model keeps fewer weights per item here so that the slice loads
in seconds. The data comes from the recbole wheel `make install` installs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.evaluation import movielens
from gateway.evaluation.protocol import K, score, stratified_split
from graph import Graph
from graph.evaluation import NotAnEvaluationGraph, prepare
from tests.gateway.recs.conftest import build_shop

BIN = Path(sys.executable).parent / "tightrope"
SMALL = {
    "TIGHTROPE_COLLABORATIVE_PER_ITEM": "10",
    "TIGHTROPE_ITEM_TO_ITEM_PER_ITEM": "5",
}
EMPTY = "MATCH ()-[r]->() WITH r LIMIT 20000 DELETE r RETURN count(*) AS deleted"


@pytest.fixture
async def evaluation_graph(clean_graph: Graph) -> AsyncIterator[Graph]:
    yield clean_graph
    # Leave no derived edges behind for the next test's (node by node) wipe.
    while (await clean_graph.write(EMPTY))[0]["deleted"]:
        pass


def test_the_split_keeps_three_quarters_of_each_user_and_is_seeded() -> None:
    data = movielens.load(users=30)
    split = stratified_split(data.ratings, seed=3)
    assert split.users and len(split.users) == 30
    for user in split.users:
        total = len(split.train[user]) + len(split.test[user])
        assert len(split.train[user]) == round(0.75 * total)
        assert not {r.item for r in split.train[user]} & split.test[user]
    again = stratified_split(data.ratings, seed=3)
    other = stratified_split(data.ratings, seed=4)
    assert again.test == split.test and other.test != split.test
    assert len(split.sparse_third()) == 10


def test_the_metrics_on_a_known_list() -> None:
    test = {"u": {"a", "b", "c"}}
    # Hits at ranks 1 and 3 of ten; three relevant items.
    found = score({"u": ["a", "x", "b", *"defghij"]}, test, ["u"], catalogue=20)
    assert found.precision == pytest.approx(2 / K)
    assert found.recall == pytest.approx(2 / 3)
    dcg = 1 + 1 / 2  # log2(2) = 1, log2(4) = 2
    idcg = 1 + 1 / 1.5849625007 + 1 / 2
    assert found.ndcg == pytest.approx(dcg / idcg)
    assert found.map == pytest.approx((1 + 2 / 3) / 3)
    assert found.coverage == pytest.approx(10 / 20)


async def test_the_evaluation_will_not_wipe_a_graph_it_did_not_load(clean_graph: Graph) -> None:
    await build_shop(clean_graph)
    with pytest.raises(NotAnEvaluationGraph):
        await prepare(clean_graph)
    assert (await clean_graph.read("MATCH (p:Product) RETURN count(p) AS n"))[0]["n"] == 12


async def test_evaluate_recs_prints_one_json_document(evaluation_graph: Graph) -> None:
    port = os.environ["TIGHTROPE_NEO4J_PORT"]
    # In a thread: the command runs for a while, and the test's loop holds the graph.
    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(BIN),
            "evaluate",
            "recs",
            "--dataset",
            "ml-100k",
            "--seed",
            "5",
            "--json",
            "--users",
            "30",
            "--port",
            port,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **SMALL},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["seed"] == 5 and doc["users"] == 30 and doc["k"] == 10
    for name in ("blend", "popularity", "als", "bpr"):
        assert set(doc[name]) == {"all", "sparse_third"}
        assert 0.0 <= doc[name]["all"]["ndcg@10"] <= 1.0
    assert doc["blend"]["sparse_third"]["users"] == 10
    assert {"collaborative", "bought-together", "affinity", "trending"} <= set(doc["strategies"])
    # Even on thirty users the served blend is far better than chance (a random
    # top ten of several hundred movies scores about 0.02).
    assert doc["blend"]["all"]["ndcg@10"] > 0.15
    assert doc["strategies"]["collaborative"]["all"]["coverage"] > 0
    assert "in-session" in doc["notes"]  # it serves visits, not customers
