"""``make bench``: tightrope, the peer and the raw driver, side by side on one graph.

Steps: find or build the seeded graph (bench/dataset.py); start the three
systems (bench/systems.py), each as one process; mint the tokens
(bench/fixtures.py); check that every system answers the same data for every
id (W1, W3) and fail loudly if not; then, per workload and concurrency, warm
every system up and run the measured rounds interleaved (A, B, C, A, B, C...),
so drift on this shared machine hits all of them. Then the same again with
every system as N processes (N gateway workers, N Node processes, N raw
processes; N is one per core): the 1-vs-1 and N-vs-N ratios. Write
bench/results/<date>.json and .png.

Knobs (``make bench BENCH_ARGS="..."``): ``--quick``, ``--duration`` (measured
seconds per system and cell, split over ``--rounds``), ``--warmup``,
``--concurrency 4,16``, ``--workloads w1,w2,w3,w4,typename``,
``--systems tightrope,peer,raw``, ``--processes 1,N`` (the process counts each
system is measured with, every system alike; default 1 and one per core,
``BENCH_WORKERS``), ``--recompute`` (run ``tightrope
recompute`` again though the marker says it ran), ``--keep-running`` (leave the servers up,
say for a profiler; Ctrl-C stops them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from neo4j import GraphDatabase, NotificationMinimumSeverity

from bench import report
from bench.dataset import DEFAULT_HOME, BenchGraph, GraphSpec, ensure_graph, finish_recompute
from bench.fixtures import Fixtures, bought_by, choose_ids, family_of, peer_token
from bench.raw_recs import warm
from bench.systems import System, cpu_seconds, gateway_env, make_systems
from bench.workloads import (
    PEER_NULL,
    PEER_W3_SIMILAR,
    SYSTEMS,
    W4_BATCH,
    WORKLOADS,
    check_w2,
    normal,
    prelude,
    requests,
    script_name,
)
from bench.wrk import Run, merged, require_wrk, run_wrk, write_script

ROOT = Path(__file__).resolve().parent.parent
W4_PREFIX = "bench-w4-"
DELETE_W4 = """
MATCH (s:Session) WHERE s.id STARTS WITH $prefix
CALL (s) { DETACH DELETE s } IN TRANSACTIONS OF 2000 ROWS
"""
COUNT_W4 = """
MATCH (s:Session)-[v:VIEWED]->() WHERE s.id STARTS WITH $prefix
RETURN count(v) AS views
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs: a few minutes in all")
    p.add_argument("--duration", type=float, help="measured seconds per system and cell")
    p.add_argument("--warmup", type=float, help="warm-up seconds per system and cell")
    p.add_argument("--rounds", type=int, help="interleaved rounds the duration is split over")
    p.add_argument("--concurrency", default="4,16", help="comma-separated connection counts")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--systems", default=",".join(SYSTEMS))
    cores = int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1))
    p.add_argument(
        "--processes",
        default=f"1,{cores}" if cores > 1 else "1",
        help="process counts, each system alike (tightrope serve --workers N, N Node "
        "processes, N raw processes); default: 1, then one per core",
    )
    p.add_argument("--neo4j-port", type=int, default=int(os.environ.get("BENCH_PORT", 7689)))
    p.add_argument("--ports", default="8691,8692,8693", help="tightrope,peer,raw HTTP ports")
    p.add_argument("--events", type=int, default=GraphSpec.events)
    p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument(
        "--recompute", action="store_true", help="run `tightrope recompute` even if marked done"
    )
    p.add_argument("--keep-running", action="store_true")
    p.add_argument("--keep-graph", action="store_true", help="leave the graph's Neo4j running")
    args = p.parse_args(argv)
    quick = (4.0, 2.0, 1) if args.quick else (20.0, 5.0, 2)
    args.duration = args.duration or quick[0]
    args.warmup = quick[1] if args.warmup is None else args.warmup
    args.rounds = args.rounds or quick[2]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.systems = [s for s in args.systems.split(",") if s]
    args.processes = list(dict.fromkeys(int(n) for n in args.processes.split(",") if n))
    unknown = set(args.workloads) - set(WORKLOADS) | set(args.systems) - set(SYSTEMS)
    if unknown:
        p.error(f"unknown workloads or systems: {', '.join(sorted(unknown))}")
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mint(graph: BenchGraph, gateway: System, customers: list[str], state: Path) -> dict[str, Any]:
    """Tokens for the gateway, minted in a child process in dev mode (see bench/fixtures.py)."""
    port = int(gateway.url.rsplit(":", 1)[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIGHTROPE_", "NEO4J_"))}
    env.update(graph.env())
    env.update(gateway_env(port, state))
    env["TIGHTROPE_DEV_MODE"] = "true"
    out = subprocess.run(
        [sys.executable, "-m", "bench.fixtures", "mint"],
        input=json.dumps(customers),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"minting tokens failed:\n{out.stderr}")
    minted: dict[str, Any] = json.loads(out.stdout)
    return minted


def fixtures(graph: BenchGraph, gateway: System, state: Path) -> Fixtures:
    customers, skus = choose_ids(graph.uri, graph.user, graph.password)
    minted = mint(graph, gateway, customers, state)
    return Fixtures(
        customers=customers,
        skus=skus,
        tokens=minted["tokens"],
        families=[family_of(t) for t in minted["tokens"]],
        w2_tokens=minted["w2_tokens"],
        w2_families=[family_of(t) for t in minted["w2_tokens"]],
        peer_tokens=[peer_token(c) for c in customers],
        events_token=minted["events_token"],
        events_family=family_of(minted["events_token"]),
    )


# Requests of the same-data check in flight at once.
CHECK_CONCURRENCY = 4


def post_until_available(
    client: httpx.Client, url: str, body: str, headers: dict[str, str]
) -> httpx.Response:
    """One check request, tried again (3 times in all) while the graph is unavailable.

    On this shared machine the gateway's first Bolt connections can take longer
    than its 1 s connection timeout; the check is about the answers, and the
    measurement counts every failed request.
    """
    for _ in range(2):
        answer = client.post(url, content=body, headers=headers)
        if "UNAVAILABLE" not in answer.text:
            return answer
        time.sleep(1.0)
    return client.post(url, content=body, headers=headers)


def check_equivalence(
    systems: dict[str, System],
    workloads: list[str],
    f: Fixtures,
    bought: dict[str, set[str]] | None = None,
) -> dict[str, int]:
    """Every system gives the same data for every id; SystemExit naming the first difference.

    W2's answers are also checked for what W2 means (bench/workloads.py
    ``check_w2``), with ``bought``: what each customer bought.
    """
    agreed: dict[str, int] = {}
    with httpx.Client(timeout=30.0) as client:
        for w in (w for w in workloads if w != "w4"):
            answers: dict[str, list[Any]] = {}
            for name, system in systems.items():
                if name == "peer" and w in PEER_NULL:
                    continue
                path, bodies, auth = requests(w, name, f)
                headers = [
                    {"content-type": "application/json"}
                    | ({"authorization": auth[i]} if auth else {})
                    for i in range(len(bodies))
                ]
                # Four at a time, as the lower measured concurrency: the 2,400
                # requests then took 24 s of the cold run of 2026-11-30.
                with ThreadPoolExecutor(CHECK_CONCURRENCY) as pool:
                    ask = partial(post_until_available, client, system.url + path)
                    responses = list(pool.map(ask, bodies, headers))
                got = []
                for i, response in enumerate(responses):
                    if response.status_code != 200:
                        raise SystemExit(
                            f"{w}: {name} answered HTTP {response.status_code} for id #{i}: "
                            f"{response.text[:500]}"
                        )
                    try:
                        got.append(normal(w, name, response.json()))
                    except (KeyError, TypeError, ValueError) as exc:
                        raise SystemExit(
                            f"{w}: {name}'s answer for id #{i} is not the expected shape "
                            f"({exc!r}): {response.text[:500]}"
                        ) from exc
                answers[name] = got
            names = list(answers)
            if w == "w2":
                for name in names:
                    for customer, items in zip(f.customers, answers[name], strict=True):
                        wrong = check_w2(name, customer, items, (bought or {}).get(customer, set()))
                        if wrong:
                            raise SystemExit(f"W2 CHECK FAILED: {wrong}")
            for name in names[1:]:
                for i, (a, b) in enumerate(zip(answers[names[0]], answers[name], strict=True)):
                    if w == "w3" and "peer" in (names[0], name):
                        a, b = a[:-1], b[:-1]  # the peer has no `similar`
                    if a != b:
                        raise SystemExit(
                            f"EQUIVALENCE FAILED on {w}, id #{i}:\n  {names[0]}: {a}\n  {name}: {b}"
                        )
            agreed[w] = len(answers[names[0]])
            log(f"equivalence {w}: {', '.join(names)} agree on {agreed[w]} ids")
    return agreed


def measure(
    systems: dict[str, System],
    args: argparse.Namespace,
    f: Fixtures,
    neo4j_pid: int | None,
    scripts: Path,
    nonce: str,
) -> dict[str, dict[str, dict[int, Run]]]:
    """Per workload, system and concurrency: the merged measured rounds."""
    out: dict[str, dict[str, dict[int, Run]]] = {}
    for w in args.workloads:
        order = [s for s in systems if not (w in PEER_NULL and s == "peer")]
        out[w] = {s: {} for s in order}
        for c in args.concurrency:
            rounds: dict[str, list[Run]] = {s: [] for s in order}
            for phase in ["warmup", *range(args.rounds)]:
                for s in order:
                    seconds = args.warmup if phase == "warmup" else args.duration / args.rounds
                    if seconds <= 0:
                        continue
                    tag = f"{nonce}-{s}-c{c}-{phase}"
                    start = 0 if phase == "warmup" else 67 * (int(phase) + 1)
                    data = prelude(w, s, f, f"{W4_PREFIX}{tag}", start)
                    script = write_script(scripts / f"{w}-{s}.lua", script_name(w), data)
                    pids = {s: systems[s].pid}
                    if neo4j_pid is not None:
                        pids["neo4j"] = neo4j_pid
                    before = {k: cpu_seconds(p) for k, p in pids.items()}
                    run = run_wrk(systems[s].url, script, c, seconds)
                    for k, p in pids.items():
                        run.cpu[k] = cpu_seconds(p) - before[k]
                    if phase != "warmup":
                        rounds[s].append(run)
                    log(
                        f"{w} c={c} {s:<9} {phase!s:<6} {run.rps:8.1f} rps  "
                        f"p50 {run.percentile_ms(50)} ms  errors {dict(run.errors) or 0}"
                    )
            for s in order:
                out[w][s][c] = merged(rounds[s])
    return out


def w4_written(graph: BenchGraph, nonce: str, systems: list[str]) -> dict[str, int]:
    """Views each system stored in its W4 runs, warm-ups included: the writes happened."""
    with GraphDatabase.driver(
        graph.uri,
        auth=(graph.user, graph.password),
        notifications_min_severity=NotificationMinimumSeverity.OFF,
    ) as driver:
        return {
            s: driver.execute_query(COUNT_W4, {"prefix": f"{W4_PREFIX}{nonce}-{s}-"}).records[0][
                "views"
            ]
            for s in systems
        }


def delete_w4(graph: BenchGraph) -> None:
    """Take the W4 workload's sessions and views out again, so runs start from the same graph."""
    with (
        GraphDatabase.driver(
            graph.uri,
            auth=(graph.user, graph.password),
            notifications_min_severity=NotificationMinimumSeverity.OFF,
        ) as driver,
        driver.session() as session,
    ):
        session.run(DELETE_W4, {"prefix": W4_PREFIX}).consume()


def workload_results(
    args: argparse.Namespace, measured: dict[str, dict[str, dict[int, Run]]], processes: int
) -> dict[str, Any]:
    """One process count's figures per workload: every system's cells and the ratios."""
    results: dict[str, Any] = {}
    for w, by_system in measured.items():
        entry: dict[str, Any] = {"processes": processes}
        for s in SYSTEMS:
            if s not in by_system:
                entry[s] = None
                continue
            entry[s] = {
                str(c): report.cell(run, {"process": s, "neo4j": "neo4j"})
                for c, run in by_system[s].items()
            }
        for other in ("peer", "raw"):
            entry[f"ratio_rps_{other}"] = {
                str(c): report.ratio(
                    (entry.get("tightrope") or {}).get(str(c)), (entry.get(other) or {}).get(str(c))
                )
                for c in args.concurrency
            }
        if w in PEER_NULL:
            entry["peer_null_reason"] = PEER_NULL[w]
        if w == "w3":
            entry["peer_note"] = PEER_W3_SIMILAR
        if w == "w4":
            entry["batch"] = W4_BATCH
        results[w] = entry
    return results


def assemble(
    args: argparse.Namespace,
    graph: BenchGraph,
    measured: dict[int, dict[str, dict[str, dict[int, Run]]]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "processes": {str(n): workload_results(args, m, n) for n, m in measured.items()},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "processes": args.processes,
            "quick": args.quick,
            "rotation": 200,
            "graph": {**graph.spec.params(), "reused": graph.reused},
            "rate_limit": "off (TIGHTROPE_RATE_LIMIT_PER_SECOND=0)",
            "gateway": "tightrope serve --workers N, dev mode off",
            "peer": "N Node processes: one Apollo standalone server, or a node:cluster of N",
            "raw": "python -m bench.raw --workers N (uvicorn, each process binds the port)",
        },
        **extra,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    began = time.monotonic()
    require_wrk()
    if not (ROOT / "bench" / "peer" / "node_modules").is_dir() and "peer" in args.systems:
        raise SystemExit("the peer is not installed: run `npm ci` in bench/peer (make bench does)")
    load_before = [round(x, 2) for x in os.getloadavg()]
    graph = ensure_graph(
        GraphSpec(events=args.events),
        args.neo4j_port,
        args.home,
        recompute=True,
        force_recompute=args.recompute,
        # Beside the systems' start and the tokens, which need no derived data.
        background=True,
    )
    built = time.monotonic()
    state = args.home / "state"
    ports = dict(zip(SYSTEMS, (int(p) for p in args.ports.split(",")), strict=True))
    logs = args.home / "logs"
    nonce = uuid.uuid4().hex[:8]
    scripts = args.home / "scripts"
    measured: dict[int, dict[str, dict[str, dict[int, Run]]]] = {}
    written: dict[str, dict[str, int]] = {}
    f: Fixtures | None = None
    agreed: dict[str, int] = {}
    try:
        for processes in args.processes:
            all_systems = make_systems(graph.env(), ports, state, logs, workers=processes)
            systems = {s: all_systems[s] for s in args.systems}
            try:
                # All three start at once: each spends most of its start-up waiting.
                for s in systems.values():
                    s.launch()
                for s in systems.values():
                    s.wait_ready()
                    log(f"{s.name} up at {s.url} (pid {s.pid}, {processes} process(es))")
                if f is None:
                    f, graph, agreed = prepare(args, graph, all_systems["tightrope"], systems)
                shape = f"{nonce}p{processes}"
                log(f"measuring with {processes} process(es) per system")
                measured[processes] = measure(systems, args, f, graph.server.pid(), scripts, shape)
                written[str(processes)] = check_w4(
                    graph, shape, systems, measured[processes].get("w4", {})
                )
                if args.keep_running:
                    log("servers left running (--keep-running); Ctrl-C to stop them")
                    try:
                        while True:
                            time.sleep(3600)
                    except KeyboardInterrupt:
                        pass
            finally:
                for s in systems.values():
                    s.stop()
        delete_w4(graph)
        version = graph_version(graph)
    finally:
        if graph.recomputing is not None:
            graph.recomputing.process.terminate()
        if not args.keep_graph:
            graph.server.stop()
    load_after = [round(x, 2) for x in os.getloadavg()]
    stamp = datetime.now(UTC)
    extra = {
        "date": stamp.isoformat(timespec="seconds"),
        "git": report.git_commit(),
        "machine": {**report.machine(), "neo4j": version},
        "load": {
            "before": load_before,
            "after": load_after,
            "note": "1/5/15-minute load averages (os.getloadavg); the machine is shared",
        },
        "equivalence": {w: _agreement(w, n, args.systems) for w, n in agreed.items()},
        "w4_views_stored": written,
        "graph_build_seconds": round(graph.build_seconds, 1),
        "recompute": {
            "seconds": round(graph.recompute_seconds or 0.0, 1),
            "reused": graph.recompute_reused,
            "seconds_when_run": round(graph.recompute_seconds_marked or 0.0, 1),
            "note": "`tightrope recompute` on the bench graph: run once after the load "
            "(seconds: this run's; seconds_when_run: the marker's)",
        },
        "elapsed_seconds": round(time.monotonic() - began, 1),
        "elapsed_after_graph_seconds": round(time.monotonic() - built, 1),
    }
    results = assemble(args, graph, measured, extra)
    name = stamp.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    json_path = report.fresh_path(args.out / f"{name}.json")
    report.write_json(json_path, results)
    report.chart(json_path.with_suffix(".png"), results)
    for n, by_workload in results["processes"].items():
        for c in args.concurrency:
            print(f"\n{n} process(es) each, {c} connections:\n" + report.table(by_workload, str(c)))
    print(f"\nresults: {json_path} (+ .png); {results['elapsed_seconds']:.0f}s in all")


def prepare(
    args: argparse.Namespace, graph: BenchGraph, gateway: System, systems: dict[str, System]
) -> tuple[Fixtures, BenchGraph, dict[str, int]]:
    """Once per run, on the first systems up: tokens, derived data, warm reads, the same data."""
    f = fixtures(graph, gateway, args.home / "state")
    log(f"{len(f.customers)} customers, {len(f.skus)} SKUs, tokens minted")
    delete_w4(graph)
    bought = bought_by(graph.uri, graph.user, graph.password, f.customers)
    graph = finish_recompute(graph)
    if {"w2", "w3"} & set(args.workloads):
        log("warming Neo4j with W2's and W3's reads (no time limit)")
        asyncio.run(warm(graph.uri, graph.user, graph.password, f.customers, f.skus))
    return f, graph, check_equivalence(systems, args.workloads, f, bought)


def check_w4(
    graph: BenchGraph, nonce: str, systems: dict[str, System], w4_runs: dict[str, dict[int, Run]]
) -> dict[str, int]:
    """Views each writing system stored; SystemExit when fewer than its measured requests sent."""
    written = w4_written(graph, nonce, [s for s in systems if s != "peer"])
    for name, stored in written.items():
        sent = sum(r.requests for r in w4_runs.get(name, {}).values())
        if stored < W4_BATCH * sent:
            raise SystemExit(
                f"W4: {name} stored {stored} views for {sent} measured requests of "
                f"{W4_BATCH}: its writes did not all happen"
            )
    return written


def _agreement(workload: str, ids: int, systems: list[str]) -> str:
    names = [s for s in systems if not (s == "peer" and workload in PEER_NULL)]
    if workload == "w2":
        return (
            f"{ids} customers agree across {', '.join(names)}: the same 10 items, scores and "
            "reasons, none bought, personal strategies run"
        )
    return f"{ids} ids agree across {', '.join(names)}"


def graph_version(graph: BenchGraph) -> str:
    with GraphDatabase.driver(graph.uri, auth=(graph.user, graph.password)) as driver:
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN name + ' ' + versions[0] + ' ' + edition AS v"
        )
        return str(records[0]["v"])


if __name__ == "__main__":
    main()
