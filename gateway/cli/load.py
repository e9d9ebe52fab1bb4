"""``tightrope load demo | FILE``: fill the graph with demo data or a retailer's files."""

from __future__ import annotations

import asyncio
import gc
import logging
from functools import partial
from pathlib import Path

import click

from gateway.cli.common import graph_session, settings
from gateway.host.manager import PluginError
from gateway.settings import SettingsError
from graph.ingest import (
    DEFAULT_BATCH,
    KINDS,
    Kind,
    LoadError,
    LoadReport,
    graph_counts,
    load_demo,
    load_file,
)


@click.command("load")
@click.argument("source", metavar="demo|FILE")
@click.option(
    "--kind", type=click.Choice(KINDS), help="what FILE holds (default: inferred from its rows)"
)
@click.option("--customers", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--products", type=click.IntRange(1), default=400, show_default=True)
@click.option("--events", type=click.IntRange(0), default=50_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--if-empty",
    is_flag=True,
    help="demo only: skip when the graph already holds products or customers",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH, show_default=True
)
@click.option(
    "--max-errors", type=click.IntRange(0), default=50, show_default=True, help="bad rows to print"
)
@click.option("--progress/--no-progress", default=True, help="progress bar on stderr")
def load(
    source: str,
    kind: Kind | None,
    customers: int,
    products: int,
    events: int,
    seed: int,
    if_empty: bool,
    batch_size: int,
    max_errors: int,
    progress: bool,
) -> None:
    """Load the demo retailer (`load demo`) or a catalogue, customers or events FILE.

    A FILE is CSV or JSON Lines (see docs/data.md for the columns).

    Loading is idempotent: loading the same data twice changes nothing. Bad rows
    are listed with their line numbers; the good rows still load.
    """
    from gateway.app import assemble, consent_withdrawn
    from graph.schema import migrate

    # A load allocates and drops millions of objects a batch, and with the default
    # thresholds the collector walked the whole heap every few seconds: 15 s of
    # the 80 s of CPU of a 300k-event demo load; with full collections ten times
    # rarer (and the customer base let go), 3.2 s of 65 s (docs/data.md). This
    # process only loads, then exits.
    gc.set_threshold(700, 10, 100)
    # Counting a relationship type the graph has not seen yet is not worth a warning.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    demo = source == "demo"
    if demo and kind:
        raise click.UsageError("--kind applies to files, not to the demo")
    config = settings()
    try:
        # Emails are stored as hashes keyed by the deployment's key, contact
        # details sealed under its data key: never a fallback.
        pii_key = config.pii_secret()
        data_keys = config.data_keys_in_use()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        assembly = assemble(config)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    # A load's sign-ins link devices exactly as trackEvents' do: through the
    # installed identity linkers, after each batch is stored.
    linking = assembly.linking

    async def run() -> tuple[LoadReport | None, dict[str, int]]:
        async with graph_session(60.0) as graph:
            await migrate(graph)
            if demo:
                before = await graph_counts(graph)
                if if_empty and (before["products"] or before["customers"]):
                    click.echo(
                        f"the graph already holds {before['products']} products and "
                        f"{before['customers']} customers: demo not loaded (--if-empty)"
                    )
                    return None, before
                from gateway.demo import DemoData

                data = DemoData(
                    customers, products, events, seed, pii_key=pii_key, data_keys=data_keys
                )
                report = await load_demo(
                    graph,
                    data.catalogue(),
                    data.customer_base(),
                    data.event_stream(),
                    batch=batch_size,
                    progress=progress,
                    total_events=events,
                    after_write=partial(linking.link_written, graph),
                    pii_key=pii_key,
                )
            else:
                report = await load_file(
                    graph,
                    Path(source),
                    kind,
                    batch=batch_size,
                    progress=progress,
                    pii_key=pii_key,
                    after_write=partial(linking.link_written, graph),
                    data_keys=data_keys,
                )
            # A record that withdrew a granted consent is a withdrawal like one
            # through the API: every plugin drops what it derived under it.
            for withdrawal in report.withdrawn:
                await consent_withdrawn(
                    assembly.host,
                    assembly.graphs,
                    list(assembly.recommendations.strategies.values()),
                    withdrawal.customer_id,
                    withdrawal.purpose,
                    graph,
                )
            return report, await graph_counts(graph)

    try:
        report, counts = asyncio.run(run())
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    if report is not None:
        _print_report(report, max_errors, demo)
    click.echo("graph: " + ", ".join(f"{value} {name}" for name, value in counts.items()))


def _print_report(report: LoadReport, max_errors: int, demo: bool) -> None:
    for bad in report.bad[:max_errors]:
        click.echo(str(bad), err=True)
    if len(report.bad) > max_errors:
        click.echo(f"... and {len(report.bad) - max_errors} more bad rows", err=True)
    what = "demo events" if demo else f"rows of {report.kind}"
    click.echo(f"read {report.rows} {what}: {len(report.bad)} bad")
    for name in sorted(set(report.written) | set(report.unchanged)):
        line = f"  {name:<12} {report.written[name]:>9} written"
        if name in report.unchanged:
            line += f", {report.unchanged[name]} already stored"
        click.echo(line)
    if report.withdrawn:
        click.echo(
            f"  {len(report.withdrawn)} consents withdrawn: the plugins dropped what they "
            "derived under them"
        )
