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

Recommendations are served from derived data (rankings, item-to-item edges,
the collaborative model, affinities), so a graph the bench measures W2 on
must have had ``tightrope recompute`` run on it once after its load. That is
on the marker too: ``recomputed_at`` and ``recompute_seconds`` are set once
the recompute finished, and cleared when the graph is built again. A graph
whose marker lacks them is recomputed (not rebuilt); ``force_recompute``
runs it again (say, after the strategies changed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
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
    m.built_at = datetime(), m.build_seconds = $seconds,
    m.recomputed_at = null, m.recompute_seconds = null
"""
WRITE_RECOMPUTED = """
MATCH (m:BenchGraph {key: 'demo'})
SET m.recomputed_at = datetime(), m.recompute_seconds = $seconds
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
class Recomputing:
    """A ``tightrope recompute`` process and when it was started."""

    process: subprocess.Popen[bytes]
    began: float


@dataclass(frozen=True)
class BenchGraph:
    spec: GraphSpec
    server: LocalServer
    uri: str
    user: str
    password: str
    reused: bool
    build_seconds: float
    # The recompute of derived data: run by this call (seconds), or found done
    # by the marker (0.0, and ``recompute_reused``); None when not asked for.
    recompute_seconds: float | None = None
    recompute_reused: bool = False
    # What the marker says the last recompute took, wherever it ran.
    recompute_seconds_marked: float | None = None
    # A recompute started and not yet waited for (see start_recompute).
    recomputing: Recomputing | None = field(default=None, repr=False, compare=False)

    def env(self) -> dict[str, str]:
        """What every process of the bench needs to reach this graph."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password}


def server_for(spec: GraphSpec, port: int, home: Path = DEFAULT_HOME) -> LocalServer:
    # Memory as `make bench-load` gives its server: 2g heap, 2g page cache, which
    # holds the store of a graph up to 2M events. A larger graph gets the page
    # cache an operator would give it (the 20M graph's data is 9 GB), so that
    # `make bench-growth` measures the graph's size, not the disk.
    pagecache = "2g" if spec.events <= 2_000_000 else "8g"
    return LocalServer(
        port=port, root=home / f"events-{spec.events}", heap="2g", pagecache=pagecache
    )


def _marker(uri: str, user: str, password: str) -> dict[str, Any] | None:
    with GraphDatabase.driver(
        uri, auth=(user, password), notifications_min_severity=NotificationMinimumSeverity.OFF
    ) as driver:
        records, _, _ = driver.execute_query(MARKER_QUERY)
        return dict(records[0]["m"]) if records else None


def _cli_env(server: LocalServer, port: int) -> dict[str, str]:
    """The environment of a ``tightrope`` command run on this server (load, recompute)."""
    env = {
        **os.environ,
        "TIGHTROPE_HOME": str(server.root),
        "TIGHTROPE_NEO4J_PORT": str(port),
        "TIGHTROPE_PII_KEY": BENCH_PII_KEY,
        "TIGHTROPE_DATA_KEYS": BENCH_DATA_KEYS,
    }
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        env.pop(name, None)
    return env


def ensure_graph(
    spec: GraphSpec,
    port: int,
    home: Path = DEFAULT_HOME,
    *,
    recompute: bool = False,
    force_recompute: bool = False,
    background: bool = False,
) -> BenchGraph:
    """Start this size's server and load the demo into it unless its marker says it is there.

    With ``recompute``, also run ``tightrope recompute`` on it unless the
    marker says it ran after the load (``force_recompute``: run it anyway);
    with ``background``, only start it: :func:`finish_recompute` waits for it.
    """
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
        graph = BenchGraph(spec, server, conn.uri, conn.user, conn.password, True, 0.0)
        # A graph built by an older tightrope lacks the constraints added since
        # (the access log's, the tombstones'...): without them a MERGE scans a
        # label and misses the gateway's write deadline. Migrating is idempotent.
        subprocess.run(
            [str(Path(sys.executable).with_name("tightrope")), "graph", "migrate"],
            env=_cli_env(server, port),
            check=True,
        )
    else:
        graph = _build(spec, server, port, conn.uri, conn.user, conn.password)
        marker = {}
    if not recompute:
        return graph
    marked = marker.get("recompute_seconds")
    if marker.get("recomputed_at") is not None and not force_recompute:
        print(
            f"derived data reused: marker says `tightrope recompute` ran ({marked or 0:.0f}s)",
            file=sys.stderr,
        )
        return replace(
            graph, recompute_seconds=0.0, recompute_reused=True, recompute_seconds_marked=marked
        )
    started = start_recompute(graph, port)
    return started if background else finish_recompute(started)


def start_recompute(graph: BenchGraph, port: int) -> BenchGraph:
    """``tightrope recompute`` started on the graph; :func:`finish_recompute` waits for it."""
    print("recomputing derived data: tightrope recompute", file=sys.stderr, flush=True)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("tightrope")), "recompute", "--no-progress"],
        env=_cli_env(graph.server, port),
    )
    return replace(graph, recomputing=Recomputing(process, time.monotonic()))


def finish_recompute(graph: BenchGraph) -> BenchGraph:
    """Wait for a started recompute (if any), time it and mark it done on the marker."""
    if graph.recomputing is None:
        return graph
    if graph.recomputing.process.wait() != 0:
        raise SystemExit("`tightrope recompute` failed on the bench graph (its output is above)")
    seconds = time.monotonic() - graph.recomputing.began
    with GraphDatabase.driver(graph.uri, auth=(graph.user, graph.password)) as driver:
        driver.execute_query(WRITE_RECOMPUTED, {"seconds": seconds})
    print(f"derived data recomputed in {seconds:.0f}s", file=sys.stderr)
    return replace(
        graph, recomputing=None, recompute_seconds=seconds, recompute_seconds_marked=seconds
    )


def _build(
    spec: GraphSpec, server: LocalServer, port: int, uri: str, user: str, password: str
) -> BenchGraph:
    wanted = spec.params()
    print(f"building bench graph: {spec} at {server.home}", file=sys.stderr)
    began = time.monotonic()
    env = _cli_env(server, port)
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
    with GraphDatabase.driver(uri, auth=(user, password)) as driver:
        driver.execute_query(WRITE_MARKER, {**wanted, "seconds": seconds})
    print(f"bench graph built in {seconds:.0f}s", file=sys.stderr)
    return BenchGraph(spec, server, uri, user, password, False, seconds)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Build (or find) a bench graph.")
    parser.add_argument("--events", type=int, default=GraphSpec.events)
    parser.add_argument("--port", type=int, default=7689)
    parser.add_argument("--recompute", action="store_true", help="derived data too")
    args = parser.parse_args()
    ensure_graph(GraphSpec(events=args.events), args.port, recompute=args.recompute)
