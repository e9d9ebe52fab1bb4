"""``tightrope evaluate recs|linking|insights``: the recommenders, linkers and figures, measured.

The evaluation loads its data into a Neo4j server of its own (port 7694 by
default, started if it is not running), which it wipes on every run: never the
development graph (7687), the tests' (7688) or a configured ``NEO4J_URI``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from gateway.cli.common import settings as load_settings

T = TypeVar("T")

EVALUATION_PORT = 7694
LINKING_PORT = 7695
INSIGHTS_PORT = 7693


def own_port(default: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The ``--port`` option of every evaluation: its own local Neo4j, wiped on every run."""
    return click.option(
        "--port",
        type=click.IntRange(1, 65535),
        default=default,
        show_default=True,
        help="the evaluation's own local Neo4j (wiped on every run)",
    )


@click.group("evaluate")
def evaluate_group() -> None:
    """Measure the recommenders and the identity linkers offline."""


@evaluate_group.command("recs")
@click.option("--dataset", type=click.Choice(["ml-100k"]), default="ml-100k", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="of the split and the models")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document instead of a table")
@own_port(EVALUATION_PORT)
@click.option("--users", type=click.IntRange(1), default=None, help="only the first N users")
@click.option("--progress/--no-progress", default=True, help="progress bars on stderr")
def recs(
    dataset: str, seed: int, as_json: bool, port: int, users: int | None, progress: bool
) -> None:
    """Split, load, recompute, serve every strategy and the blend, score them beside baselines."""
    from gateway.evaluation.movielens import DatasetMissing
    from gateway.evaluation.run import evaluate

    config = replace_port(load_settings(), port)
    report = on_own_graph(
        port,
        lambda graph: evaluate(graph, config, seed, users, progress),
        DatasetMissing,
    )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo(table(report.as_json()))
    _say_where_the_graph_stays(port)


@evaluate_group.command("linking")
@click.option("--seed", type=int, default=1, show_default=True, help="of the generated shoppers")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document instead of a table")
@own_port(LINKING_PORT)
@click.option("--households", type=click.IntRange(1), default=250, show_default=True)
@click.option("--visitors", type=click.IntRange(0), default=300, show_default=True)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="the run's linking threshold  [default: TIGHTROPE_LINKING_MIN_CONFIDENCE]",
)
@click.option(
    "--suggest",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="the least confidence of a guess shown to its customer as a suggestion",
)
@click.option(
    "--hostile-victims",
    type=click.IntRange(0, 100),
    default=10,
    show_default=True,
    help="customers the hostile set attacks after the replay (0: none)",
)
@click.option("--fit", is_flag=True, help="also fit each linker's model to this run (stderr)")
@click.option("--progress/--no-progress", default=True, help="a progress bar on stderr")
def linking(
    seed: int,
    as_json: bool,
    port: int,
    households: int,
    visitors: int,
    threshold: float | None,
    suggest: float,
    hostile_victims: int,
    fit: bool,
    progress: bool,
) -> None:
    """Generate households, cafes and offices with known owners, link their visits, score."""
    from gateway.evaluation.fit import fit_logistic
    from gateway.evaluation.households import Scale
    from gateway.evaluation.linking import evaluate, table

    config = replace_port(load_settings(), port)
    scale = Scale(households=households, visitors=visitors)
    report = on_own_graph(
        port,
        lambda graph: evaluate(
            graph, config, seed, progress, scale, threshold, hostile_victims, suggest
        ),
    )
    doc = report.as_json()
    click.echo(json.dumps(doc, indent=2) if as_json else table(doc))
    if fit:
        for name, model in sorted(fit_logistic(report.samples).items()):
            click.echo(f"fitted {name}: {json.dumps(model, indent=2)}", err=True)
    _say_where_the_graph_stays(port)


