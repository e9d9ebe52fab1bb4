"""The ``tightrope`` command line: one group, one module per topic.

Each topic module exposes a click command or group; they are added here so that
``tightrope --help`` lists everything. Plugins add commands through the
``register_commands`` hook.
"""

from __future__ import annotations

import click

from gateway.cli.data_keys import new_data_key_command, rotate_data_command
from gateway.cli.evaluate import evaluate_group
from gateway.cli.forget import forget_command
from gateway.cli.graph import graph_group
from gateway.cli.insights import insights_command
from gateway.cli.load import load
from gateway.cli.neo4j import neo4j
from gateway.cli.oauth import (
    clients_group,
    customers_group,
    keys_group,
    token_command,
)
from gateway.cli.operations import operations_group
from gateway.cli.plugins import add_plugin_commands, plugins_command, schema_command
from gateway.cli.prune import prune_command
from gateway.cli.recompute import recompute_command
from gateway.cli.scaffold import plugin_group
from gateway.cli.serve import serve


@click.group()
@click.version_option(package_name="tightrope")
def cli() -> None:
    """tightrope: a GraphQL personalisation gateway over a Neo4j graph."""


cli.add_command(neo4j)
cli.add_command(graph_group)
cli.add_command(serve)
cli.add_command(plugins_command)
cli.add_command(plugin_group)
cli.add_command(schema_command)
cli.add_command(load)
cli.add_command(clients_group)
keys_group.add_command(new_data_key_command)
keys_group.add_command(rotate_data_command)
cli.add_command(keys_group)
customers_group.add_command(forget_command)
cli.add_command(customers_group)
cli.add_command(token_command)
cli.add_command(recompute_command)
cli.add_command(prune_command)
cli.add_command(evaluate_group)
cli.add_command(insights_command)
cli.add_command(operations_group)


def main() -> None:
    add_plugin_commands(cli)
    cli()
