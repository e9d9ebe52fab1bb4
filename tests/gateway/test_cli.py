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


def blocks(output: str) -> dict[str, str]:
    """``tightrope plugins``' output by plugin: a header line, then indented lines."""
    found: dict[str, str] = {}
    name = ""
    for line in output.splitlines():
        if not line.startswith(" "):
            name = line.split()[0]
        found[name] = found.get(name, "") + line + "\n"
    return found


def test_plugins_shows_each_plugins_manifest() -> None:
    result = tightrope("plugins")
    assert result.returncode == 0, result.stderr
    shown = blocks(result.stdout)
    assert {"tightrope-catalogue", "tightrope-events", "example-badges"} <= set(shown)
    history = shown["tightrope-history"]
    assert history.startswith("tightrope-history (tightrope ")
    assert "  purposes:   personalisation, service\n" in history
    assert "  categories: browsing_history, purchase_history\n" in history
    assert "Customer.purchases [purchase_history, service, purchases:read]" in history
    assert "register_loaders" in shown["tightrope-catalogue"]
    assert "categories: none (nothing personal)" in shown["tightrope-catalogue"]
    example = shown["example-badges"]
    assert example.startswith("example-badges (tightrope-example-plugin 0.0.1)")
    assert "strategies: staff-picks [not_personal; reads nothing personal]" in example
    assert "linkers:    sign-in [cross_device; reads device]" in shown["tightrope-sign-in-linker"]
    assert "Device.link [device, devices:read]" in shown["tightrope-devices"]
    # No installed plugin runs Cypher of its own (test_manifests shows the warning).
    assert "RAW CYPHER" not in result.stdout


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
