"""An example third-party plugin: a ``badge`` on every product.

It uses only what ``gateway`` and ``graph`` export, as any plugin must.
"""

from __future__ import annotations

import click
import strawberry

from gateway import FieldSpec, hookimpl
from graph import Product


def badge(root: Product, info: strawberry.Info) -> str | None:
    """A merchandising badge: cheap products are marked as a bargain."""
    # A product without a price is no bargain: nothing is known about it.
    return "bargain" if root.price is not None and root.price < 20 else None


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [FieldSpec("Product", "badge", "String", badge, description="A merchandising badge.")]


@click.command("example-hello")
def hello() -> None:
    """Say hello (shows that a plugin can add a command)."""
    click.echo("hello from example-badges")


@hookimpl
def register_commands() -> list[click.Command]:
    return [hello]
