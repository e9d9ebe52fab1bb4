"""``make bench-growth``: does the gateway's latency hold as the graph grows?

For each size of graph (default 0.2M, 2M and 20M events; 100k customers and
20k products throughout) it finds or builds the graph (bench/dataset.py: the
2M graph is the one ``make bench`` uses), serves it with ``tightrope serve``
as ``make bench`` does, and measures W1 and W3 at 16 connections. It reports
p95 per size and its ratio to the smallest graph's; the target is at most
1.5x for ten times the events.

Knobs (``BENCH_ARGS``): ``--sizes 200000,2000000,20000000``, ``--duration``,
``--warmup``, ``--rounds``, ``--concurrency``, ``--workers``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.dataset import DEFAULT_HOME, GraphSpec, ensure_graph, server_for
from bench.run import ROOT, check_equivalence, fixtures, log, measure
from bench.systems import make_systems
from bench.workloads import SYSTEMS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench-growth", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="200000,2000000,20000000", help="events per graph")
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--concurrency", default="16")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1)),
        help="the gateway's worker processes, as `make bench` runs it (default: one per core)",
    )
    p.add_argument("--neo4j-port", type=int, default=7689)
    p.add_argument("--ports", default="8691,8692,8693")
    p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workloads = ["w1", "w3"]
    return args


def one_size(args: argparse.Namespace, events: int) -> dict[str, Any]:
    spec = GraphSpec(events=events)
    began = time.monotonic()
    # W3 asks for `similar`, served from derived data: every size is recomputed.
    graph = ensure_graph(spec, args.neo4j_port, args.home, recompute=True)
    ports = dict(zip(SYSTEMS, (int(p) for p in args.ports.split(",")), strict=True))
    gateway = make_systems(
        graph.env(), ports, args.home / "state", args.home / "logs", workers=args.workers
    )["tightrope"]
    systems = {"tightrope": gateway}
    try:
        gateway.start()
        f = fixtures(graph, gateway, args.home / "state")
        # One system: this checks that every id answers without an error.
        check_equivalence(systems, args.workloads, f)
        measured = measure(
            systems, args, f, graph.server.pid(), args.home / "scripts", f"growth{events}"
        )
    finally:
        gateway.stop()
        graph.server.stop()
    out: dict[str, Any] = {
        "events": events,
        "reused": graph.reused,
        "build_seconds": round(graph.build_seconds, 1),
        "elapsed_seconds": round(time.monotonic() - began, 1),
    }
    for w in args.workloads:
        out[w] = {
            str(c): report.cell(run, {"process": "tightrope", "neo4j": "neo4j"})
            for c, run in measured[w]["tightrope"].items()
        }
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    # Whichever size's server is up on the port now, it must make way.
    for events in args.sizes:
        server_for(GraphSpec(events=events), args.neo4j_port, args.home).stop()
    sizes = []
    for events in args.sizes:
        log(f"growth: graph of {events:,} events")
        sizes.append(one_size(args, events))
    base = sizes[0]
    for s in sizes:
        for w in args.workloads:
            for c, cell in s[w].items():
                smallest = base[w][c]["p95"]
                cell["p95_ratio_to_smallest"] = (
                    round(cell["p95"] / smallest, 3) if smallest and cell["p95"] else None
                )
    stamp = datetime.now(UTC)
    results = {
        "date": stamp.isoformat(timespec="seconds"),
        "git": report.git_commit(),
        "machine": report.machine(),
        "load": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "gateway": f"tightrope serve --workers {args.workers}",
            "customers": GraphSpec.customers,
            "products": GraphSpec.products,
        },
        "sizes": sizes,
    }
    path = args.out / f"growth-{stamp.strftime('%Y-%m-%d')}.json"
    report.write_json(path, results)
    print("| events | reused | W1 p95 ms | ratio | W3 p95 ms | ratio |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for s in sizes:
        c = str(args.concurrency[-1])
        w1, w3 = s["w1"][c], s["w3"][c]
        print(
            f"| {s['events']:,} | {'yes' if s['reused'] else 'built'} | {w1['p95']} | "
            f"{w1['p95_ratio_to_smallest']} | {w3['p95']} | {w3['p95_ratio_to_smallest']} |"
        )
    print(f"results: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
