"""A third party's careless strategies, installed beside the built-ins, cost only themselves.

tests/plugin_wayward is shipped like any plugin and installed as one; each of
its strategies reaches for something its manifest does not allow (a category,
another shopper, Cypher of its own, a repository read). Whatever the error's
class, the blend is served from the others' candidates, the operator reads an
ERROR line naming the plugin, the strategy and what it reached for, a client
naming the strategy alone is told, and ``tightrope recompute`` runs the
strategies after it and exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import Graph
from tests.gateway.conftest import Serve, gql, settings_for_tests
from tests.packages import install, on_path

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = "wayward-picks"
# Each strategy of the plugin, and what it reached for (its log line says so).
REACHED = {
    "peeks-at-purchases": "purchase_history",
    "peeks-at-others": "browsing_history",
    "own-cypher": "Cypher",
    "reads-purchases": "purchase_history",
}
FOR_ME = "{ me { recommendations(first: 10) { product { sku } strategy reasons { code } } } }"
SIMILAR = '{ product(sku: "chelsea") { similar(first: 5) { product { sku } strategy } } }'


@pytest.fixture(scope="module")
def wayward(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed into a folder of its own (its entry point, its metadata)."""
    return install(ROOT / "tests" / "plugin_wayward", tmp_path_factory.mktemp("wayward") / "site")


@pytest.fixture
def installed(wayward: Path) -> Iterator[Path]:
    with on_path(wayward):
        yield wayward


async def test_each_violation_costs_only_its_own_candidates(
    shop: Graph, served: Serve, installed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What the built-ins serve without it (the operator's switch turns it off).
    async with served(settings_for_tests(disabled_plugins=[PLUGIN])) as (app, client):
        assert PLUGIN not in app.state.assembly.manifests.by_plugin
        without = await gql(client, FOR_ME, customer="ana")
        similar_without = await gql(client, SIMILAR)
    with caplog.at_level(logging.ERROR, logger="tightrope"):
        async with served() as (app, client):
            strategies = app.state.assembly.recommendations.strategies
            assert {strategies[name].plugin for name in REACHED} == {PLUGIN}
            blended = await gql(client, FOR_ME, customer="ana")
            similar = await gql(client, SIMILAR)
            alone = {
                name: await gql(
                    client,
                    f'{{ me {{ recommendations(strategy: "{name}") {{ score }} }} }}',
                    customer="ana",
                )
                for name in REACHED
            }
    # The blend stands, made of the others' candidates, as if it were not there.
    assert "errors" not in blended, blended
    assert blended == without and blended["data"]["me"]["recommendations"]
    assert similar == similar_without and similar["data"]["product"]["similar"]
    # The operator reads, per strategy, the plugin, the strategy and what it reached for.
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    for name, what in REACHED.items():
        assert any(
            f"'{PLUGIN}'" in line and f"strategy '{name}'" in line and what in line
            for line in lines
        ), (name, lines)
    # A client naming one alone is told which strategy was refused, for that field.
    for name, answer in alone.items():
        assert answer["data"]["me"]["recommendations"] is None, name
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["extensions"]["strategy"] == name
        assert error["extensions"]["plugin"] == PLUGIN
    assert alone["peeks-at-others"]["errors"][0]["extensions"]["category"] == "browsing_history"
    # The other shopper's id is in no answer.
    assert "u1" not in str(alone["peeks-at-others"])


async def test_recompute_runs_every_strategy_after_a_failing_one_and_exits_non_zero(
    shop: Graph, wayward: Path
) -> None:
    # Nothing derived: what the run writes shows it ran.
    await shop.write("MATCH (r:Ranking) DETACH DELETE r")
    await shop.write("MATCH ()-[a:ALSO]->() DELETE a")
    env = {**os.environ, "PYTHONPATH": str(wayward)}
    run = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "tightrope"), "recompute", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    named = {line.split()[0]: line for line in lines if line.startswith("  ")}
    # Each of the plugin's recomputing strategies failed, and says why...
    assert "FAILED" in named["own-cypher"] and "Cypher" in named["own-cypher"]
    assert "FAILED" in named["reads-purchases"]
    assert "purchase_history" in named["reads-purchases"]
    # ... and the strategies after them ran all the same.
    order = list(named)
    after = order[max(order.index("own-cypher"), order.index("reads-purchases")) + 1 :]
    assert {"trending", "similar", "collaborative", "affinity"} <= set(after), lines
    assert all("FAILED" not in named[name] for name in after)
    assert "2 of" in run.stderr and "failed to recompute" in run.stderr
    # The operator's log names plugin and strategy.
    assert f"plugin '{PLUGIN}': strategy 'own-cypher' failed to recompute" in run.stderr
    rankings = await shop.read("MATCH (r:Ranking {kind: 'trending'}) RETURN count(r) AS n")
    edges = await shop.read("MATCH ()-[a:ALSO]->() RETURN count(a) AS n")
    assert rankings[0]["n"] > 0 and edges[0]["n"] > 0
