"""Served lists are personal data: exported, erased, dropped on withdrawal, pruned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from gateway.cli import cli
from graph import Graph
from tests.gateway.conftest import Serve, gql, visit
from tests.gateway.insights.conftest import at, customer_or_backend, home, track

SET_CONSENT = (
    "mutation($p: String!, $g: Boolean!) { setConsent(purpose: $p, granted: $g) { granted } }"
)


async def served_to_ana(served: Serve, click: str = "click") -> str:
    """One list served to Ana, and a click from it; returns the list's id."""
    async with served(authenticate=customer_or_backend) as (_, client):
        listed = await home(client, "ana", "ana-visit")
        item = listed["items"][0]
        await track(
            client,
            [
                {
                    "eventId": click,
                    "type": "VIEW",
                    "at": at(datetime.now(UTC)),
                    **visit("ana-visit"),
                    "sku": item["product"]["sku"],
                    "listId": listed["listId"],
                    "position": 1,
                }
            ],
            customer="ana",
        )
    list_id: str = listed["listId"]
    return list_id


async def held(graph: Graph) -> tuple[int, int]:
    rows = await graph.read(
        "CALL () { MATCH (l:ServedList) RETURN count(l) AS lists } "
        "CALL () { MATCH (e:ListEvent) RETURN count(e) AS events } RETURN lists, events"
    )
    return rows[0]["lists"], rows[0]["events"]


async def test_the_export_holds_the_lists_served_and_the_erasure_removes_them(
    shop: Graph, served: Serve
) -> None:
    list_id = await served_to_ana(served)
    assert await held(shop) == (1, 1)
    async with served(authenticate=customer_or_backend) as (app, _):
        rights = app.state.assembly.rights
        exported = await rights.export(shop, "ana")
        mine = exported["recommendations_served"]
        assert [lst["id"] for lst in mine["lists"]] == [list_id]
        assert [e["list_id"] for e in mine["events"]] == [list_id]
        assert "recommendations_served" in exported["contributors"]["tightrope"]
        erasure = await rights.erase(shop, "ana")
    assert erasure.removed["recommendation lists and their events"] == 2
    assert await held(shop) == (0, 0)


async def test_withdrawing_analytics_drops_what_was_kept_to_count(
    shop: Graph, served: Serve
) -> None:
    await served_to_ana(served)
    async with served(authenticate=customer_or_backend) as (_, client):
        personalisation = await gql(
            client, SET_CONSENT, {"p": "personalisation", "g": False}, customer="ana"
        )
        assert await held(shop) == (1, 1)  # another purpose: nothing to do with these
        analytics = await gql(client, SET_CONSENT, {"p": "analytics", "g": False}, customer="ana")
    assert "errors" not in personalisation and "errors" not in analytics
    assert await held(shop) == (0, 0)


async def test_prune_removes_lists_older_than_the_analytics_period(
    shop: Graph, served: Serve, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    await served_to_ana(served)
    old = (datetime.now(UTC) - timedelta(days=91)).isoformat()
    await shop.write(
        "MATCH (n) WHERE n:ServedList OR n:ListEvent SET n.at = datetime($at)", {"at": old}
    )
    await served_to_ana(served, "another-click")
    monkeypatch.setenv("TIGHTROPE_RETENTION_ANALYTICS_DAYS", "90")
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["prune", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "served lists: 1" in result.output and "events from lists: 1" in result.output
    assert await held(shop) == (1, 1)
