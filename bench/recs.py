"""``make bench-recs``: how fast the gateway serves recommendations, and how that grows.

Not a test: a latency benchmark of two queries on demo graphs of 10k, 100k
and 1M events (``--sizes``), each the demo retailer at the shape of ``make
bench``'s graph (20 events per customer, 100 per product: 500 customers and
100 products at 10k events, 50,000 and 10,000 at 1M), seed 7:

* ``me``: ``{ me { recommendations(first: 10) { product { sku name } reasons
  { text } } } }``, a token per customer (``profile:read
  recommendations:read``) over up to 200 customers who bought something;
* ``first_visit``: ``query($id: ID!) { session(id: $id) { recommendations(first:
  10) { product { sku } } } }`` over 200 sessions that have done nothing yet
  (``bench-first-visit-NNN``: an anonymous first visit, no token), which the
  bench creates — a session exists only once something happened in it, and
  the demo has none that is empty.

Each graph is built once on a server of its own (``--neo4j-ports``, one per
size, by default 7724, 7725 and 7726, apart from ``make bench``'s 7689; homes
``events-<N>/neo4j/<port>`` under ``--home``, ``~/.cache/tightrope/bench/recs``) and
``tightrope recompute`` is run on it once; both are found again by the
``:BenchGraph`` marker (bench/dataset.py). Then ``tightrope serve`` (one
worker, as ``make bench`` starts it) answers every id once — each answer must
have 10 items, the customers' none they bought — and wrk measures each query
at a fixed concurrency (4) after a warm-up, the two queries interleaved in
rounds. The results go to ``bench/results/recs-<date>.json``: p50 / p95 / p99,
throughput and CPU per request of the gateway and of Neo4j, per size and
query, each percentile's ratio to the smallest graph's, and the issue's goal
(p95 under 50 ms at 1M events) met or not.

``--profile`` also samples the gateway with py-spy under each query on the
largest graph (bench/profile.py's summary: share of samples per module).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from neo4j import GraphDatabase, NotificationMinimumSeverity

from bench import report
from bench.dataset import DEFAULT_HOME, BenchGraph, GraphSpec, ensure_graph
from bench.fixtures import CUSTOMERS_WITH_PURCHASES, bought_by
from bench.profile import summarise
from bench.raw_recs import warm
from bench.run import ROOT, log, mint, post_until_available
from bench.systems import System, cpu_seconds, make_systems
from bench.wrk import Run, merged, require_wrk, run_wrk, write_script

QUERIES = ("me", "first_visit")
ME = "{ me { recommendations(first: 10) { product { sku name } reasons { text } } } }"
FIRST_VISIT = (
    "query($id: ID!) { session(id: $id) { recommendations(first: 10) { product { sku } } } }"
)
ITEMS = 10
GOAL_P95_MS = 50.0
GOAL_EVENTS = 1_000_000
ROTATION = 200
MIN_CUSTOMERS = 20
# The shape of `make bench`'s graph: 2M events, 100,000 customers, 20,000 products.
EVENTS_PER_CUSTOMER = 20
EVENTS_PER_PRODUCT = 100
FIRST_VISIT_PREFIX = "bench-first-visit-"

# Sessions with nothing in them, as a web shop opens one on a first visit.
FIRST_VISITS = """
UNWIND $ids AS id
MERGE (s:Session {id: id})
ON CREATE SET s.started_at = datetime(), s.channel = 'web'
WITH s
OPTIONAL MATCH (s)-[r]-()
RETURN count(r) AS touched
"""
DERIVED = """
CALL () { MATCH ()-[r:ALSO]->() RETURN count(r) AS also }
CALL () { MATCH ()-[r:RANKS]->() RETURN count(r) AS ranks }
CALL () { MATCH ()-[r:PREFERS]->() RETURN count(r) AS prefers }
CALL () { MATCH ()-[r:PURCHASED]->() RETURN count(r) AS purchases }
RETURN also, ranks, prefers, purchases
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench-recs", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="events per graph")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds per query")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument(
        "--neo4j-ports", default="7724,7725,7726", help="one Neo4j port per size, in order"
    )
    p.add_argument("--port", type=int, default=8701, help="the gateway's HTTP port")
    p.add_argument("--home", type=Path, default=DEFAULT_HOME / "recs")
    p.add_argument("--build-only", action="store_true", help="build and recompute, measure nothing")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--recompute", action="store_true", help="recompute even if marked done")
    p.add_argument("--profile", action="store_true", help="py-spy on the largest graph")
    p.add_argument("--profile-seconds", type=int, default=15)
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.neo4j_ports = [int(s) for s in args.neo4j_ports.split(",")]
    if len(args.neo4j_ports) < len(args.sizes):
        p.error("--neo4j-ports: one port per size")
    return args


