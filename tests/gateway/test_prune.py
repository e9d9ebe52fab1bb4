"""`tightrope prune`: what is past its period goes, everything else stays, a summary says what."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner, Result

from gateway.cli import cli
from graph import (
    AccessRecord,
    Graph,
    access_log_page,
    parse_event,
    write_access_records,
    write_events,
)
from tests.conftest import TEST_PII_KEY

NOW = datetime.now(UTC)


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def ev(event_id: str, type: str, days_ago: float, **fields: Any) -> Any:
    return parse_event({"event_id": event_id, "type": type, "at": at(days_ago), **fields})


async def run_cli(args: list[str], **env: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def ids(graph: Graph, query: Any) -> set[str]:
    return {row["id"] for row in await graph.read(query)}


async def test_prune_removes_what_is_past_its_period_and_keeps_the_rest(
    demo_graph: Graph,
) -> None:
    events = [
        # Ana's visit 400 days ago (past a one-year event period) and last week.
        ev("old-login", "login", 400, session_id="ana-old", device_id="ana-phone",
           customer_id="c1"),
        ev("old-view", "view", 400, session_id="ana-old", sku="sku-001"),
        ev("old-buy", "purchase", 400, customer_id="c1", sku="sku-001", order_id="o-old"),
        ev("new-login", "login", 7, session_id="ana-new", device_id="ana-phone",
           customer_id="c1"),
        ev("new-view", "view", 7, session_id="ana-new", sku="sku-002"),
        ev("new-buy", "purchase", 7, customer_id="c1", sku="sku-002", order_id="o-new"),
        # Her signed-in visit 60 days ago: past the anonymous lifetime, but hers.
        ev("mid-login", "login", 60, session_id="ana-mid", device_id="ana-phone",
           customer_id="c1"),
        # Anonymous visitors: one 60 days ago on a device never seen since, one today.
        ev("anon-old", "view", 60, session_id="anon-old", device_id="lost-tablet",
           sku="sku-003"),
        ev("anon-new", "add_to_cart", 0.1, session_id="anon-new", device_id="new-laptop",
           sku="sku-003"),
    ]  # fmt: skip
    assert (await write_events(demo_graph, events, pii_key=TEST_PII_KEY)).rejected == []

    result = await run_cli(
        ["prune", "--no-progress", "--batch-size", "1"],
        TIGHTROPE_RETENTION_EVENT_DAYS="365",
        TIGHTROPE_RETENTION_ANONYMOUS_DAYS="30",
    )
    assert result.exit_code == 0, result.output
    # Ana's old visit, and the seed's visit of March 2025.
    assert "visits past the event period: 2" in result.output
    assert "anonymous visits: 1" in result.output
    assert "purchases: 1" in result.output
    assert "anonymous devices: 1" in result.output

    sessions = await ids(demo_graph, "MATCH (s:Session) RETURN s.id AS id")
    assert {"ana-new", "ana-mid", "anon-new"} <= sessions
    assert not {"ana-old", "anon-old", "s1"} & sessions
    orders = await ids(
        demo_graph, "MATCH (:Customer {id: 'c1'})-[p:PURCHASED]->() RETURN p.order_id AS id"
    )
    assert orders == {"o-new"}
    devices = await ids(demo_graph, "MATCH (d:Device) RETURN d.id AS id")
    assert {"ana-phone", "new-laptop"} <= devices and "lost-tablet" not in devices
    # The customer, her consents and the catalogue are not retention's business.
    assert await ids(demo_graph, "MATCH (c:Customer {id: 'c1'}) RETURN c.id AS id") == {"c1"}

    again = await run_cli(["prune", "--no-progress"], TIGHTROPE_RETENTION_EVENT_DAYS="365")
    assert again.exit_code == 0
    assert all(line.endswith(": 0") for line in again.output.splitlines()[1:])


async def test_prune_while_events_arrive_loses_none_of_the_new_ones(demo_graph: Graph) -> None:
    old = [ev(f"old-{i}", "view", 800, session_id=f"old-{i}", sku="sku-001") for i in range(300)]
    assert (await write_events(demo_graph, old, pii_key=TEST_PII_KEY)).rejected == []

    async def arrive() -> int:
        written = 0
        for n in range(20):
            batch = [
                ev(f"live-{n}-{i}", "view", 0, session_id=f"live-{n}", sku="sku-002")
                for i in range(5)
            ]
            written += sum(
                (await write_events(demo_graph, batch, pii_key=TEST_PII_KEY)).created.values()
            )
        return written

    pruning = asyncio.create_task(run_cli(["prune", "--no-progress", "--batch-size", "10"]))
    written = await arrive()
    result = await pruning
    assert result.exit_code == 0, result.output
    assert written == 100
    rows = await demo_graph.read("MATCH ()-[v:VIEWED]->() RETURN count(v) AS n")
    assert rows[0]["n"] == 100  # every old view gone, every new one kept


async def test_prune_removes_access_records_past_the_access_log_period(demo_graph: Graph) -> None:
    def record(id: str, days_ago: float) -> AccessRecord:
        return AccessRecord(
            id=id, customer_id="c1", at=NOW - timedelta(days=days_ago), client_id="shop-web",
            client_kind="first_party", purpose="service", plugin="tightrope-core",
            categories=("purchases",), fields=("Customer.purchases",),
        )  # fmt: skip

    await write_access_records(demo_graph, [record("old-read", 400), record("new-read", 10)])

    result = await run_cli(["prune", "--no-progress"], TIGHTROPE_RETENTION_ACCESS_LOG_DAYS="365")
    assert result.exit_code == 0, result.output
    assert "access records: 1" in result.output
    # What the customer's access log shows from now on.
    assert [r.id for r in await access_log_page(demo_graph, "c1", limit=10)] == ["new-read"]
