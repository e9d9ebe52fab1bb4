"""``tightrope plugin new``: start a plugin package (templates: gateway/authoring/scaffold.py)."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.authoring.scaffold import KINDS, write_package


@click.group("plugin")
def plugin_group() -> None:
    """Write plugins: ``tightrope plugin new NAME --kind KIND``."""


@plugin_group.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="what the plugin adds")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="where to create the package's folder",
)
def new_command(name: str, kind: str, parent: Path) -> None:
    """Create a plugin package NAME: pyproject, a working KIND, tests that pass, a README.

    KIND is recommender (a recommendation strategy), linker (an identity
    linker: which devices are whose) or consent (a consent policy). Install
    the package into your own environment, beside tightrope
    (docs/plugin-tutorial.md), and run its tests there.
    """
    try:
        root = write_package(name, kind, parent)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {root}")
    click.echo(f"next: cd {root} && pip install -e '.[test]' && pytest")
