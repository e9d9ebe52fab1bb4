"""Shared fixtures: a real Neo4j (the test server `make test` starts) and a clean graph."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway.graphql.prepared.store import check_with
from gateway.settings import load_settings
from graph import Graph, connect
from graph.schema import migrate
from graph.sealed import parse_data_keys
from graph.wipe import wipe
from tests.differential import SESSION as DIFFERENTIAL

# Tests wipe the graph: never let them reach a server configured for real use.
for _name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
    os.environ.pop(_name, None)
# The suite's settings are its own: an operator's shell (TIGHTROPE_OAUTH_ISSUER,
# TIGHTROPE_CONSENT_REGIME, ...) must not change what a test sees. Kept: where
# the test server is and lives, its memory, and the make targets' own knobs.
SHELL_KEPT = frozenset(
    {
        "TIGHTROPE_HOME",
        "TIGHTROPE_NEO4J_PORT",
        "TIGHTROPE_NEO4J_HEAP",
        "TIGHTROPE_NEO4J_PAGECACHE",
        "TIGHTROPE_FAULT_NEO4J_PORT",
        "TIGHTROPE_FUZZ_EXAMPLES",
        "TIGHTROPE_FUZZ_SEED",
    }
)
for _name in [n for n in os.environ if n.startswith("TIGHTROPE_") and n not in SHELL_KEPT]:
    del os.environ[_name]
os.environ.setdefault("TIGHTROPE_NEO4J_PORT", "7688")
# Apps served outside dev mode need a PII key; the tests' is no secret.
TEST_PII_KEY = "test-only-pii-key"
os.environ["TIGHTROPE_PII_KEY"] = TEST_PII_KEY
# ... and keys that seal contact details: the first seals, the second still opens.
TEST_DATA_KEYS_TEXT = (
    "test-2:dGVzdC1vbmx5LWRhdGEta2V5LXR3by0zMi1ieXRlcyE,"
    "test-1:dGVzdC1vbmx5LWRhdGEta2V5LW9uZS0zMi1ieXRlcyE"
)
os.environ["TIGHTROPE_DATA_KEYS"] = TEST_DATA_KEYS_TEXT
TEST_DATA_KEYS = parse_data_keys(TEST_DATA_KEYS_TEXT)


# Every operation an app of the suite answers on the generic path is run again
# from its plan and compared (tests/differential.py); the suite's last test
# fails on any difference (tests/gateway/test_prepared.py).
check_with(DIFFERENTIAL)
LAST = "tests/gateway/test_prepared.py::test_every_operation_the_suite_sent_answers_alike_both_ways"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "single_run: the test counts what its plugins are asked, so the differential check "
        "of prepared operations does not run its operations a second time",
    )


@pytest.fixture(autouse=True)
def _differential(request: pytest.FixtureRequest) -> Iterator[None]:
    """The differential check, off for a test marked single_run."""
    DIFFERENTIAL.enabled = request.node.get_closest_marker("single_run") is None
    yield
    DIFFERENTIAL.enabled = True


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many operations the differential check compared, and what it left out."""
    if DIFFERENTIAL.compared:
        uncovered = sum(DIFFERENTIAL.uncovered.values())
        terminalreporter.write_line(
            f"prepared operations: {DIFFERENTIAL.compared} operations run both ways "
            f"({DIFFERENTIAL.volatile} snapshots of their moment), {len(DIFFERENTIAL.fields)} "
            f"fields covered, {len(DIFFERENTIAL.mismatches)} differences; {uncovered} "
            f"left to the generic path: {dict(DIFFERENTIAL.uncovered)}"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The differential check's verdict runs after every other test."""
    last = [item for item in items if item.nodeid == LAST]
    items[:] = [item for item in items if item.nodeid != LAST] + last


@pytest.fixture(scope="session")
def neo4j_settings():  # type: ignore[no-untyped-def]
    return load_settings().neo4j(timeout=30.0)


@pytest.fixture(scope="session")
async def graph(neo4j_settings) -> AsyncIterator[Graph]:  # type: ignore[no-untyped-def]
    g = connect(neo4j_settings)
    await migrate(g)
    yield g
    await g.close()


@pytest.fixture
async def clean_graph(graph: Graph) -> Graph:
    """The test graph, emptied of data (constraints and indexes stay)."""
    await wipe(graph)
    return graph
