"""What the gate and the access log cost a read-heavy personal query.

Run from the repository root as ``python -m bench.consent_gate`` against a
local test server (``TIGHTROPE_NEO4J_PORT``; it refuses a server named by
NEO4J_URI, and it empties the graph). Two apps over the same graph, served in
this process through httpx's ASGI transport, take turns (A, B, A, B, ...) so
that drift on a shared machine hits both:

- **gate**: the gateway as it is: scopes, row rules, consent policies (the
  built-in one and the example plugin's), the access log buffered and written
  every second by the app's task;
- **scopes only**: the same app built with the gate of before (a scope check
  on fields that declare scopes, nothing else) and no access log.

Four queries: ``service`` (a customer's profile, 50 purchases, basket and
devices: no consent needed), ``personalised`` (the same plus recently viewed,
which needs the customer's consent: one consent read), and the same two
``light`` (four or five gated fields with few values: where the gate's share
of the work is largest). The principal
is a first-party customer token's, given directly (token checks cost the same
in both apps and are measured in docs/performance.md). Reported: p50 and p90
latency per request, and the process's CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from strawberry.extensions import FieldExtension

import gateway.graphql.schema
from gateway import ClientKind, FieldSpec, Principal, create_app
from gateway.gate import ScopeGate
from gateway.graphql.after_operation import AfterOperation
from gateway.settings import load_settings
from graph import Graph, connect, parse_event, set_consent, write_events
from graph.pii import DEV_PII_KEY
from graph.schema import migrate
from graph.wipe import wipe

CUSTOMER = "bench-ana"
PRODUCTS: LiteralString = """
UNWIND range(1, 200) AS i
CREATE (:Product {sku: 'b-' + toString(i), name: 'Product ' + i, price: 10.0 + i, in_stock: true})
"""
CUSTOMER_NODE: LiteralString = (
    "CREATE (:Customer {id: $id, created_at: datetime('2025-01-01T00:00:00Z')})"
)

SERVICE = """{ me { createdAt
  purchases(first: 50) { nodes { product { sku name price } at qty price orderId } }
  cart { product { sku name } addedAt }
  devices { id kind lastSeen } } }"""
PERSONALISED = SERVICE[:-4] + " recentlyViewed(first: 20) { product { sku name } viewedAt } } }"
# Few values, several gated fields: where the gate's share is largest.
LIGHT = "{ me { createdAt devices { id } cart { addedAt } } }"
LIGHT_PERSONALISED = LIGHT[:-4] + " recentlyViewed(first: 5) { viewedAt } } }"
QUERIES = (
    ("service", SERVICE),
    ("personalised", PERSONALISED),
    ("light", LIGHT),
    ("light+pers.", LIGHT_PERSONALISED),
)


async def seed(graph: Graph) -> None:
    await wipe(graph)
    await migrate(graph)
    await graph.write(PRODUCTS)
    await graph.write(CUSTOMER_NODE, {"id": CUSTOMER})
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {"type": "login", "session_id": "bench-s", "device_id": "bench-d", "customer_id": CUSTOMER}
    ]
    rows += [{"type": "purchase", "customer_id": CUSTOMER, "sku": f"b-{i}"} for i in range(1, 61)]
    rows += [{"type": "view", "session_id": "bench-s", "sku": f"b-{i}"} for i in range(61, 101)]
    rows += [{"type": "add_to_cart", "session_id": "bench-s", "sku": f"b-{i}"} for i in range(1, 6)]
    events = [
        parse_event(
            {**row, "event_id": f"bench-{i}", "at": (now - timedelta(hours=200 - i)).isoformat()}
        )
        for i, row in enumerate(rows)
    ]
    assert (await write_events(graph, events, pii_key=DEV_PII_KEY)).rejected == []
    await set_consent(graph, CUSTOMER, "personalisation", True, source="api", version="bench")


async def authenticate(request: Request) -> Principal:
    scopes = request.app.state.registry.scope_names
    return Principal("bench", ClientKind.FIRST_PARTY, CUSTOMER, scopes, customer_exists=True)


def scopes_only(spec: FieldSpec) -> list[FieldExtension]:
    """The gate before this change: scopes where a field declares some, nothing else."""
    return [ScopeGate(spec.scopes)] if spec.scopes else []


class NoAccessLog(AfterOperation):
    def hand_over_reads(self, request_context: object) -> None:
        pass


@contextmanager
def without_gate() -> Iterator[None]:
    """Build apps with the gate of before (the schema builder looks these names up)."""
    names = {"extensions_for": scopes_only, "AfterOperation": NoAccessLog}
    saved = {name: getattr(gateway.graphql.schema, name) for name in names}
    for name, value in names.items():
        setattr(gateway.graphql.schema, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(gateway.graphql.schema, name, value)


@asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


async def timed(
    client: httpx.AsyncClient, query: str, n: int, check: Callable[[Any], None]
) -> tuple[list[float], float]:
    """Per-request wall times (ms) and the CPU time (ms) the n requests took."""
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        response = await client.post("/graphql", json={"query": query})
        walls.append((time.perf_counter() - start) * 1000)
        check(response.json())
    return walls, (time.process_time() - cpu) * 1000


def no_errors(body: Any) -> None:
    if "errors" in body:
        raise SystemExit(f"unexpected errors: {body['errors']}")


async def main(rounds: int, per_round: int) -> None:
    if os.environ.get("NEO4J_URI"):
        sys.exit("refusing to empty the graph named by NEO4J_URI; use the local test server")
    settings = load_settings(dev_mode=True, rate_limit_per_second=0)
    graph = connect(settings.neo4j(timeout=30.0))
    try:
        await seed(graph)
    finally:
        await graph.close()
    gated = create_app(settings, authenticate=authenticate)
    with without_gate():
        plain = create_app(settings, authenticate=authenticate)
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    round_p50s: dict[tuple[str, str], list[float]] = {}
    async with served(gated) as a, served(plain) as b:
        for client in (a, b):  # warm both: documents cached, connections open
            for _, query in QUERIES:
                await timed(client, query, 20, no_errors)
        for _ in range(rounds):
            for query_name, query in QUERIES:
                for app_name, client in (("gate", a), ("scopes only", b)):
                    taken, cpu = await timed(client, query, per_round, no_errors)
                    walls.setdefault((query_name, app_name), []).extend(taken)
                    round_p50s.setdefault((query_name, app_name), []).append(
                        statistics.median(taken)
                    )
                    cpus.setdefault((query_name, app_name), []).append(cpu / per_round)
        written = gated.state.access_log.pending
    print(f"{rounds} rounds x {per_round} requests per query and app; log waiting: {written}")
    print(f"{'query':<13} {'app':<12} {'p50 ms':>7} {'p90 ms':>7} {'CPU ms/req':>11}")
    for key, taken in walls.items():
        p50 = statistics.median(taken)
        p90 = statistics.quantiles(taken, n=10)[-1]
        print(
            f"{key[0]:<13} {key[1]:<12} {p50:7.2f} {p90:7.2f} {statistics.median(cpus[key]):11.2f}"
        )
    # Rounds of the two apps run back to back: their difference cancels most of
    # the drift of a shared machine.
    print("gate minus scopes only, per round (median and quartiles):")
    for query_name, _ in QUERIES:
        with_gate, scoped = cpus[(query_name, "gate")], cpus[(query_name, "scopes only")]
        diffs = sorted(g - p for g, p in zip(with_gate, scoped, strict=True))
        q1, median, q3 = statistics.quantiles(diffs, n=4)
        base = statistics.median(scoped)
        latency = statistics.median(
            g - p
            for g, p in zip(
                round_p50s[(query_name, "gate")],
                round_p50s[(query_name, "scopes only")],
                strict=True,
            )
        )
        print(
            f"  {query_name:<13} CPU {median:+.2f} ms/req ({q1:+.2f} .. {q3:+.2f}), "
            f"{100 * median / base:+.1f} % of {base:.2f}; p50 {latency:+.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.per_round))
