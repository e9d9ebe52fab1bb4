"""The wheel `make dist` builds holds what an author's own environment needs.

A plugin author installs tightrope from it into an environment of their own
(docs/plugin-tutorial.md): the `tightrope` command, the `tightrope` package
plugins import, the fixtures their tests use, and the files the local Neo4j
and the OAuth pages are made from.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDED = [
    "tightrope/__init__.py",
    "gateway/authoring/testing.py",
    "gateway/authoring/scaffold.py",
    "graph/neo4j/pom.xml",
    "gateway/oauth/templates/sign_in.html",
    "plugins/recommenders/trending.py",
]


def test_the_wheel_holds_the_api_the_fixtures_and_their_files(tmp_path: Path) -> None:
    # pip builds in the source tree: build a copy of what the wheel is made of.
    source = tmp_path / "source"
    for part in ("gateway", "graph", "plugins"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    # The command `make dist` runs.
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip, "--no-index", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("tightrope-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(points).decode()
    assert set(NEEDED) <= names
    assert not any(name.startswith("tests/") for name in names)
    assert "[pytest11]\ntightrope = gateway.authoring.testing" in entry_points
    assert "tightrope = gateway.cli:main" in entry_points
    assert "tightrope-trending = plugins.recommenders.trending" in entry_points
    makefile = (ROOT / "Makefile").read_text()
    assert "pip wheel -q --no-deps --no-build-isolation --wheel-dir dist ." in makefile
