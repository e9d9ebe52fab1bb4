"""`tightrope plugins` and `tightrope schema`, run as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "tightrope"


def tightrope(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_plugins_lists_name_package_version_hooks() -> None:
    result = tightrope("plugins")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "package", "version", "hooks"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "tightrope-catalogue" in rows and "tightrope-events" in rows
    assert "register_loaders" in rows["tightrope-catalogue"]
    assert "tightrope-example-plugin" in rows["example-badges"]
    assert "0.0.1" in rows["example-badges"]


def test_schema_prints_the_assembled_sdl() -> None:
    result = tightrope("schema")
    assert result.returncode == 0, result.stderr
    assert "type Product {" in result.stdout
    assert "badge: String" in result.stdout  # from the third-party example plugin
    assert "trackEvents(events: [EventInput!]!, signalsFromRequest: Boolean! = false)" in (
        result.stdout
    )
    assert "directive @requiresScopes" in result.stdout


def test_schema_without_a_disabled_plugin() -> None:
    result = tightrope("schema", TIGHTROPE_DISABLED_PLUGINS="tightrope-events")
    assert result.returncode == 0, result.stderr
    assert "trackEvents" not in result.stdout


@pytest.mark.parametrize("command", ["schema", "plugins"])
def test_bad_settings_are_reported_plainly(command: str) -> None:
    result = tightrope(command, TIGHTROPE_MAX_PAGE_SIZE="lots")
    assert result.returncode != 0
    assert "max_page_size (TIGHTROPE_MAX_PAGE_SIZE)" in result.stderr
    assert "Traceback" not in result.stderr
