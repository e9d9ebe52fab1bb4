"""``tightrope recompute``: rebuild the data recommendations are served from.

Every strategy that derives data in bulk (co-occurrence, the collaborative
model, rankings, customers' affinities) rebuilds it, one after another, with a
progress bar; then the derived version is bumped, and every serving process
drops its cached aggregates within about a second. Run it on a schedule (say
nightly): until it runs again, what it derived is as old as its last run.
"""

from __future__ import annotations

import asyncio
import time

import click

from gateway.cli.common import graph_session, settings
from gateway.fields import FieldRegistry


@click.command("recompute")
@click.option("--progress/--no-progress", default=True, help="progress bars on stderr")
def recompute_command(progress: bool) -> None:
    """Rebuild derived recommendation data (rankings, item-to-item, models, affinities)."""
    from gateway.gate import collect_policies
    from gateway.manifests import check_declared, collect_manifests
    from gateway.plugins import PluginError, load_plugins
    from gateway.strategies import collect_recommenders, recompute

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

    async def run() -> list[tuple[str, str, float]]:
        async with graph_session(patience=60.0) as graph:
            done = await recompute(strategies, graph, progress, manifests, policies)
        return [(strategy.name, summary, seconds) for strategy, summary, seconds in done]

    started = time.monotonic()
    for name, summary, seconds in asyncio.run(run()):
        click.echo(f"  {name:<16} {summary} ({seconds:.1f}s)")
    click.echo(f"recomputed in {time.monotonic() - started:.1f}s")