@evaluate_group.command("insights")
@click.option(
    "--seed", "seeds", type=int, multiple=True, default=(1,), show_default=True,
    help="of the simulated shop; give it again for more seeds (one table)",
)  # fmt: skip
@click.option("--customers", type=click.IntRange(100), default=3000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print one JSON document instead of a table")
@own_port(INSIGHTS_PORT)
@click.option("--progress/--no-progress", default=True, help="progress bars on stderr")
def insights(
    seeds: tuple[int, ...], customers: int, as_json: bool, port: int, progress: bool
) -> None:
    """A simulated shop with planted effects, through the write path, the app and the report."""
    from gateway.evaluation.insights import evaluate, table

    config = replace_port(load_settings(), port)
    results: list[Any] = []
    for seed in seeds:

        def run(graph: Any, seed: int = seed) -> Any:
            return evaluate(graph, config, seed, customers, progress)

        results.append(on_own_graph(port, run))
        if not as_json:
            click.echo(f"seed {seed} done in {results[-1].seconds['all']:.0f}s", err=True)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        click.echo(table(results))
        for r in results:
            click.echo(f"seed {r.seed} top 5 (* planted): {'; '.join(r.top5)}")
    _say_where_the_graph_stays(port)


def on_own_graph(port: int, work: Callable[[Any], Awaitable[T]], *errors: type[Exception]) -> T:
    """``work(graph)`` on the evaluation's own local Neo4j (started if need be).

    ``errors`` (and a graph that is not an evaluation's) become click's errors.
    """
    from graph import Neo4jSettings, connect
    from graph.evaluation import NotAnEvaluationGraph
    from graph.local import LocalNeo4jError, LocalServer

    try:
        conn = LocalServer(port=port).start(timeout=180.0)
    except LocalNeo4jError as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> T:
        graph = connect(Neo4jSettings(conn.uri, conn.user, conn.password, timeout=60.0))
        try:
            return await work(graph)
        finally:
            await graph.close()

    refused: tuple[type[Exception], ...] = (NotAnEvaluationGraph, *errors)
    try:
        return asyncio.run(run())
    except refused as exc:
        raise click.ClickException(str(exc)) from exc


def _say_where_the_graph_stays(port: int) -> None:
    click.echo(
        f"the evaluation graph stays on port {port}: tightrope neo4j stop --port {port}", err=True
    )


def replace_port(config: Any, port: int) -> Any:
    """The settings with the evaluation's port (the service reads no connection from them)."""
    return config.model_copy(update={"neo4j_port": port, "neo4j_uri": None})


COLUMNS = ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage")


def table(doc: dict[str, Any]) -> str:
    """The figures as a plain-text table: all users, then the sparsest third."""
    rows = [(name, doc[name]) for name in ("blend",) if name in doc]
    # A strategy that serves no customer (a visit's, a product page's) is only noted.
    rows += sorted((n, r) for n, r in doc["strategies"].items() if n not in doc["notes"])
    rows += [(name, doc[name]) for name in ("popularity", "als", "bpr") if name in doc]
    lines = [
        f"{doc['dataset']}, seed {doc['seed']}: {doc['users']} users, {doc['items']} items, "
        f"{doc['train_interactions']} train / {doc['test_interactions']} test interactions",
        f"{doc['protocol']}; top {doc['k']}",
        "",
    ]
    for part, title in (("all", "all users"), ("sparse_third", "sparsest third of users")):
        users = rows[0][1][part]["users"] if rows else 0
        lines.append(f"{title} ({users}):")
        lines.append(f"  {'':<16}" + "".join(f"{c:>14}" for c in COLUMNS))
        for name, row in rows:
            figures = "".join(f"{row[part][c]:>14.4f}" for c in COLUMNS)
            lines.append(f"  {name:<16}{figures}")
        lines.append("")
    for name, note in sorted(doc["notes"].items()):
        lines.append(f"{name}: {note}")
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in doc["seconds"].items())
    lines.append(f"time: {seconds}")
    return "\n".join(lines)
