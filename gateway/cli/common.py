"""What the CLI's commands share: settings and a graph connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click

from gateway.settings import Settings, SettingsError, load_settings
from graph import Graph, GraphUnavailable, connect


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@asynccontextmanager
async def graph_session(patience: float = 30.0) -> AsyncIterator[Graph]:
    """A Graph for one command, closed afterwards; unreachable Neo4j is a clear error."""
    try:
        graph = connect(settings().neo4j(timeout=patience))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        if not await graph.ping():
            raise click.ClickException(
                "Neo4j does not answer; start it with `tightrope neo4j start` or set NEO4J_URI"
            )
        yield graph
    except GraphUnavailable as exc:
        raise click.ClickException(f"Neo4j became unavailable: {exc}") from exc
    finally:
        await graph.close()
