"""What the linking tests share: shoppers' devices and networks, and sending their events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from gateway import CROSS_DEVICE, ClientKind, DataCategory, Manifest, Principal, hookimpl
from gateway.linking import LinkReport
from graph import Graph, set_consent
from tests.gateway.conftest import TEST_CUSTOMER_HEADER

NOW = datetime.now(UTC).replace(microsecond=0)
HOME = "81.2.69.142"  # a household's address (its /24 is the network)
HOME_2 = "81.2.69.77"  # the same household's network, another address
OTHER_HOME = "151.101.1.69"
CAFE = "93.184.216.34"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

TRACK = """
mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) {
    accepted duplicates rejected { index field message }
    ignoredSignals { index eventId field message }
  }
}
"""

_ids = itertools.count(1)


class DeclaresLinking:
    """A test plugin's manifest: linking (``cross_device``) on device data, as its linkers do."""

    @hookimpl
    def plugin_manifest(self) -> Manifest:
        return Manifest(
            purposes=frozenset({CROSS_DEVICE}), categories=frozenset({DataCategory.DEVICE})
        )


def at(minutes: float) -> str:
    """A time ``minutes`` after an hour ago (so everything is recent and in order)."""
    return (NOW - timedelta(hours=1) + timedelta(minutes=minutes)).isoformat()


def view(device: str, session: str, sku: str, minutes: float, **signals: Any) -> dict[str, Any]:
    return {
        "eventId": f"v{next(_ids)}",
        "type": "VIEW",
        "at": at(minutes),
        "sessionId": session,
        "deviceId": device,
        "sku": sku,
        **signals,
    }


def login(
    device: str, session: str, customer: str, minutes: float, **signals: Any
) -> dict[str, Any]:
    return {
        "eventId": f"l{next(_ids)}",
        "type": "LOGIN",
        "at": at(minutes),
        "sessionId": session,
        "deviceId": device,
        "customerId": customer,
        **signals,
    }


async def as_shop_or_customer(request: Request) -> Principal:
    """A customer's token (X-Test-Customer), else the retailer's own back end: every scope."""
    customer = request.headers.get(TEST_CUSTOMER_HEADER) or None
    scopes = request.app.state.registry.scope_names
    return Principal("test-client", ClientKind.FIRST_PARTY, customer, scopes)


async def track(
    app: Starlette,
    client: httpx.AsyncClient,
    events: list[dict[str, Any]],
    customer: str | None = None,
) -> dict[str, Any]:
    """Send events, then wait until the background queue linked them."""
    headers = {TEST_CUSTOMER_HEADER: customer} if customer else {}
    answer = await client.post(
        "/graphql", json={"query": TRACK, "variables": {"events": events}}, headers=headers
    )
    body: dict[str, Any] = answer.json()
    assert "data" in body and body["data"]["trackEvents"] is not None, body
    await app.state.linking.drain()
    result: dict[str, Any] = body["data"]["trackEvents"]
    return result


async def add_customers(graph: Graph, *ids: str, consenting: bool | None = True) -> None:
    """Customers, with their cross_device consent granted, refused (False) or never asked (None)."""
    await graph.write(
        """
        UNWIND $ids AS id
        CREATE (c:Customer {id: id, created_at: datetime('2025-01-01T00:00:00Z')})
        """,
        {"ids": list(ids)},
    )
    if consenting is not None:
        for customer in ids:
            await set_consent(
                graph, customer, "cross_device", consenting, source="api", version="test"
            )


async def links(graph: Graph) -> set[tuple[str, str, str]]:
    """Every link the graph holds, as (device, customer, method)."""
    rows = await graph.read(
        "MATCH (d:Device)-[u:USED_BY]->(c:Customer) RETURN d.id AS d, c.id AS c, u.method AS m"
    )
    return {(r["d"], r["c"], r["m"]) for r in rows}


def reports(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> list[LinkReport]:
    """What each batch the app links from now on did, proposal by proposal.

    The queue itself keeps counts only (gateway/linking/queue.py): a test that
    reads the outcomes collects them here, for the life of its app alone.
    """
    found: list[LinkReport] = []
    service = app.state.linking.service
    link = service.link

    async def recorded(*args: Any, **kwargs: Any) -> LinkReport:
        report: LinkReport = await link(*args, **kwargs)
        found.append(report)
        return report

    monkeypatch.setattr(service, "link", recorded)
    return found
