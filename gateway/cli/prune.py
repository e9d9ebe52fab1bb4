"""``tightrope prune``: remove behavioural data past its retention period (graph/retention.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import click
from tqdm import tqdm

from gateway.cli.common import graph_session, settings
from graph.retention import PruneReport, prune


@click.command("prune")
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), default=1_000, show_default=True,
    help="items removed per transaction (smaller: shorter waits for a serving gateway)",
)  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="progress bar on stderr")
def prune_command(batch_size: int, progress: bool) -> None:
    """Remove events older than TIGHTROPE_RETENTION_EVENT_DAYS, anonymous visits and
    devices older than TIGHTROPE_RETENTION_ANONYMOUS_DAYS, access records older
    than TIGHTROPE_RETENTION_ACCESS_LOG_DAYS, and served lists and the events sent
    from them older than TIGHTROPE_RETENTION_ANALYTICS_DAYS.

    Safe to run while the gateway serves: it works in small transactions.
    Customers, consents, grants and contact details are kept (erasure removes
    them). Run `tightrope recompute` afterwards to refresh derived data.
    """
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
