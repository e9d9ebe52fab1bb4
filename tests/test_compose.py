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


def setting_names() -> set[str]:
    """Every environment variable the settings read: aliases and TIGHTROPE_<FIELD>."""
    names = set()
    for name, field in Settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None) or []
        names.update(str(c) for c in choices)
        names.add(f"TIGHTROPE_{name.upper()}")
    return names


def test_gateway_environment_names_are_settings_the_gateway_reads() -> None:
    env = compose()["services"]["gateway"]["environment"]
    unknown = set(env) - setting_names()
    assert not unknown, f"compose sets variables the gateway ignores: {unknown}"


def test_signing_keys_live_on_a_volume_so_a_restart_keeps_everyone_signed_in() -> None:
    config = compose()
    gateway = config["services"]["gateway"]
    keys_dir = gateway["environment"]["TIGHTROPE_OAUTH_KEYS_DIR"]
    mounts = [volume.split(":") for volume in gateway["volumes"]]
    named = [(name, path) for name, path in mounts if keys_dir.startswith(path.rstrip("/") + "/")]
    assert named, f"{keys_dir} is not on a mounted volume"
    assert named[0][0] in config["volumes"], "the keys' volume is not a named volume"
    # The image makes that directory for its unprivileged user, so a new volume is theirs.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"install -d -o tightrope .*{re.escape(keys_dir)}", dockerfile)


def test_the_image_never_loads_demo_data_unless_asked() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (.*)$", dockerfile, re.MULTILINE)
    assert cmd is not None and "load" not in cmd.group(1)
    services = compose()["services"]
    assert "load" not in " ".join(services["gateway"].get("command") or [])
    # The demo is a one-off service behind a profile: `docker compose up` skips it.
    demo = services["demo"]
    assert demo["profiles"] == ["demo"]
    assert "tightrope load demo --if-empty" in " ".join(demo["command"])


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
