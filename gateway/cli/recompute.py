"""``tightrope recompute``: rebuild the data recommendations are served from.

Every strategy that derives data in bulk (co-occurrence, the collaborative
model, rankings, customers' affinities) rebuilds it, one after another, with a
progress bar; then the derived version is bumped, and every serving process
drops its cached aggregates within about a second. Run it on a schedule (say
nightly): until it runs again, what it derived is as old as its last run.

A strategy that fails is reported on its line (and logged with its plugin);
the strategies after it still run, and the command exits 1 at the end, so a
scheduler sees it. ``--if-never-run`` does nothing on a graph that was
recomputed before (``make run`` uses it to derive the demo's data once).
"""

from __future__ import annotations

import asyncio
import time

import click

from gateway.cli.common import graph_session, settings
from gateway.fields import FieldRegistry


@click.command("recompute")
@click.option("--progress/--no-progress", default=True, help="progress bars on stderr")
@click.option(
    "--if-never-run", is_flag=True, help="only if this graph was never recomputed (make run)"
)
def recompute_command(progress: bool, if_never_run: bool) -> None:
    """Rebuild derived recommendation data (rankings, item-to-item, models, affinities).

    Every strategy runs, one after another; one that fails is reported and the
    command exits 1 once the others are done.
    """
    from gateway.host.collect import (
        check_declared,
        collect_manifests,
        collect_policies,
        collect_recommenders,
    )
    from gateway.host.manager import PluginError, load_plugins
    from gateway.host.plugin_graph import PluginGraphs
    from gateway.strategies import Recomputed, RecomputeFailed, recompute
    from graph.recs import derived_version

    config = settings()
    try:
        host = load_plugins(config.disabled_plugins)
        strategies = collect_recommenders(host, config)
        manifests = collect_manifests(host)
        check_declared(manifests, FieldRegistry(()), strategies)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    # Data about one customer is derived only as their consent allows (the same
    # policies the gate asks on every request).
    policies = collect_policies(host)
    # Each strategy works on its plugin's graph: what its manifest declares.
    graph_of = PluginGraphs(manifests, {}).of

    async def run() -> tuple[list[Recomputed], bool] | None:
        async with graph_session(patience=60.0) as graph:
            if if_never_run and await derived_version(graph) is not None:
                return None
            try:
                done = await recompute(
                    strategies,
                    graph,
                    progress,
                    graph_of,
                    policies,
                    manifests.categories_of,
                )
                return done, True
            except RecomputeFailed as failed:
                return list(failed.results), False

    started = time.monotonic()
    outcome = asyncio.run(run())
    if outcome is None:
        click.echo("recomputed before: nothing to do (--if-never-run)")
        return
    results, succeeded = outcome
    for result in results:
        click.echo(f"  {result.strategy.name:<16} {result.summary} ({result.seconds:.1f}s)")
    if not succeeded:
        failed = [r.strategy.name for r in results if r.failed]
        raise click.ClickException(
            f"{len(failed)} of {len(results)} strategies failed to recompute "
            f"({', '.join(failed)}); the others were recomputed"
        )
    click.echo(f"recomputed in {time.monotonic() - started:.1f}s")
