"""``tightrope operations``: register the operations a client may run, by hash."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from gateway.cli.common import graph_session, settings
from gateway.graphql.operations import MODES, ManifestError, read_operations
from gateway.host.manager import PluginError
from graph.operations import (
    add_operations,
    client_operations,
    remove_operation,
    set_operations_mode,
)


@click.group("operations")
def operations_group() -> None:
    """Allowlisted operations (persisted queries) of OAuth clients."""


@operations_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--client", "client_id", required=True, help="The client_id they are for.")
def add_command(file: Path, client_id: str) -> None:
    """Register the operations of FILE for a client; print each one's SHA-256.

    FILE is a GraphQL document (registered whole, under the hash of its exact
    text), or a JSON persisted-query manifest: Apollo's (``{"operations":
    [{"id", "name", "body"}]}``) or Relay's (``{"<sha256>": "<text>"}``). Every
    operation is validated against the schema of the installed plugins first.
    """
    from gateway.app import assemble

    try:
        schema = assemble(settings()).schema._schema
        operations = read_operations(file, schema)
    except (PluginError, ManifestError) as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> int | None:
        async with graph_session() as graph:
            return await add_operations(graph, client_id, operations, int(time.time()))

    if asyncio.run(run()) is None:
        raise click.ClickException(f"no client {client_id!r}")
    for op in operations:
        click.echo(f"{op.sha256}\t{op.name or ''}")
    click.echo(f"{len(operations)} operation(s) registered for {client_id}", err=True)


@operations_group.command("list")
@click.option("--client", "client_id", required=True)
def list_command(client_id: str) -> None:
    """A client's mode and registered operations (hash and name)."""

    async def run() -> None:
        async with graph_session() as graph:
            found = await client_operations(graph, client_id)
            if found is None:
                raise click.ClickException(f"no client {client_id!r}")
            click.echo(f"mode: {found.mode or 'default for ' + found.kind}", err=True)
            for op in found.operations:
                click.echo(f"{op.sha256}\t{op.name or ''}")

    asyncio.run(run())


@operations_group.command("remove")
@click.argument("sha256")
@click.option("--client", "client_id", required=True)
def remove_command(sha256: str, client_id: str) -> None:
    """Unregister one operation of a client."""

    async def run() -> bool:
        async with graph_session() as graph:
            return await remove_operation(graph, client_id, sha256.lower())

    if not asyncio.run(run()):
        raise click.ClickException(f"client {client_id!r} has no operation {sha256}")
    click.echo(f"removed {sha256}", err=True)


@operations_group.command("mode")
@click.argument("mode", type=click.Choice([*MODES, "default"]))
@click.option("--client", "client_id", required=True)
def mode_command(mode: str, client_id: str) -> None:
    """Hold a client to its registered operations (allowlist), free it (any), or reset."""

    async def run() -> bool:
        async with graph_session() as graph:
            return await set_operations_mode(graph, client_id, None if mode == "default" else mode)

    if not asyncio.run(run()):
        raise click.ClickException(f"no client {client_id!r}")
    click.echo(f"{client_id}: operations {mode}", err=True)
