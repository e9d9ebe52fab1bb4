"""`tightrope plugin new`: the generated package's own tests pass as generated, for each kind."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.authoring.scaffold import KINDS
from gateway.cli import cli
from graph.local import LocalServer, default_home
from tests.gateway.test_faults import PORT as OWN_PORT
from tests.packages import install, run_own_tests

BIN = Path(sys.executable).parent
# A Neo4j these tests may stop: the fault tests' (the test port + 10, its own home).
OWN_HOME = default_home() / "faults"


def new(tmp_path: Path, name: str, kind: str) -> Path:
    result = CliRunner().invoke(
        cli, ["plugin", "new", name, "--kind", kind, "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    return tmp_path / name


@pytest.mark.parametrize("kind", KINDS)
def test_the_generated_package_passes_its_own_tests(tmp_path: Path, kind: str) -> None:
    root = new(tmp_path, f"my-{kind}", kind)
    module = f"my_{kind}"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["tightrope"] == {f"my-{kind}": module}
    assert (root / "README.md").read_text().startswith(f"# my-{kind}")
    # The author's own run: pytest in the package, with tightrope's fixtures
    # (the pytest11 plugin) on the suite's Neo4j. The package is not installed:
    # the fixtures serve it beside the installed plugins.
    run = run_own_tests(root, PYTHONPATH=str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout
    # What it generates is as clean as our own code.
    for check in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [str(BIN / "ruff"), *check, "--no-cache", "."], cwd=root, capture_output=True, text=True
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_an_installed_plugins_tests_pass_twice_on_a_neo4j_just_started(tmp_path: Path) -> None:
    # As an author does: the package installed, its tests run by pytest against
    # the Neo4j the fixtures start. A Neo4j just started plans each statement in
    # seconds; the fixtures wait for it to answer and warm it up before the
    # first test, so the tests pass on the first run as on the second.
    root = new(tmp_path, "looked-at", "recommender")
    site = install(root, tmp_path / "site")
    server = LocalServer(port=OWN_PORT, root=OWN_HOME)
    env = {
        "PYTHONPATH": str(site),
        "TIGHTROPE_HOME": str(OWN_HOME),
        "TIGHTROPE_NEO4J_PORT": str(OWN_PORT),
    }
    try:
        for attempt in (1, 2):
            server.stop()
            run = run_own_tests(root, **env)
            assert run.returncode == 0, (attempt, run.stdout + run.stderr)
            assert "3 passed" in run.stdout, run.stdout
            assert server.pid() is not None  # the fixtures started it
    finally:
        server.stop()


def test_bad_names_kinds_and_existing_folders_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        cli, ["plugin", "new", "My Picks", "--kind", "consent", "--dir", str(tmp_path)]
    )
    assert bad.exit_code != 0 and "lower-case letters" in bad.output
    ranker = runner.invoke(
        cli, ["plugin", "new", "ranks", "--kind", "ranker", "--dir", str(tmp_path)]
    )
    assert ranker.exit_code != 0 and "'ranker' is not one of" in ranker.output
    new(tmp_path, "picks", "recommender")
    again = runner.invoke(
        cli, ["plugin", "new", "picks", "--kind", "consent", "--dir", str(tmp_path)]
    )
    assert again.exit_code != 0 and "exists already" in again.output


def test_the_help_describes_every_kind() -> None:
    shown = CliRunner().invoke(cli, ["plugin", "new", "--help"]).output
    for kind in KINDS:
        assert f"{kind} (" in shown, kind  # each kind with what it adds
    assert "no hook" not in shown
