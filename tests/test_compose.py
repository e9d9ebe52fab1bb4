"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from gateway.cli import cli
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_neo4j_is_the_official_526_image_with_a_healthcheck() -> None:
    neo4j = compose()["services"]["neo4j"]
    assert neo4j["image"] == "neo4j:5.26"
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])


def test_gateway_waits_for_a_healthy_neo4j_and_points_at_it() -> None:
    services = compose()["services"]
    gateway = services["gateway"]
    assert gateway["build"] == "."
    assert gateway["depends_on"]["neo4j"]["condition"] == "service_healthy"
    env = gateway["environment"]
    assert env["NEO4J_URI"] == "bolt://neo4j:7687"
    # The password the gateway uses is the one Neo4j was given.
    auth_user, auth_password = services["neo4j"]["environment"]["NEO4J_AUTH"].split("/", 1)
    assert env["NEO4J_USER"] == auth_user
    assert env["NEO4J_PASSWORD"] == auth_password


def test_gateway_environment_names_are_settings_the_gateway_reads() -> None:
    aliases = set()
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", None) or []
        aliases.update(str(c) for c in choices)
    env = compose()["services"]["gateway"]["environment"]
    unknown = set(env) - aliases
    assert not unknown, f"compose sets variables the gateway ignores: {unknown}"


def test_dockerfile_ships_the_three_packages_and_runs_real_commands() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("gateway", "graph", "plugins"):
        assert re.search(rf"^COPY {package} ", dockerfile, re.MULTILINE), package
    cmd = re.search(r'^CMD \["sh", "-c", "(.*)"\]$', dockerfile, re.MULTILINE)
    assert cmd is not None
    for step in cmd.group(1).split("&&"):
        words = shlex.split(step.replace("exec ", ""))
        assert words[0] == "tightrope"
        # Each step names a command the CLI has, with options it accepts.
        command: Any = cli
        args = words[1:]
        while args and hasattr(command, "commands") and args[0] in command.commands:
            command = command.commands[args.pop(0)]
        assert not hasattr(command, "commands"), f"{step!r} names a group, not a command"
        command.make_context(words[-1], args)  # raises on an unknown option
