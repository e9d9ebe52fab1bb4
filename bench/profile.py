"""``python -m bench.profile``: where the gateway's CPU goes under W1 and W3 at 16 connections.

Serves the bench graph with ``tightrope serve`` as ``make bench`` does, puts
it under one workload with wrk, and samples it with py-spy (``record
--format raw``: collapsed stacks). The summary counts each sample once, by
the module of its innermost frame ("self" time), in the groups below, and
also the share of samples that pass through a few functions the direction of
issue 8 names (GraphQL validation, parsing, execution; Bolt I/O).

``python -m bench.profile --workload w3 --seconds 15`` (default: w3 then w1).
The summary goes to ``bench/results/<date>-profile.json``; the raw stacks to
``~/.cache/tightrope/bench/profiles/`` (an SVG flame graph can be made from
them with any collapsed-stack tool, or run py-spy with ``--format
flamegraph`` yourself).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dataset import DEFAULT_HOME, GraphSpec, ensure_graph
from bench.run import ROOT, fixtures, log
from bench.systems import make_systems
from bench.workloads import SYSTEMS, prelude, script_name
from bench.wrk import Run, run_wrk, write_script

# (group, path prefixes) in order: the first match names a frame's module.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("graphql-core", ("graphql/",)),
    ("strawberry", ("strawberry/",)),
    ("neo4j driver", ("neo4j/",)),
    ("asyncio", ("asyncio/",)),
    ("h11", ("h11/",)),
    ("uvicorn", ("uvicorn/",)),
    ("starlette", ("starlette/",)),
    ("JWT (joserfc, cryptography)", ("joserfc/", "cryptography/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("our code (gateway, graph, plugins)", ("gateway/", "graph/", "plugins/")),
    ("logging", ("logging/",)),
    ("json", ("json/",)),
]
IDLE_POOL_WAIT = "_worker (concurrent/futures/thread.py:81)"
# Inclusive shares: samples whose stack passes through any of these paths.
THROUGH = {
    "GraphQL validation (graphql/validation)": "graphql/validation/",
    "GraphQL parsing (graphql/language/parser.py)": "graphql/language/parser.py",
    "GraphQL execution (graphql/execution)": "graphql/execution/",
    "strawberry extensions (strawberry/extensions)": "strawberry/extensions/",
    "neo4j driver (any)": "neo4j/",
    "token verification (gateway/oauth/resource.py)": "gateway/oauth/resource.py",
}


def _path(frame: str) -> str:
    """The file of a py-spy frame ``func (path:line)``, relative to site-packages or the lib."""
    inner = frame.rsplit("(", 1)[-1].rstrip(")")
    path = inner.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/wt-bench/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path


def group_of(path: str) -> str:
    for name, prefixes in GROUPS:
        if path.startswith(prefixes):
            return name
    return "other (stdlib, C, idle)"


def summarise(raw: Path) -> dict[str, Any]:
    by_group: Counter[str] = Counter()
    through: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_POOL_WAIT):
            # A thread-pool worker waiting for work: py-spy counts it as active.
            continue
        total += count
        paths = [_path(f) for f in frames]
        # Code generated at run time (``<string>``, e.g. graphql-core's visitor
        # lambdas) counts for the module that called it.
        named = next((p for p in reversed(paths) if not p.startswith("<")), "")
        by_group[group_of(named)] += count
        for label, prefix in THROUGH.items():
            if any(p.startswith(prefix) for p in paths):
                through[label] += count
    pct = {k: round(100 * v / total, 1) for k, v in by_group.most_common()} if total else {}
    inc = {k: round(100 * v / total, 1) for k, v in through.most_common()} if total else {}
    return {"samples": total, "self_by_module_pct": pct, "inclusive_pct": inc}


def _load(into: dict[str, Run], url: str, script: Path, connections: int, seconds: int) -> None:
    into["run"] = run_wrk(url, script, connections, seconds)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.profile", description=__doc__.splitlines()[0])
    p.add_argument("--workload", action="append", choices=["w1", "w2", "w3", "w4", "typename"])
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--rate", type=int, default=200)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--neo4j-port", type=int, default=7689)
    p.add_argument("--ports", default="8691,8692,8693")
    p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    p.add_argument("--out", type=Path, default=DEFAULT_HOME / "profiles", help="raw stacks")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    workloads = args.workload or ["w3", "w1"]
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    graph = ensure_graph(GraphSpec(), args.neo4j_port, args.home)
    ports = dict(zip(SYSTEMS, (int(x) for x in args.ports.split(",")), strict=True))
    gateway = make_systems(graph.env(), ports, args.home / "state", args.home / "logs")["tightrope"]
    summaries = {}
    try:
        gateway.start()
        f = fixtures(graph, gateway, args.home / "state")
        for w in workloads:
            script = write_script(
                args.home / "scripts" / f"profile-{w}.lua",
                script_name(w),
                prelude(w, "tightrope", f, f"bench-w4-profile-{w}", 0),
            )
            run_wrk(gateway.url, script, args.connections, 5)  # warm-up
            result: dict[str, Run] = {}
            load = threading.Thread(
                target=_load, args=(result, gateway.url, script, args.connections, args.seconds + 4)
            )
            load.start()
            args.out.mkdir(parents=True, exist_ok=True)
            raw = args.out / f"{w}.txt"
            subprocess.run(
                [
                    py_spy,
                    "record",
                    "-r",
                    str(args.rate),
                    "-d",
                    str(args.seconds),
                    "--format",
                    "raw",
                    "-o",
                    str(raw),
                    "--pid",
                    str(gateway.pid),
                ],
                check=True,
                capture_output=True,
            )
            top = subprocess.run(
                [py_spy, "dump", "--pid", str(gateway.pid)], capture_output=True, text=True
            )
            load.join()
            summary = summarise(raw)
            summary["rps_while_sampled"] = round(result["run"].rps, 1)
            summary["errors_while_sampled"] = dict(result["run"].errors)
            summary["dump_example"] = top.stdout[-3000:]
            summaries[w] = summary
            log(f"profile {w}: {summary['samples']} samples at {summary['rps_while_sampled']} rps")
            print(
                f"\n{w} ({summary['samples']} samples, {summary['rps_while_sampled']} rps, "
                f"errors {summary['errors_while_sampled'] or 0}):"
            )
            for k, v in summary["self_by_module_pct"].items():
                print(f"  self   {v:5.1f} %  {k}")
            for k, v in summary["inclusive_pct"].items():
                print(f"  within {v:5.1f} %  {k}")
    finally:
        gateway.stop()
        graph.server.stop()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    summary_path = args.results / f"{stamp}-profile.json"
    summary_path.write_text(json.dumps(summaries, indent=2) + "\n")
    print(f"\nraw stacks in {args.out}; summary in {summary_path}")


if __name__ == "__main__":
    main()
