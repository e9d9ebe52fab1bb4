"""``make bench-load``: how fast events go into Neo4j, batched versus naive.

Run from the repository root as ``python -m bench.load [--events N]``: a
development script, not part of the installed package (it reads the host's
settings, which nothing in graph/ may import). It empties the graph it is
pointed at, before and after (the server ``make bench-load`` starts; it refuses
a server named by NEO4J_URI), loads a generated catalogue and customer base,
then:

1. writes N generated events through :func:`graph.ingest.write_events`
   (UNWIND batches, one transaction per batch) and times it;
2. writes the same events again, to time the idempotent "already stored" path;
3. PROFILEs every statement of one further batch and reports db hits per row
   and the operator that does most of the work;
4. writes a sample of further events the naive way, one auto-commit statement
   per event, and reports the ratio.

Figures go to stdout as a table and to ``bench-results/load-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from gateway.demo import DemoData
from graph.driver import Graph, connect
from graph.ingest.cypher import EVENT_STATEMENTS, MERGE_DEVICES, MERGE_SESSIONS
from graph.ingest.event_writer import group_events, write_events
from graph.ingest.writers import graph_counts, write_catalogue, write_customer_base
from graph.model import Event
from graph.pii import DEV_PII_KEY
from graph.schema import migrate

# Relationships first: a product with thousands of events would make one
# DETACH DELETE batch too big for the transaction memory pool.
WIPE_RELATIONSHIPS: LiteralString = (
    "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS"
)
WIPE_NODES: LiteralString = "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS"

# The naive writer: what one writes first, one statement and one transaction
# per event, MERGEing everything it touches.
NAIVE: dict[str, LiteralString] = {
    "view": """
MERGE (s:Session {id: $session_id}) ON CREATE SET s.started_at = datetime($at)
WITH s
FOREACH (_ IN CASE WHEN $device_id IS NULL THEN [] ELSE [1] END |
  MERGE (dev:Device {id: $device_id}) MERGE (s)-[:ON]->(dev))
WITH s
MATCH (p:Product {sku: $sku})
MERGE (s)-[r:VIEWED {event_id: $event_id}]->(p) ON CREATE SET r.at = datetime($at)
""",
    "add_to_cart": """
MERGE (s:Session {id: $session_id}) ON CREATE SET s.started_at = datetime($at)
WITH s
FOREACH (_ IN CASE WHEN $device_id IS NULL THEN [] ELSE [1] END |
  MERGE (dev:Device {id: $device_id}) MERGE (s)-[:ON]->(dev))
WITH s
MATCH (p:Product {sku: $sku})
MERGE (s)-[r:ADDED_TO_CART {event_id: $event_id}]->(p) ON CREATE SET r.at = datetime($at)
""",
    "purchase": """
MATCH (c:Customer {id: $customer_id})
MATCH (p:Product {sku: $sku})
MERGE (c)-[r:PURCHASED {event_id: $event_id}]->(p)
ON CREATE SET r.at = datetime($at), r.qty = $qty, r.price = $price, r.order_id = $order_id
""",
    "login": """
MERGE (s:Session {id: $session_id}) ON CREATE SET s.started_at = datetime($at)
WITH s
MATCH (c:Customer {id: $customer_id})
MERGE (s)-[r:SIGNED_IN_AS {event_id: $event_id}]->(c) ON CREATE SET r.at = datetime($at)
WITH s, c
OPTIONAL MATCH (s)-[:ON]->(d:Device)
FOREACH (_ IN CASE WHEN d IS NULL THEN [] ELSE [1] END |
  MERGE (d)-[u:USED_BY]->(c) ON CREATE SET u.method = 'login', u.confidence = 1.0)
