"""The benchmark's graphs: built once per size on a local server, then reused.

Each size of graph lives in a server home of its own under ``--home``
(default ``~/.cache/tightrope/bench``), ``events-<N>/neo4j/<port>``, so the
2M-event graph of ``make bench`` and the 0.2M and 20M graphs of ``make
bench-growth`` are kept side by side and one port serves whichever runs. The
homes are apart from ``make bench-load``'s server (that benchmark empties its
graph) and from the test server.

A graph counts as built when it holds a ``:BenchGraph`` marker node naming the
demo's parameters; the marker is written only after ``tightrope load demo``
finished, so an interrupted build is simply run again (the load is idempotent).
Counts cannot serve as the test: the W4 workload adds events while it runs
(and deletes them again afterwards).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neo4j import GraphDatabase, NotificationMinimumSeverity

from graph.local import LocalServer

# The key of the demo customers' email hashes in bench graphs. Not a secret:
# the bench data is generated, and the gateway must hash with the same key.
BENCH_PII_KEY = "tightrope-bench-pii-key-not-a-secret"
# ... and of their sealed contact details (the same kind of non-secret).
BENCH_DATA_KEYS = "bench:dGlnaHRyb3BlLWJlbmNoLWRhdGEta2V5LW5vdC1zZWM"
DEFAULT_HOME = Path(
    os.environ.get("TIGHTROPE_BENCH_HOME", Path.home() / ".cache" / "tightrope" / "bench")
)

MARKER_QUERY = "MATCH (m:BenchGraph) RETURN m {.*} AS m"
WRITE_MARKER = """
MERGE (m:BenchGraph {key: 'demo'})
SET m.customers = $customers, m.products = $products, m.events = $events, m.seed = $seed,
    m.built_at = datetime(), m.build_seconds = $seconds
"""


@dataclass(frozen=True)
class GraphSpec:
    customers: int = 100_000
    products: int = 20_000
    events: int = 2_000_000
    seed: int = 7

    def params(self) -> dict[str, int]:
        return {
            "customers": self.customers,
            "products": self.products,
            "events": self.events,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class BenchGraph:
    spec: GraphSpec
    server: LocalServer
    uri: str
    user: str
    password: str
    reused: bool
    build_seconds: float

    def env(self) -> dict[str, str]:
        """What every process of the bench needs to reach this graph."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password}


def server_for(spec: GraphSpec, port: int, home: Path = DEFAULT_HOME) -> LocalServer:
    # Memory as `make bench-load` gives its server: 2g heap, 2g page cache.
    return LocalServer(port=port, root=home / f"events-{spec.events}", heap="2g", pagecache="2g")


def _marker(uri: str, user: str, password: str) -> dict[str, Any] | None:
    with GraphDatabase.driver(
        uri, auth=(user, password), notifications_min_severity=NotificationMinimumSeverity.OFF
    ) as driver:
        records, _, _ = driver.execute_query(MARKER_QUERY)
        return dict(records[0]["m"]) if records else None


def ensure_graph(spec: GraphSpec, port: int, home: Path = DEFAULT_HOME) -> BenchGraph:
    """Start this size's server and load the demo into it unless its marker says it is there."""
    server = server_for(spec, port, home)
    conn = server.start(timeout=180.0)
    marker = _marker(conn.uri, conn.user, conn.password)
    wanted = spec.params()
    if marker is not None and all(marker.get(k) == v for k, v in wanted.items()):
        print(
            f"bench graph reused: {spec.events:,} events (marker :BenchGraph, built in "
            f"{marker.get('build_seconds', 0):.0f}s) at {server.home}",
            file=sys.stderr,
        )
        return BenchGraph(spec, server, conn.uri, conn.user, conn.password, True, 0.0)
    print(f"building bench graph: {spec} at {server.home}", file=sys.stderr)
    began = time.monotonic()
    env = {
        **os.environ,
        "TIGHTROPE_HOME": str(server.root),
        "TIGHTROPE_NEO4J_PORT": str(port),
        "TIGHTROPE_PII_KEY": BENCH_PII_KEY,
        "TIGHTROPE_DATA_KEYS": BENCH_DATA_KEYS,
    }
    env.pop("NEO4J_URI", None)
    subprocess.run(
        [
            str(Path(sys.executable).with_name("tightrope")),
            "load",
            "demo",
            *(f"--{name}={value}" for name, value in wanted.items()),
            "--no-progress",
        ],
        env=env,
        check=True,
    )
    seconds = time.monotonic() - began
    with GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password)) as driver:
        driver.execute_query(WRITE_MARKER, {**wanted, "seconds": seconds})
    print(f"bench graph built in {seconds:.0f}s", file=sys.stderr)
    return BenchGraph(spec, server, conn.uri, conn.user, conn.password, False, seconds)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Build (or find) a bench graph.")
    parser.add_argument("--events", type=int, default=GraphSpec.events)
    parser.add_argument("--port", type=int, default=7689)
    args = parser.parse_args()
    ensure_graph(GraphSpec(events=args.events), args.port)
