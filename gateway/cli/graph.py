"""``tightrope graph migrate``: constraints and indexes."""

from __future__ import annotations

import asyncio

import click

from gateway.cli.common import graph_session, settings


@click.group("graph")
def graph_group() -> None:
    """Manage the Neo4j graph's schema."""


@graph_group.command()
def migrate() -> None:
    """Apply constraints and indexes (idempotent: safe to run on every start)."""
    from gateway.host.manager import PluginError, constraints_of, load_plugins
    from graph.schema import migrate as apply

    try:
        extra = constraints_of(load_plugins(settings().disabled_plugins))
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> list[str]:
        async with graph_session(patience=30.0) as graph:
            return await apply(graph, extra)

    names = asyncio.run(run())
    click.echo(f"schema up to date: {len(names)} constraints and indexes")
