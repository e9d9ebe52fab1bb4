"""How long the host takes to decide the links of one incoming event, with 100k devices.

Run from the repository root as ``python -m bench.linking [--devices N]``: a
development script, not a test. It builds (once; a marker node says it is
there) a graph of ``N`` devices on a Neo4j of its own (port 7697 unless told,
started if needed; it refuses a graph holding data it did not build):

* customers in households of one to three on a home network each (a /24
  shared by 1.2 households on average), with one to three devices, the first
  signed in (a ``login`` event linked by the real sign-in linker), 60 % with
  ``cross_device`` consent; visitors who are nobody's customers, with one or
  two devices, at home too;
* every phone also on one of three mobile carriers' networks (public: tens of
  thousands of devices) and a fifth of devices also at one of 200 cafes;
* two visits of three views per device, written by ``write_events``.

Then, ``--samples`` times, one at a time: a new view arrives on a random
device from one of its networks (with its user agent); the event is stored
(not timed: that is the request's part) and the linking service decides its
links (timed: what the background queue does per event). Figures: p50, p95,
p99 and mean in milliseconds, Bolt round trips per decision, and how many
decisions made a link. Written to stdout and ``bench-results/linking-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

from pydantic import SecretStr

from gateway.demo import build_catalogue
from gateway.host.collect import linking_service
from gateway.host.manager import load_plugins
from gateway.linking import Arrival, EventSignals, LinkingService, read_signals
from gateway.settings import load_settings
from graph.driver import Graph, Neo4jSettings, connect
from graph.evaluation import NotAnEvaluationGraph, prepare
from graph.ingest import write_catalogue, write_customer_base, write_events
from graph.links import SignalRow, record_signals
from graph.local import LocalServer
from graph.model import Consent, Customer, CustomerBase, Event

# The bench graph is thrown away: keys of its own, whatever is configured.
BENCH_PII_KEY = "bench-only-pii-key"

PORT = 7697
MARK: LiteralString = "MERGE (m:BenchLinkingGraph {id: 'bench'}) SET m.devices = $devices"
MARKED: LiteralString = "MATCH (m:BenchLinkingGraph {id: 'bench'}) RETURN m.devices AS devices"
NOW = datetime(2026, 10, 1, tzinfo=UTC)
AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.0.0 Safari/537.36",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
}


class Plan:
    """The generated population: devices, their owner, networks and visits."""

    def __init__(self, devices: int, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible benchmark graph
        self.catalogue = build_catalogue(2000, seed)
        skus = [p.sku for p in self.catalogue.products]
        self.kind: dict[str, str] = {}
        self.networks: dict[str, list[str]] = {}
        self.customers: list[str] = []
        self.consents: list[str] = []
        self.events: list[Event] = []
        blocks: list[str] = []
        n = 0
        person = 0
        while len(self.kind) < devices:
            if blocks and rng.random() < 0.2:
                block = rng.choice(blocks)
            else:
                block = f"{rng.randint(80, 95)}.{rng.randrange(256)}.{rng.randrange(256)}"
                blocks.append(block)
            home = f"{block}.{rng.randint(2, 254)}"
            for _ in range(rng.choice((1, 1, 2, 3))):
                person += 1
                customer = rng.random() < 0.5
                pid = f"{'C' if customer else 'V'}{person}"
                if customer:
                    self.customers.append(pid)
                    if rng.random() < 0.6:
                        self.consents.append(pid)
                pool = rng.sample(skus, 30)
                count = rng.choice((1, 2, 2, 3)) if customer else rng.choice((1, 2))
                for d in range(count):
                    kind = ("mobile", "desktop", "tablet")[d % 3]
                    device = f"{pid}-{kind}"
                    self.kind[device] = kind
                    nets = [home]
                    if kind == "mobile":
                        nets.append(f"{100 + rng.randrange(3)}.40.{rng.randrange(4)}.{n % 250 + 2}")
                    if rng.random() < 0.2:
                        nets.append(f"{110 + rng.randrange(200) // 250}.{rng.randrange(200)}.30.9")
                    self.networks[device] = nets
                    for v in range(2):
                        n += 1
                        at = NOW - timedelta(days=rng.random() * 60)
                        sid = f"s{n}"
                        for k in range(3):
                            self.events.append(
                                Event(f"e{n}-{k}", "view", at + timedelta(minutes=k), sid,
                                      device, sku=rng.choice(pool))
                            )  # fmt: skip
                        if customer and d == 0 and v == 0:
                            self.events.append(
                                Event(f"l{n}", "login", at + timedelta(minutes=4), sid, device,
                                      customer_id=pid)
                            )  # fmt: skip


async def build(graph: Graph, plan: Plan, service: LinkingService, devices: int) -> None:
    await prepare(graph)
    await write_catalogue(graph, plan.catalogue)
    created = NOW - timedelta(days=400)
    base = CustomerBase(
        tuple(Customer(c, created) for c in plan.customers),
        (),
        (),
        tuple(Consent(c, "cross_device", True, created) for c in plan.consents),
    )
    await write_customer_base(graph, base)
    keys = service.keys
    assert keys is not None
    batch = 10_000
    for start in range(0, len(plan.events), batch):
        chunk = plan.events[start : start + batch]
        began = time.monotonic()
        result = await write_events(graph, chunk, pii_key=BENCH_PII_KEY)
        written = time.monotonic()
        await service.link_written(graph, chunk, result)  # the sign-ins, by the real linker
        print(
            f"  events {start + len(chunk)}/{len(plan.events)}: written in "
            f"{written - began:.1f}s, linked in {time.monotonic() - written:.1f}s",
            file=sys.stderr,
        )
    rows = []
    for device, nets in plan.networks.items():
        for net in nets:
            hashed, _ = read_signals(keys, network=net, user_agent=AGENTS[plan.kind[device]])
            when = NOW - timedelta(days=1)
            rows.append(SignalRow(device, hashed.network, hashed.user_agent, None, when, when))
    for start in range(0, len(rows), batch):
        await record_signals(graph, rows[start : start + batch])
    await graph.write(MARK, {"devices": devices})


async def measure(
    graph: Graph, plan: Plan, service: LinkingService, samples: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed + 1)  # noqa: S311
    keys = service.keys
    assert keys is not None
    devices = sorted(plan.networks)
    skus = [p.sku for p in plan.catalogue.products]
    seconds: list[float] = []
    trips: list[int] = []
    linked = 0
    for i in range(samples):
        device = rng.choice(devices)
        net = rng.choice(plan.networks[device])
        signals: EventSignals
        signals, _ = read_signals(keys, network=net, user_agent=AGENTS[plan.kind[device]])
        event = Event(f"bench-{seed}-{i}-{time.time_ns()}", "view", NOW, f"bench-s{i}", device,
                      sku=rng.choice(skus))  # fmt: skip
        await write_events(graph, [event], pii_key=BENCH_PII_KEY)
        before = graph.round_trips
        began = time.perf_counter()
        report = await service.link(graph, [Arrival(event, signals)])
        seconds.append(time.perf_counter() - began)
        trips.append(graph.round_trips - before)
        linked += bool(report.made())
    ordered = sorted(seconds)

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "samples": samples,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(1000 * statistics.fmean(seconds), 2),
        "round_trips_mean": round(statistics.fmean(trips), 2),
        "decisions_that_linked": linked,
    }


def _save(text: str) -> None:
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / f"linking-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(text)


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    conn = LocalServer(port=args.port).start(timeout=300.0)
    graph = connect(Neo4jSettings(conn.uri, conn.user, conn.password, timeout=60.0))
    # The network linker is opt-in; the benchmark times the decision with it.
    settings = load_settings(
        pii_key=SecretStr(BENCH_PII_KEY),
        signals_key=SecretStr("bench-only-signals"),
        linking_probabilistic=True,
    )
    service = linking_service(load_plugins(settings.disabled_plugins), settings)
    plan = Plan(args.devices, args.seed)
    try:
        marked = await graph.read(MARKED)
        began = time.monotonic()
        if not marked or marked[0]["devices"] != args.devices:
            await build(graph, plan, service, args.devices)
        built = time.monotonic() - began
        counts = (
            await graph.read(
                "CALL () { MATCH (d:Device) RETURN count(d) AS devices } "
                "CALL () { MATCH (n:Network) RETURN count(n) AS networks } "
                "CALL () { MATCH ()-[u:USED_BY]->() RETURN count(u) AS links } "
                "RETURN devices, networks, links"
            )
        )[0]
        figures = await measure(graph, plan, service, args.samples, args.seed)
    finally:
        await graph.close()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "graph": counts,
        "build_seconds": round(built, 1),
        "decide_one_event": figures,
        "rules": vars(service.rules) if hasattr(service.rules, "__dict__") else str(service.rules),
    }
    text = json.dumps(result, indent=2, default=str)
    _save(text)
    print(text)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except NotAnEvaluationGraph as exc:
        sys.exit(f"bench.linking: {exc}")
