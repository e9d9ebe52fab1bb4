"""The worked examples in examples/: installed by `make install`, served through their
entry points, listed by `tightrope plugins`, and their own tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLES = {
    "seasonal-picks": ("tightrope-seasonal-picks", "example-seasonal-picks"),
    "consent-renewal": ("tightrope-consent-renewal", "example-consent-renewal"),
    "cleared-cookies": ("tightrope-cleared-cookies", "example-cleared-cookies"),
}


def test_every_example_is_known_here() -> None:
    assert sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir()) == sorted(EXAMPLES)


@pytest.mark.parametrize("folder", sorted(EXAMPLES))
def test_the_example_is_installed_and_passes_its_own_tests(folder: str) -> None:
    package, plugin = EXAMPLES[folder]
    assert distribution(package).version == "0.1.0"  # pip installed it (make install)
    assert plugin in {point.name for point in entry_points(group="tightrope")}
    run = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT / "examples" / folder,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_tightrope_plugins_lists_the_examples() -> None:
    result = subprocess.run(
        [str(BIN / "tightrope"), "plugins"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for package, plugin in EXAMPLES.values():
        assert f"{plugin} ({package} 0.1.0)" in result.stdout
    assert "strategies: seasonal [not_personal; reads nothing personal]" in result.stdout
    # The linker is off until its window is set; on, it is listed with what it reads.
    on = subprocess.run(
        [str(BIN / "tightrope"), "plugins"],
        env={**os.environ, "TIGHTROPE_CLEARED_COOKIES_MINUTES": "30"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "  linkers:    cleared-cookies [cross_device; reads device]\n" in on.stdout
