"""``tightrope customers forget ID``: the back office's door to a customer's erasure."""

from __future__ import annotations

import asyncio

import click

from gateway.cli.common import graph_session, settings
from gateway.privacy.rights import Erasure, ErasureRefused
from gateway.settings import SettingsError


@click.command("forget")
@click.argument("customer_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def forget_command(customer_id: str, yes: bool) -> None:
    """Erase a customer and everything derived about them, through every plugin.

    Their devices, sessions, events, purchases, consents, grants, tokens and
    access log go, and events still arriving for them are refused from then
    on. Aggregates over many customers (a product's popularity) stay. It
    cannot be undone.
    """
    from gateway.app import assemble

    config = settings()
    try:
        config.pii_secret()  # the tombstones' key: refuse before asking anything
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    if not yes:
        click.confirm(
            f"Erase customer {customer_id} and everything derived about them? "
            "This cannot be undone",
            abort=True,
            err=True,
        )
    rights = assemble(config).rights  # every installed plugin is asked

    async def run() -> Erasure:
        async with graph_session() as graph:
            return await rights.erase(graph, customer_id)

    try:
        done = asyncio.run(run())
    except ErasureRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"customer {customer_id} erased")
    for what, count in sorted(done.removed.items()):
        click.echo(f"  {what}: {count}")
    for plugin, count in sorted(done.by_plugin.items()):
        click.echo(f"  derived data held by {plugin}: {count}")
