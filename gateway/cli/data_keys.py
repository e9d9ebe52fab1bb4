"""``tightrope keys new-data-key`` and ``keys rotate-data``: the keys that seal contact details.

Rotation without downtime, in three steps the operator takes:

1. ``tightrope keys new-data-key`` prints a fresh entry; put it first in
   ``TIGHTROPE_DATA_KEYS`` and keep the old entries after it, then restart the
   gateways one by one (each seals with the new key and opens both);
2. ``tightrope keys rotate-data`` re-seals every contact under the first key;
3. when it reports nothing left under an old key, drop that key's entry.
"""

from __future__ import annotations

import asyncio

import click
from tqdm import tqdm

from gateway.cli.common import graph_session, settings
from gateway.settings import SettingsError
from graph.contacts import ResealReport, reseal_contacts
from graph.sealed import new_data_key


@click.command("new-data-key")
def new_data_key_command() -> None:
    """Print a fresh data key entry (id:key) for TIGHTROPE_DATA_KEYS; store nothing."""
    click.echo(new_data_key())
    click.echo(
        "Put it first in TIGHTROPE_DATA_KEYS, keep the old keys after it, restart, "
        "then run `tightrope keys rotate-data`.",
        err=True,
    )


@click.command("rotate-data")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--progress/--no-progress", default=True, help="progress bar on stderr")
def rotate_data_command(batch_size: int, progress: bool) -> None:
    """Re-seal every customer's contact details under the first key of TIGHTROPE_DATA_KEYS.

    Safe while the gateway serves: a contact is written back only if it did
    not change meanwhile. Contacts sealed under a key no longer configured are
    listed and left as they are.
    """
    try:
        keys = settings().data_keys_in_use()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> ResealReport:
        async with graph_session() as graph:
            with tqdm(desc="contacts", unit=" customers", disable=not progress) as bar:
                return await reseal_contacts(graph, keys, batch_size, bar.update)

    report = asyncio.run(run())
    click.echo(
        f"sealed under key {keys.current.id}: {report.resealed} re-sealed, "
        f"{report.current} already were, {report.changed_meanwhile} changed meanwhile "
        "(sealed by their writer)"
    )
    if report.failed:
        shown = ", ".join(report.failed[:20])
        raise click.ClickException(
            f"{len(report.failed)} contact(s) did not open with the configured keys "
            f"and were left as they are: {shown}"
        )