def spec_for(events: int) -> GraphSpec:
    return GraphSpec(
        customers=max(1, events // EVENTS_PER_CUSTOMER),
        products=max(1, events // EVENTS_PER_PRODUCT),
        events=events,
    )


@dataclass(frozen=True)
class Rotation:
    customers: list[str]
    tokens: list[str]
    sessions: list[str]
    bought: dict[str, set[str]]

    def requests(self, query: str) -> tuple[list[str], list[str] | None]:
        """The bodies and Authorization headers wrk rotates over for a query."""
        if query == "me":
            body = json.dumps({"query": ME})
            return [body] * len(self.tokens), [f"Bearer {t}" for t in self.tokens]
        bodies = [json.dumps({"query": FIRST_VISIT, "variables": {"id": s}}) for s in self.sessions]
        return bodies, None


def prepare(graph: BenchGraph, gateway: System, state: Path) -> Rotation:
    """The customers, their tokens, what they bought, and the first-visit sessions."""
    with GraphDatabase.driver(
        graph.uri,
        auth=(graph.user, graph.password),
        notifications_min_severity=NotificationMinimumSeverity.OFF,
    ) as driver:
        found = driver.execute_query(CUSTOMERS_WITH_PURCHASES, {"n": ROTATION}).records
        customers = [r["id"] for r in found]
        sessions = [f"{FIRST_VISIT_PREFIX}{i:03d}" for i in range(ROTATION)]
        touched = driver.execute_query(FIRST_VISITS, {"ids": sessions}).records[0]["touched"]
    if len(customers) < MIN_CUSTOMERS:
        raise SystemExit(f"only {len(customers)} customers bought something: too few to measure")
    if touched:
        raise SystemExit(f"the first-visit sessions ({FIRST_VISIT_PREFIX}*) are not empty")
    tokens = mint(graph, gateway, customers, state)["w2_tokens"]
    bought = bought_by(graph.uri, graph.user, graph.password, customers)
    log("warming Neo4j with the customers' and visits' recommendation reads (no time limit)")
    asyncio.run(warm(graph.uri, graph.user, graph.password, customers, [], sessions))
    return Rotation(customers, tokens, sessions, bought)


def check(gateway: System, rotation: Rotation) -> None:
    """Every id answers 10 items without an error; a customer's leave out what they bought."""
    with httpx.Client(timeout=30.0) as client:
        for query in QUERIES:
            bodies, auth = rotation.requests(query)
            for i, body in enumerate(bodies):
                headers = {"content-type": "application/json"}
                if auth:
                    headers["authorization"] = auth[i]
                answer = post_until_available(client, gateway.url + "/graphql", body, headers)
                data = answer.json() if answer.status_code == 200 else {}
                if answer.status_code != 200 or data.get("errors"):
                    raise SystemExit(f"{query} #{i}: HTTP {answer.status_code} {answer.text[:500]}")
                root = data["data"]["me"] if query == "me" else data["data"]["session"]
                skus = {item["product"]["sku"] for item in root["recommendations"]}
                if len(skus) != ITEMS:
                    raise SystemExit(f"{query} #{i}: {len(skus)} items, not {ITEMS}")
                if query == "me" and skus & rotation.bought[rotation.customers[i]]:
                    raise SystemExit(f"me #{i}: recommends what the customer bought")
                texts = [
                    r["text"] for item in root["recommendations"] for r in item.get("reasons", [])
                ]
                if any(t.startswith("Not used") for t in texts):
                    raise SystemExit(f"me #{i}: personal strategies skipped: {texts[-1]}")
    log(f"checked: {len(rotation.customers)} customers and {len(rotation.sessions)} visits")


def measure(
    args: argparse.Namespace, gateway: System, neo4j_pid: int | None, rotation: Rotation, tag: str
) -> dict[str, Run]:
    """Each query warmed up, then measured in interleaved rounds; merged per query."""
    rounds: dict[str, list[Run]] = {q: [] for q in QUERIES}
    scripts = args.home / "scripts"
    for phase in ["warmup", *range(args.rounds)]:
        for query in QUERIES:
            bodies, auth = rotation.requests(query)
            start = 0 if phase == "warmup" else 67 * (int(phase) + 1)
            start %= len(bodies)
            data = {"path": "/graphql", "bodies": bodies, "auth": auth, "start": start}
            script = write_script(scripts / f"recs-{tag}-{query}.lua", "rotate.lua", data)
            seconds = args.warmup if phase == "warmup" else args.duration / args.rounds
            pids = {"process": gateway.pid}
            if neo4j_pid is not None:
                pids["neo4j"] = neo4j_pid
            before = {k: cpu_seconds(p) for k, p in pids.items()}
            run = run_wrk(gateway.url, script, args.concurrency, seconds)
            for k, p in pids.items():
                run.cpu[k] = cpu_seconds(p) - before[k]
            if phase != "warmup":
                rounds[query].append(run)
            log(
                f"{tag} {query:<11} {phase!s:<6} {run.rps:7.1f} rps  p50 {run.percentile_ms(50)} "
                f"p95 {run.percentile_ms(95)} ms  errors {dict(run.errors) or 0}"
            )
    return {q: merged(runs) for q, runs in rounds.items()}


def profile(
    args: argparse.Namespace, gateway: System, rotation: Rotation, tag: str
) -> dict[str, Any]:
    """py-spy on the gateway under each query (bench/profile.py's summary)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out: dict[str, Any] = {}
    for query in QUERIES:
        bodies, auth = rotation.requests(query)
        data = {"path": "/graphql", "bodies": bodies, "auth": auth, "start": 0}
        scripts = args.home / "scripts"
        script = write_script(scripts / f"recs-profile-{query}.lua", "rotate.lua", data)
        result: dict[str, Run] = {}

        def load(script: Path = script, result: dict[str, Run] = result) -> None:
            result["run"] = run_wrk(gateway.url, script, args.concurrency, args.profile_seconds + 4)

        thread = threading.Thread(target=load)
        thread.start()
        raw = args.home / "profiles" / f"recs-{tag}-{query}.txt"
        raw.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                py_spy,
                "record",
                "-r",
                "200",
                "-d",
                str(args.profile_seconds),
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
        thread.join()
        summary = summarise(raw)
        summary["rps_while_sampled"] = round(result["run"].rps, 1)
        summary["raw_stacks"] = str(raw)
        out[query] = summary
        log(f"profile {tag} {query}: {summary['samples']} samples")
    return out


def one_size(args: argparse.Namespace, events: int, port: int, last: bool) -> dict[str, Any]:
    spec = spec_for(events)
    began = time.monotonic()
    log(f"graph of {events:,} events: {spec.customers:,} customers, {spec.products:,} products")
    graph = ensure_graph(spec, port, args.home, recompute=True, force_recompute=args.recompute)
    if args.build_only:
        graph.server.stop()
        return {"events": events, "build_seconds": graph.build_seconds}
    ports = {"tightrope": args.port, "peer": args.port + 1, "raw": args.port + 2}
    state = args.home / "state"
    gateway = make_systems(graph.env(), ports, state, args.home / "logs-recs")["tightrope"]
    out: dict[str, Any] = {
        "events": events,
        "customers": spec.customers,
        "products": spec.products,
        "graph_reused": graph.reused,
        "build_seconds": round(graph.build_seconds, 1),
        "recompute_seconds": round(graph.recompute_seconds or 0.0, 1),
        "recompute_reused": graph.recompute_reused,
        "recompute_seconds_when_run": round(graph.recompute_seconds_marked or 0.0, 1),
    }
    try:
        with GraphDatabase.driver(graph.uri, auth=(graph.user, graph.password)) as driver:
            out["derived"] = dict(driver.execute_query(DERIVED).records[0])
        gateway.start()
        rotation = prepare(graph, gateway, state)
        out["rotation"] = {"customers": len(rotation.customers), "visits": len(rotation.sessions)}
        check(gateway, rotation)
        measured = measure(args, gateway, graph.server.pid(), rotation, f"{events}")
        if args.profile and last:
            out["profile"] = profile(args, gateway, rotation, f"{events}")
    finally:
        gateway.stop()
        graph.server.stop()
    for query, run in measured.items():
        out[query] = report.cell(run, {"process": "process", "neo4j": "neo4j"})
    out["elapsed_seconds"] = round(time.monotonic() - began, 1)
    return out


def grow(sizes: list[dict[str, Any]]) -> None:
    """Each percentile's ratio to the smallest graph's, in place."""
    base = sizes[0]
    for size in sizes:
        for query in QUERIES:
            cell = size[query]
            cell["ratio_to_smallest"] = {
                p: (round(cell[p] / base[query][p], 2) if base[query][p] and cell[p] else None)
                for p in ("p50", "p95", "p99")
            }


def table(sizes: list[dict[str, Any]]) -> str:
    lines = [
        "| events | query | p50 ms | p95 ms | p99 ms | p95 ratio | rps | CPU ms/req gateway "
        "| CPU ms/req Neo4j |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for query in QUERIES:
            c = size[query]
            lines.append(
                f"| {size['events']:,} | {query} | {c['p50']} | {c['p95']} | {c['p99']} | "
                f"{c['ratio_to_smallest']['p95']} | {c['rps']} | "
                f"{c.get('cpu_ms_per_request_process')} | {c.get('cpu_ms_per_request_neo4j')} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    require_wrk()
    began = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    ports = dict(zip(args.sizes, args.neo4j_ports, strict=False))
    sizes = [
        one_size(args, e, ports[e], i == len(args.sizes) - 1) for i, e in enumerate(args.sizes)
    ]
    if args.build_only:
        return
    grow(sizes)
    largest = sizes[-1]
    goal = {
        "p95_ms_under": GOAL_P95_MS,
        "at_events": GOAL_EVENTS,
        "measured_at_events": largest["events"],
        "met": {
            q: largest[q]["p95"] is not None and largest[q]["p95"] < GOAL_P95_MS for q in QUERIES
        }
        if largest["events"] >= GOAL_EVENTS
        else None,
    }
    stamp = datetime.now(UTC)
    results = {
        "date": stamp.isoformat(timespec="seconds"),
        "git": report.git_commit(),
        "machine": report.machine(),
        "load": {
            "before": load_before,
            "after": [round(x, 2) for x in os.getloadavg()],
            "note": "1/5/15-minute load averages (os.getloadavg); the machine is shared",
        },
        "settings": {
            "queries": {"me": ME, "first_visit": FIRST_VISIT},
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "graph_shape": f"{EVENTS_PER_CUSTOMER} events per customer, "
            f"{EVENTS_PER_PRODUCT} per product, seed {GraphSpec.seed}",
            "gateway": "tightrope serve, 1 worker, dev mode off, rate limit off",
        },
        "goal": goal,
        "sizes": sizes,
        "elapsed_seconds": round(time.monotonic() - began, 1),
    }
    path = report.fresh_path(args.out / f"recs-{stamp.strftime('%Y-%m-%d')}.json")
    report.write_json(path, results)
    print(table(sizes))
    print(f"goal (p95 < {GOAL_P95_MS:.0f} ms at {GOAL_EVENTS:,} events): {goal['met']}")
    print(f"results: {path}; {results['elapsed_seconds']:.0f}s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
