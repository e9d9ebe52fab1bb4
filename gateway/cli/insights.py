"""``tightrope insights``: the shop's report, as one HTML file, its charts and its data.

Makes the report (gateway/insights/report.py) from the graph with a progress
bar, then writes into ``--out``: ``report.html`` (self-contained: open it in
any browser), one PNG per chart and ``report.json``. Prints where they are
and the top of each part.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from gateway.cli.common import graph_session, settings
from gateway.settings import Settings

STEPS = ("lists", "insights", "dormant", "charts", "html")


async def make_document(
    config: Settings, days: int, now: datetime, progress: bool
) -> tuple[dict[str, Any], Any]:
    """The report's document and the progress bar (to close), made from the graph."""
    from gateway.host.collect import collect_policies
    from gateway.host.manager import PluginError, load_plugins
    from gateway.insights.document import document
    from gateway.insights.report import Options, ShopReport

    try:
        policies = collect_policies(load_plugins(config.disabled_plugins))
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    bar = tqdm(total=len(STEPS), desc="insights", unit=" steps", disable=not progress)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    async with graph_session(patience=60.0) as graph:
        report = ShopReport(graph, policies, config, Options(now, days), step)
        lists, insights, dormant = await report.everything()
    return document(lists, insights, dormant, config), bar


@click.command("insights")
@click.option(
    "--days", type=click.IntRange(1, 365), default=28, show_default=True,
    help="lists served in the last N days",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="directory for report.html, the charts and report.json (default: insights-DATE)",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="print the report's data as JSON, no files")
@click.option("--progress/--no-progress", default=True, help="progress bar on stderr")
def insights_command(days: int, out: Path | None, as_json: bool, progress: bool) -> None:
    """What personalisation earns, what to act on, and what data lies dormant."""
    config = settings()
    now = datetime.now(UTC)
    doc, bar = asyncio.run(make_document(config, days, now, progress))
    if as_json:
        bar.close()
        click.echo(json.dumps(doc, indent=2))
        return
    from gateway.insights.charts import ChartsUnavailable, draw_all
    from gateway.insights.html import render

    try:
        charts = draw_all(doc)
    except ChartsUnavailable as exc:
        bar.close()
        raise click.ClickException(str(exc)) from exc
    bar.set_postfix_str("charts")
    bar.update(1)
    folder = out or Path(f"insights-{now:%Y-%m-%d}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in charts.items():
        (folder / f"{name}.png").write_bytes(png)
    (folder / "report.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    (folder / "report.html").write_text(render(doc, charts), encoding="utf-8")
    bar.set_postfix_str("html")
    bar.update(1)
    bar.close()
    _summary(doc, folder)


def _summary(doc: dict[str, Any], folder: Path) -> None:
    for lift in doc["lift"]:
        result = lift["result"]
        if result is None:
            click.echo(f"{lift['comparison']}: {lift['status']} ({lift['needed']})")
        else:
            click.echo(
                f"{lift['comparison']}: lift {100 * result['lift']:+.1f} % "
                f"(95 %: {100 * result['lift_low']:+.1f} to {100 * result['lift_high']:+.1f} %)"
            )
    for f in doc["findings"][:5]:
        click.echo(f"  {f['rank']}. {f['title']}")
    proposed = [r["kind"] for r in doc["dormant"]["rows"] if r["proposed"]]
    click.echo(f"dormant, proposed for deletion: {', '.join(proposed) or 'nothing'}")
    click.echo(f"report: {folder / 'report.html'}")
