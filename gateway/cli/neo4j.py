"""``tightrope neo4j start | stop | status``: the local development server."""

from __future__ import annotations

import time

import click

from graph.local import NEO4J_VERSION, LocalNeo4jError, LocalServer

port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=7687,
    show_default=True,
    envvar="TIGHTROPE_NEO4J_PORT",
    show_envvar=True,
    help="Bolt port of the local server (serve and every command read the same variable)",
)


@click.group()
def neo4j() -> None:
    """Run a local Neo4j Community server (fetched with Maven) for development and tests."""


@neo4j.command()
@port_option
@click.option(
    "--timeout", type=float, default=120.0, show_default=True, help="seconds to wait for Bolt"
)
def start(port: int, timeout: float) -> None:
    """Start the server (unless it runs already) and print its Bolt URI."""
    server = LocalServer(port=port)
    began = time.monotonic()
    try:
        conn = server.start(timeout=timeout)
    except LocalNeo4jError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Neo4j {NEO4J_VERSION} ready in {time.monotonic() - began:.1f}s", err=True)
    click.echo(conn.uri)


@neo4j.command()
@port_option
def stop(port: int) -> None:
    """Stop the server on PORT."""
    stopped = LocalServer(port=port).stop()
    click.echo("stopped" if stopped else f"no local Neo4j was running on port {port}")


@neo4j.command()
@port_option
def status(port: int) -> None:
    """Say whether the server on PORT runs; exit status 3 when it does not."""
    server = LocalServer(port=port)
    pid = server.pid()
    if pid is None:
        click.echo(f"not running (port {port})")
        raise SystemExit(3)
    click.echo(f"running: pid {pid}, {server.uri}, home {server.home}")
