"""Fixtures for the gateway: an app served over HTTP (in process) and a small catalogue."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from gateway import ANONYMOUS, ClientKind, Principal, create_app
from gateway.gate.ids import VisitIds
from gateway.host import collect
from gateway.host.manager import load_plugins
from gateway.linking import LinkingService
from gateway.settings import Settings, load_settings
from graph import Contact, Event, Graph, WriteResult, parse_event, set_consent, write_events
from graph.sealed import seal_contact
from tests.conftest import TEST_DATA_KEYS, TEST_PII_KEY

CATALOGUE = """
CREATE (acme:Brand {id: 'acme', name: 'Acme'}), (zen:Brand {id: 'zen', name: 'Zen'})
CREATE (women:Category {id: 'women', name: 'Women'}),
       (shoes:Category {id: 'shoes', name: 'Shoes'})-[:PARENT]->(women),
       (coats:Category {id: 'coats', name: 'Coats'})-[:PARENT]->(women),
       (home:Category {id: 'home', name: 'Home'})
WITH acme, zen, shoes, coats, home
UNWIND range(1, $n) AS i
WITH i, CASE WHEN i % 2 = 0 THEN 'Trail Runner ' ELSE 'Wool Coat ' END + i AS name,
     CASE WHEN i % 3 = 0 THEN zen ELSE acme END AS b,
     CASE WHEN i % 2 = 0 THEN shoes ELSE coats END AS c, home
CREATE (p:Product {sku: 'sku-' + right('000' + toString(i), 3), name: name,
                   price: 10.0 + i, in_stock: i % 5 <> 0})
CREATE (p)-[:OF_BRAND]->(b)
CREATE (p)-[:IN_CATEGORY]->(c)
FOREACH (_ IN CASE WHEN i % 10 = 0 THEN [1] ELSE [] END | CREATE (p)-[:IN_CATEGORY]->(home))
"""

PEOPLE = """
CREATE (c:Customer {id: 'c1', created_at: datetime('2025-01-02T03:04:05Z')})
CREATE (d:Device {id: 'd1', kind: 'mobile', ua_family: 'Safari',
                  first_seen: datetime('2025-02-01T00:00:00Z'),
                  last_seen: datetime('2025-03-01T00:00:00Z')})-[:USED_BY]->(c)
CREATE (:Session {id: 's1', started_at: datetime('2025-03-01T00:00:00Z'), channel: 'web'})
       -[:ON]->(d)
"""


async def grant(graph: Graph, customer: str, *purposes: str, granted: bool = True) -> None:
    """Record the customer's answer for each purpose, as the API would store it."""
    for purpose in purposes:
        await set_consent(graph, customer, purpose, granted, source="api", version="test")


async def seed(graph: Graph, products: int = 60) -> None:
    await graph.write(CATALOGUE, {"n": products})
    await graph.write(PEOPLE)
    # c1's contact details, sealed as `tightrope load` seals them.
    sealed = seal_contact(Contact("c1@example.test", "Cee One"), "c1", TEST_DATA_KEYS)
    await graph.write("MATCH (c:Customer {id: 'c1'}) SET c.contact_enc = $s", {"s": sealed})


@pytest.fixture
async def demo_graph(clean_graph: Graph) -> Graph:
    """The test graph holding 60 products, 2 brands, 4 categories, one customer."""
    await seed(clean_graph)
    return clean_graph


ANA = "ana"


@pytest.fixture
async def ana(demo_graph: Graph) -> Graph:
    """The demo graph plus Ana: her phone, a signed-in visit with a view, a purchase.

    She has answered no consent yet.
    """
    await demo_graph.write(
        "CREATE (:Customer {id: $id, created_at: datetime('2025-05-01T00:00:00Z')})",
        {"id": ANA},
    )
    rows = [
        {"type": "login", "session_id": "ana-1", "customer_id": ANA, "device_id": "ana-phone"},
        {"type": "view", "session_id": "ana-1", "sku": "sku-001"},
        {"type": "purchase", "customer_id": ANA, "sku": "sku-002"},
    ]
    events = [
        parse_event({**row, "event_id": f"ana-{i}", "at": f"2026-11-20T10:0{i}:00Z"})
        for i, row in enumerate(rows)
    ]
    assert (await write_and_link(demo_graph, events)).rejected == []
    return demo_graph


