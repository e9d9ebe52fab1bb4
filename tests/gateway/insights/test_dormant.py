"""The dormant-data report and `tightrope prune --dormant`: what nothing read, and removing it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.insights.dormant import DormantReport, dormant_report
from graph import Graph
from tests.gateway.conftest import Serve, gql, grant
from tests.gateway.insights.conftest import customer_or_backend, home


async def report(graph: Graph) -> DormantReport:
    return await dormant_report(graph, datetime.now(UTC), 90)


def row(found: DormantReport, kind: str):  # type: ignore[no-untyped-def]
    (match,) = [r for r in found.rows if r.kind == kind]
    return match


async def held(graph: Graph, what: str) -> int:
    rows = await graph.read(
        "MATCH ()-[r]->() WHERE type(r) = $what RETURN count(r) AS n", {"what": what}
    )
    return int(rows[0]["n"])


async def run_cli(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["prune", "--no-progress", *args])


async def test_what_nothing_read_is_proposed_and_what_was_read_names_its_readers(
    shop: Graph, served: Serve
) -> None:
    # The shop's recompute read purchases (and derived preferences); nothing read
    # the views and baskets yet.
    found = await report(shop)
    views, purchases = row(found, "views"), row(found, "purchases")
    assert views.held > 0 and views.dormant and views.proposed
    assert "nothing read browsing_history in the last 90 days" in views.why
    assert not purchases.dormant and not purchases.proposed
    assert {u.reader for u in purchases.readers} >= {"recompute collaborative"}
    customers = row(found, "customers")
    assert customers.dormant and not customers.proposed and customers.why.startswith("kept:")

    # A customer's own app reads her recently viewed products: in her access log.
    await grant(shop, "ana", "personalisation")
    async with served(authenticate=customer_or_backend) as (app, client):
        body = await gql(client, "{ me { recentlyViewed(first: 3) { product { sku } } } }",
                         customer="ana")  # fmt: skip
        assert "errors" not in body, body
        await app.state.access_log.flush()
    found = await report(shop)
    views = row(found, "views")
    assert not views.dormant and not views.proposed
    assert [(u.plugin, u.reader, u.source) for u in views.readers] == [
        ("tightrope-history", "Customer.recentlyViewed", "access log")
    ]


async def test_an_anonymous_visit_s_strategy_counts_as_a_read(shop: Graph, served: Serve) -> None:
    async with served(authenticate=customer_or_backend) as (app, client):
        await home(client, None, "v1")  # a visit that viewed two coats
        await app.state.analytics.buffer.flush()
    views = row(await report(shop), "views")
    assert not views.dormant
    assert ("tightrope-in-session", "strategy in-session", "ledger") in {
        (u.plugin, u.reader, u.source) for u in views.readers
    }


async def test_prune_dormant_shows_what_would_go_then_removes_only_that(shop: Graph) -> None:
    views, purchases = await held(shop, "VIEWED"), await held(shop, "PURCHASED")
    assert views and purchases
    dry = await run_cli("--dormant", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"views: {views} held, would go" in dry.output
    assert f"purchases: {purchases} held, stays" in dry.output
    assert await held(shop, "VIEWED") == views
    done = await run_cli("--dormant", "--yes")
    assert done.exit_code == 0, done.output
    assert f"removed views: {views}" in done.output
    assert "basket additions: 0 held, stays (nothing held)" in done.output
    assert await held(shop, "VIEWED") == 0 and await held(shop, "PURCHASED") == purchases
    refused = await run_cli("--dry-run")
    assert refused.exit_code != 0 and "--dry-run goes with --dormant" in refused.output
