"""The recommendation shop (tests/gateway/recs/conftest.py) seen from the back office.

Its shoppers granted ``personalisation``; those named in ``ANALYTICS`` also
granted ``analytics``, and Bea refused it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.insights.figures import ListFigures, Period, list_figures
from graph import Graph
from tests.gateway.conftest import TEST_CUSTOMER_HEADER, gql, grant, visit
from tests.gateway.recs.conftest import BASKETS, build_shop, recompute_all

ANALYTICS = sorted(BASKETS)  # u1..u6 and ana
REFUSED = "bea"

HOME = """query($session: ID, $first: Int) {
  recommendations(placement: HOME, sessionId: $session, first: $first) {
    listId items { product { sku price } strategy position } } }"""

TRACK = """mutation($events: [EventInput!]!) { trackEvents(events: $events) {
  accepted duplicates rejected { index message } ignoredSignals { index field message } } }"""


async def customer_or_backend(request: Request) -> Principal:
    """``X-Test-Customer``: that customer, every scope; none: the shop's back end."""
    customer = request.headers.get(TEST_CUSTOMER_HEADER)
    scopes = request.app.state.registry.scope_names
    if customer:
        return Principal("test-client", ClientKind.FIRST_PARTY, customer, scopes)
    return Principal("back-office", ClientKind.FIRST_PARTY, None, scopes)


@pytest.fixture
async def shop(clean_graph: Graph) -> Graph:
    """The shop, recomputed, with analytics granted by all but Bea (who refused)."""
    await build_shop(clean_graph)
    await recompute_all(clean_graph)
    await grant(clean_graph, REFUSED, "analytics", granted=False)
    for who in ANALYTICS:
        await grant(clean_graph, who, "analytics")
    return clean_graph


async def home(
    client: httpx.AsyncClient, customer: str | None, session: str, first: int = 5
) -> dict[str, Any]:
    """A HOME list for the visit named ``session`` (its ids as the gateway issues them)."""
    ids = visit(session)
    body = await gql(client, HOME, {"session": ids["sessionId"], "first": first}, customer=customer)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["recommendations"]
    return found


async def track(
    client: httpx.AsyncClient, events: list[dict[str, Any]], customer: str | None = None
) -> dict[str, Any]:
    body = await gql(client, TRACK, {"events": events}, customer=customer)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["trackEvents"]
    assert found["rejected"] == [], found
    return found


async def click_first_item(client: httpx.AsyncClient, customer: str) -> dict[str, Any]:
    """Serve the customer a HOME list and send a view of its first item from it."""
    listed = await home(client, customer, f"{customer}-visit")
    item = listed["items"][0]
    click = {"eventId": f"click-{customer}", "type": "VIEW", "at": at(datetime.now(UTC)),
             **visit(f"{customer}-visit"), "sku": item["product"]["sku"],
             "listId": listed["listId"], "position": 1}  # fmt: skip
    await track(client, [click], customer=customer)
    return listed


def at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def figures(app: Starlette, graph: Graph, days_ahead: float = 30) -> ListFigures:
    """The figures of the last day and the days ahead (tests send events dated later)."""
    await app.state.analytics.buffer.flush()
    now = datetime.now(UTC)
    period = Period(now - timedelta(days=1), now + timedelta(days=days_ahead))
    policies = app.state.assembly.gate.policies
    return await list_figures(graph, policies, app.state.settings, period)


def row(found: ListFigures, dimension: str, name: str) -> Any:
    matches = [r for r in found.rows if (r.dimension, r.name) == (dimension, name)]
    assert len(matches) == 1, (dimension, name, found.rows)
    return matches[0]
