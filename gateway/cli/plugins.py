"""``tightrope plugins`` and ``tightrope schema``: what the installed plugins make."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gateway.cli.common import settings
from gateway.host import hookspecs
from gateway.host.manager import PluginError, load_plugins

if TYPE_CHECKING:
    from gateway.app import Assembly


@click.command("plugins")
def plugins_command() -> None:
    """Each loaded plugin: package, version, and its manifest — what it does with customers' data.

    Per plugin: the purposes and data categories it declared, its fields (with
    their category, purpose and scopes), its strategies, its hooks, and — loudly —
    whether it may run Cypher of its own, which nothing checks.
    """
    from gateway.app import assemble

    try:
        assembly = assemble(settings())
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in describe(assembly):
        click.echo(line)


def describe(assembly: Assembly) -> list[str]:
    """The lines of ``tightrope plugins``: one block per plugin."""
    fields: dict[str, list[str]] = {}
    for spec in assembly.registry.fields:
        notes = [str(n) for n in (spec.data_category, spec.purpose) if n is not None]
        notes += sorted(spec.scopes)
        shown = f"{spec.type_name}.{spec.name}" + (f" [{', '.join(notes)}]" if notes else "")
        fields.setdefault(spec.plugin, []).append(shown)
    strategies: dict[str, list[str]] = {}
    for strategy in assembly.recommendations.strategies.values():
        reads = ", ".join(sorted(strategy.categories)) or "nothing personal"
        strategies.setdefault(strategy.plugin, []).append(
            f"{strategy.name} [{strategy.purpose}; reads {reads}]"
        )
    linkers: dict[str, list[str]] = {}
    for linker in assembly.linking.linkers:
        reads = ", ".join(sorted(linker.categories))
        linkers.setdefault(linker.plugin, []).append(f"{linker.name} [cross_device; reads {reads}]")
    lines: list[str] = []
    for info in assembly.host.describe():
        manifest = assembly.manifests.of(info.name)
        origin = f"{info.package} {info.version}".strip() or "registered in code"
        lines.append(f"{info.name} ({origin})")
        if manifest.description:
            lines.append(f"  {manifest.description}")
        if manifest.raw_cypher is not None:
            lines.append("  !! RAW CYPHER: this plugin may run any query on the graph, unchecked")
            lines.append(f"  !! (it says why: {manifest.raw_cypher}); read its code before use")
        for hook in info.hooks:
            gone = hookspecs.DEPRECATED.get(hook)
            if gone is not None:
                lines.append(
                    f"  !! deprecated hook {hook} (since {gone.since}, removed in "
                    f"{gone.removal}): {gone.instead}"
                )
        rows = [
            ("purposes", ", ".join(sorted(manifest.purposes)) or "none"),
            ("categories", ", ".join(sorted(manifest.categories)) or "none (nothing personal)"),
            ("fields", ", ".join(fields.get(info.name, [])) or "none"),
            ("strategies", ", ".join(strategies.get(info.name, [])) or "none"),
            ("linkers", ", ".join(linkers.get(info.name, [])) or "none"),
            ("hooks", ", ".join(info.hooks)),
        ]
        lines.extend(f"  {label + ':':<12}{value}" for label, value in rows)
    return lines


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
