"""``tightrope plugins`` and ``tightrope schema``: what the installed plugins make."""

from __future__ import annotations

import click

from gateway.cli.common import settings
from gateway.plugins import PluginError, load_plugins


@click.command("plugins")
def plugins_command() -> None:
    """List the plugins that are loaded: name, package, version, hooks."""
    try:
        host = load_plugins(settings().disabled_plugins)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [(p.name, p.package, p.version, ", ".join(p.hooks)) for p in host.describe()]
    header = ("name", "package", "version", "hooks")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )


@click.command("schema")
def schema_command() -> None:
    """Print the GraphQL schema (SDL) the installed plugins assemble."""
    from gateway.app import assemble

    try:
        assembly = assemble(settings())
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(assembly.schema.as_str())


def add_plugin_commands(group: click.Group) -> None:
    """Add the commands plugins register; a broken plugin is reported, not fatal to the CLI."""
    try:
        host = load_plugins(settings().disabled_plugins)
        results = host.collect("register_commands")
    except (PluginError, click.ClickException) as exc:
        click.echo(f"warning: plugin commands unavailable: {exc}", err=True)
        return
    for name, commands in results:
        for command in commands:
            if command.name in group.commands:
                raise click.ClickException(
                    f"plugin {name!r} registers command {command.name!r}, which exists already"
                )
            group.add_command(command)