""",
}

HEAP: LiteralString = """
CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes
RETURN attributes.HeapMemoryUsage.value.properties AS heap
"""


def _profile_totals(plan: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """Total db hits of a profiled plan, and the hits of each operator type."""
    by_operator: dict[str, int] = {}

    def walk(node: dict[str, Any]) -> int:
        hits = int(node.get("dbHits", 0))
        name = str(node.get("operatorType", "?")).split("@")[0]
        by_operator[name] = by_operator.get(name, 0) + hits
        return hits + sum(walk(child) for child in node.get("children", []))

    return walk(plan), by_operator


async def profile_batch(graph: Graph, events: Sequence[Event]) -> list[dict[str, Any]]:
    """PROFILE each statement of one batch, inside one transaction as the writer does."""
    batch = group_events(events)
    steps: list[tuple[str, LiteralString, list[dict[str, Any]]]] = [
        ("devices", MERGE_DEVICES, batch.devices),
        ("sessions", MERGE_SESSIONS, batch.sessions),
    ]
    steps += [(t, EVENT_STATEMENTS[t], rows) for t, rows in batch.by_type.items()]

    async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
        out = []
        for name, query, rows in steps:
            if not rows:
                continue
            began = time.perf_counter()
            result = await tx.run("PROFILE " + query, rows=rows)
            summary = await result.consume()
            seconds = time.perf_counter() - began
            total, by_operator = _profile_totals(summary.profile or {})
            top = max(by_operator.items(), key=lambda kv: kv[1])
            out.append(
                {
                    "statement": name,
                    "rows": len(rows),
                    "db_hits": total,
                    "db_hits_per_row": round(total / len(rows), 1),
                    "seconds": round(seconds, 3),
                    "top_operator": top[0],
                    "top_operator_hits": top[1],
                    "operators": by_operator,
                }
            )
        return out

    return await graph.write_tx(work)


async def naive_write(graph: Graph, events: Sequence[Event]) -> None:
    for e in events:
        params = {
            "event_id": e.event_id,
            "at": e.at.isoformat(),
            "session_id": e.session_id,
            "device_id": e.device_id,
            "sku": e.sku,
            "customer_id": e.customer_id,
            "qty": e.qty,
            "price": e.price,
            "order_id": e.order_id,
        }
        await graph.write(NAIVE[e.type], params)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from gateway.settings import load_settings  # the one place settings are read

    if os.environ.get("NEO4J_URI") and not args.allow_remote:
        raise SystemExit(
            "NEO4J_URI is set: this benchmark empties the graph; pass --allow-remote if you mean it"
        )
    graph = connect(load_settings().neo4j(timeout=60.0))
    try:
        result = await _bench(graph, args)
        # Leave the (test) graph as small as we found it: the test suite's wipe
        # is not made for a million relationships.
        say("emptying the graph again...")
        await wipe(graph)
        return result
    finally:
        await graph.close()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def wipe(graph: Graph) -> None:
    """Empty the graph; CALL ... IN TRANSACTIONS needs an auto-commit transaction."""
    async with graph.driver.session(database=graph.database) as session:
        await (await session.run(WIPE_RELATIONSHIPS)).consume()
        await (await session.run(WIPE_NODES)).consume()


async def _bench(graph: Graph, args: argparse.Namespace) -> dict[str, Any]:
    n, batch, sample = args.events, args.batch, args.naive_sample
    say("emptying the graph...")
    await wipe(graph)
    await migrate(graph)

    data = DemoData(
        customers=max(100, n // 80),
        products=args.products,
        events=n + batch + sample,
        seed=args.seed,
        pii_key=DEV_PII_KEY,  # generated benchmark data, never a deployment's customers
    )
    began = time.perf_counter()
    catalogue, base = data.catalogue(), data.customer_base()
    await write_catalogue(graph, catalogue)
    await write_customer_base(graph, base)
    setup_s = time.perf_counter() - began
    say(f"catalogue and {len(base.customers)} customers loaded in {setup_s:.1f}s")

    began = time.perf_counter()
    events = list(data.event_stream())
    generate_s = time.perf_counter() - began
    # The profiled batch and the naive sample are spread over the whole stream,
    # so they hold every event type in its usual share (the stream's tail is
    # mostly anonymous visitors).
    every = len(events) // (batch + sample)
    picked = list(range(every - 1, len(events), every))[: batch + sample]
    skip = set(picked)
    main = [e for i, e in enumerate(events) if i not in skip][:n]
    profiled = [events[i] for i in picked[:batch]]
    naive = [events[i] for i in picked[batch:]]
    say(
        f"{len(events)} events generated in {generate_s:.1f}s; writing {n} in batches of {batch}..."
    )

    began = time.perf_counter()
    written = 0
    for start in range(0, n, batch):
        result = await write_events(
            graph, main[start : start + batch], batch_size=batch, pii_key=DEV_PII_KEY
        )
        written += sum(result.created.values())
        if result.rejected:
            raise SystemExit(f"unexpected rejections: {result.rejected[:3]}")
        if args.verbose:
            say(f"  {start + batch:>9} events, {written / (time.perf_counter() - began):,.0f}/s")
    batched_s = time.perf_counter() - began
    say(f"batched: {n / batched_s:,.0f} events/s")

    again = main[: min(n, args.repeat)]
    began = time.perf_counter()
    result = await write_events(graph, again, batch_size=batch, pii_key=DEV_PII_KEY)
    repeat_s = time.perf_counter() - began
    assert sum(result.created.values()) == 0, "a repeated event was stored twice"

    profile = await profile_batch(graph, profiled)

    began = time.perf_counter()
    await naive_write(graph, naive)
    naive_s = time.perf_counter() - began
    heap = (await graph.read(HEAP))[0]["heap"]
    counts = await graph_counts(graph)
    batched_rate, naive_rate = n / batched_s, len(naive) / naive_s
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "neo4j_heap_setting": os.environ.get("TIGHTROPE_NEO4J_HEAP", "1g (default)"),
        "neo4j_heap_used_mb": round(int(heap["used"]) / 2**20),
        "neo4j_heap_max_mb": round(int(heap["max"]) / 2**20),
        "events": n,
        "batch_size": batch,
        "written": written,
        "setup_seconds": round(setup_s, 1),
        "generate_seconds": round(generate_s, 1),
        "batched_seconds": round(batched_s, 1),
        "batched_events_per_s": round(batched_rate),
        "repeat_events": len(again),
        "repeat_events_per_s": round(len(again) / repeat_s),
        "naive_events": len(naive),
        "naive_seconds": round(naive_s, 1),
        "naive_events_per_s": round(naive_rate),
        "ratio": round(batched_rate / naive_rate, 1),
        "profile": profile,
        "graph": counts,
    }


def _table(r: dict[str, Any]) -> str:
    lines = [
        f"{'writer':<30} {'events':>10} {'seconds':>9} {'events/s':>10}",
        f"{'batched (UNWIND, ' + str(r['batch_size']) + '/tx)':<30} {r['events']:>10,} "
        f"{r['batched_seconds']:>9} {r['batched_events_per_s']:>10,}",
        f"{'batched, already stored':<30} {r['repeat_events']:>10,} {'':>9} "
        f"{r['repeat_events_per_s']:>10,}",
        f"{'naive (1 statement/event)':<30} {r['naive_events']:>10,} {r['naive_seconds']:>9} "
        f"{r['naive_events_per_s']:>10,}",
        f"ratio batched/naive: {r['ratio']}x   Neo4j heap: {r['neo4j_heap_used_mb']} MB used "
        f"of {r['neo4j_heap_max_mb']} MB",
        "",
        f"{'PROFILE of one batch':<14} {'rows':>7} {'db hits':>10} {'hits/row':>9} "
        f"{'seconds':>8}  top operator",
    ]
    for p in r["profile"]:
        lines.append(
            f"{p['statement']:<14} {p['rows']:>7} {p['db_hits']:>10,} {p['db_hits_per_row']:>9} "
            f"{p['seconds']:>8}  {p['top_operator']} ({p['top_operator_hits']:,})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=100_000, help="events written twice")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    # Counting a relationship type the graph has not seen yet is not worth a warning.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    result = asyncio.run(run(args))
    print(_table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"load-{result['at'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
