"""An example third-party plugin: a ``badge`` on every product, and a recommender.

It imports only the plugin API, ``tightrope``, as any plugin must.
"""

from __future__ import annotations

import os

import click
import strawberry

from tightrope import (
    NOT_PERSONAL,
    Candidate,
    DataCategory,
    FieldSpec,
    Product,
    Reason,
    StrategyData,
    Subject,
    hookimpl,
)


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


class StaffPicks:
    """A third party's recommendation strategy: products the shop's staff picked.

    Not personal: it reads the catalogue only. The picks are SKUs in
    ``TIGHTROPE_EXAMPLE_STAFF_PICKS`` (comma-separated); without any it
    suggests nothing.
    """

    name = "staff-picks"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()

    def __init__(self, picks: list[str]) -> None:
        self.picks = picks

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        found = await data.products(self.picks)
        return [
            Candidate(sku, 1.0, (Reason("STAFF_PICK", f"Our staff love {found[sku].name}"),))
            for sku in self.picks
            if sku in found
        ][:count]


@hookimpl
def register_recommenders() -> list[StaffPicks]:
    picks = os.environ.get("TIGHTROPE_EXAMPLE_STAFF_PICKS", "")
    return [StaffPicks([sku.strip() for sku in picks.split(",") if sku.strip()])]
