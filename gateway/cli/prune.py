"""``tightrope prune``: remove behavioural data past its retention period (graph/retention.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import click
from tqdm import tqdm

from gateway.cli.common import graph_session, settings
from gateway.insights.dormant import DormantReport, dormant_report, remove_dormant
from graph.retention import PruneReport, prune


@click.command("prune")
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), default=1_000, show_default=True,
    help="items removed per transaction (smaller: shorter waits for a serving gateway)",
)  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="progress bar on stderr")
@click.option(
    "--dormant",
    is_flag=True,
    help="instead: remove the kinds of data nothing read for TIGHTROPE_DORMANT_DAYS days",
)
@click.option("--dry-run", is_flag=True, help="with --dormant: only show what would go")
@click.option("--yes", is_flag=True, help="with --dormant: do not ask for confirmation")
def prune_command(batch_size: int, progress: bool, dormant: bool, dry_run: bool, yes: bool) -> None:
    """Remove events older than TIGHTROPE_RETENTION_EVENT_DAYS, anonymous visits and
    devices older than TIGHTROPE_RETENTION_ANONYMOUS_DAYS, access records older
    than TIGHTROPE_RETENTION_ACCESS_LOG_DAYS, and served lists and the events sent
    from them older than TIGHTROPE_RETENTION_ANALYTICS_DAYS.

    Safe to run while the gateway serves: it works in small transactions.
    Customers, consents, grants and contact details are kept (erasure removes
    them). Run `tightrope recompute` afterwards to refresh derived data.

    With --dormant it removes instead what the dormant-data report proposes:
    every kind of data whose category nothing read in the last
    TIGHTROPE_DORMANT_DAYS days (docs/insights.md); --dry-run shows it first.
    """
    if dry_run and not dormant:
        raise click.UsageError("--dry-run goes with --dormant")
    if dormant:
        _prune_dormant(batch_size, progress, dry_run, yes)
        return
    config = settings()
    now = datetime.now(UTC)
    events_before = now - timedelta(days=config.retention_event_days)
    anonymous_before = now - timedelta(days=config.retention_anonymous_days)
    access_before = now - timedelta(days=config.retention_access_log_days)
    analytics_before = now - timedelta(days=config.retention_analytics_days)

    async def run() -> PruneReport:
        async with graph_session() as graph:
            with tqdm(desc="pruning", unit=" items", disable=not progress) as bar:
                return await prune(
                    graph,
                    events_before,
                    anonymous_before,
                    access_before,
                    batch_size,
                    bar.update,
                    analytics_before,
                )

    report = asyncio.run(run())
    click.echo(
        f"removed, as of {now:%Y-%m-%d %H:%M} UTC (events before {events_before:%Y-%m-%d}, "
        f"anonymous data before {anonymous_before:%Y-%m-%d}, "
        f"access records before {access_before:%Y-%m-%d}, "
        f"served lists before {analytics_before:%Y-%m-%d}):"
    )
    for name, count in report.removed.items():
        click.echo(f"  {name}: {count}")


def _prune_dormant(batch_size: int, progress: bool, dry_run: bool, yes: bool) -> None:
    days = settings().dormant_days
    now = datetime.now(UTC)

    async def report() -> DormantReport:
        async with graph_session() as graph:
            return await dormant_report(graph, now, days)

    found = asyncio.run(report())
    proposed = found.proposed
    click.echo(f"data nothing read in the {days} days to {now:%Y-%m-%d %H:%M} UTC:")
    for row in found.rows:
        mark = "would go" if row.proposed else "stays"
        click.echo(f"  {row.kind}: {row.held} held, {mark} ({row.why})")
    if not proposed:
        click.echo("nothing to remove")
        return
    if dry_run:
        total = sum(r.held for r in proposed)
        click.echo(f"dry run: {total} items of {len(proposed)} kinds would be removed")
        return
    kinds = ", ".join(r.kind for r in proposed)
    if not yes:
        click.confirm(f"remove every item of: {kinds}?", abort=True)

    async def remove() -> dict[str, int]:
        async with graph_session() as graph:
            with tqdm(desc="removing", unit=" items", disable=not progress) as bar:
                return await remove_dormant(graph, found, batch_size, bar.update)

    for kind, count in asyncio.run(remove()).items():
        click.echo(f"  removed {kind}: {count}")