_TEST_KEYS = tempfile.mkdtemp(prefix="tightrope-test-keys-")

# Device and session ids as the test apps issue them (startVisit), for tests
# that store a visit a shopper's browser then names (gateway/gate/ids.py).
ISSUED = VisitIds(TEST_PII_KEY)

# A customer's token names only ids the gateway issued (gateway/gate/ids.py):
# these stand for what shoppers' browsers got from startVisit, by name.
_issued_devices: dict[str, str] = {}
_issued_sessions: dict[str, str] = {}


def device(name: str) -> str:
    return _issued_devices.setdefault(name, ISSUED.new_device())


def session(name: str, on: str | None = None) -> str:
    """An issued session id, of the device named ``on`` (by default its own name's)."""
    return _issued_sessions.setdefault(name, ISSUED.new_session(device(on or f"{name}-device")))


def visit(name: str) -> dict[str, str]:
    """The ids an event of the visit ``name`` carries."""
    return {"sessionId": session(name), "deviceId": device(f"{name}-device")}


def settings_for_tests(**overrides: Any) -> Settings:
    overrides.setdefault("dev_mode", True)
    # The deadlines that cut off a hung Neo4j or plugin are for production: on
    # a shared machine running several suites a read now and then takes longer
    # than a second. The tests of those deadlines set their own.
    overrides.setdefault("graph_deadline", 20.0)
    overrides.setdefault("plugin_budget_seconds", 20.0)
    # The warm-up (gateway/web/readiness.py) would send queries beside the tests'
    # requests and upset the ones that count round trips; its own tests turn it on.
    overrides.setdefault("warm_up", False)
    # Signing keys of test apps live in a throwaway directory, not the user's.
    overrides.setdefault("oauth_keys_dir", _TEST_KEYS)
    if not overrides["dev_mode"]:
        # Served outside dev mode, a gateway needs its public URL: the test client's.
        overrides.setdefault("oauth_issuer", "http://gateway")
    return load_settings(**overrides)


# Tests of the core API stand in for OAuth with this header: it names the
# customer and grants every declared scope (the gate counts none of the back
# office's for a customer). It exists only in the tests' authenticate
# function, never in the served app.
TEST_CUSTOMER_HEADER = "X-Test-Customer"
# Named as the customer, this stands for the back office and the shop's own
# back end: a first-party service's token with every scope and no customer,
# which names the device and session ids it vouches for.
BACK_OFFICE = "back-office"


async def authenticate_for_tests(request: Request) -> Principal:
    customer = request.headers.get(TEST_CUSTOMER_HEADER)
    scopes = request.app.state.registry.scope_names
    if not customer:
        return ANONYMOUS
    if customer == BACK_OFFICE:
        return Principal("test-back-office", ClientKind.FIRST_PARTY, None, scopes)
    return Principal("test-client", ClientKind.FIRST_PARTY, customer, scopes)


@asynccontextmanager
async def serve(
    settings: Settings | None = None, plugins: Iterable[object] = (), **kwargs: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app with its lifespan running, and an HTTP client talking to it."""
    kwargs.setdefault("authenticate", authenticate_for_tests)
    app = create_app(settings or settings_for_tests(), plugins, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield app, client


Serve = Callable[..., AbstractAsyncContextManager[tuple[Starlette, httpx.AsyncClient]]]


@pytest.fixture
def served() -> Serve:
    return serve


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    customer: str | None = None,
    back_end: bool = False,
) -> dict[str, Any]:
    """POST a GraphQL request; ``customer`` names the test principal's customer, and
    ``back_end`` makes it the shop's own services (no customer)."""
    if back_end:
        customer = BACK_OFFICE
    headers = {TEST_CUSTOMER_HEADER: customer} if customer else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


_LINKING: list[LinkingService] = []


def linking_service() -> LinkingService:
    """The installed plugins' linkers under the tests' settings (built once)."""
    if not _LINKING:
        _LINKING.append(collect.linking_service(load_plugins(), settings_for_tests()))
    return _LINKING[0]


async def write_and_link(graph: Graph, events: Sequence[Event]) -> WriteResult:
    """Store events as trackEvents does, then link them as its queue does afterwards."""
    result = await write_events(graph, events, pii_key=TEST_PII_KEY)
    await linking_service().link_written(graph, events, result)
    return result
