"""Fixtures for a plugin's own tests: a pytest plugin shipped with tightrope (``pytest11``).

Installed with tightrope, pytest loads it by itself; a plugin's test suite
then has, with nothing to import:

``tightrope_graph``
    A real local Neo4j (``tightrope neo4j start`` on ``TIGHTROPE_NEO4J_PORT``,
    default 7688: never a server named by ``NEO4J_URI``, since the graph is
    wiped), emptied and seeded before each test with :data:`SEED`: a small
    shop of 12 products and two customers with purchases and views. Once per
    session, before the first test, it waits until Neo4j answers and sends
    the gateway's statements once (graph/warmup.py): a Neo4j just started
    plans each in seconds, which the first test would otherwise pay for.
``tightrope_plugins``
    The plugin objects (modules) to serve beside the installed ones. Override
    it in your ``conftest.py`` to return your plugin module; a module that is
    installed already (its entry point is found) is not registered twice.
``tightrope_recompute``
    Which strategies' derived data to recompute before each test, as
    ``tightrope recompute`` would: None (the default) for every strategy the
    app serves, yours and the built-ins (the ``trending`` rankings, the
    item-to-item edges ...), or a list of names; ``[]`` for none.
``tightrope_app``
    A :class:`Gateway` over ``tightrope_graph`` with your plugins, its derived
    data recomputed: an HTTP client on the real app, real OAuth tokens with the
    scopes and consents you choose (``await gateway.token("alice",
    ["recommendations:read"], consents=["personalisation"])``), ``await
    gateway.query(document, token=...)``, ``await gateway.track(events,
    token=...)``, which sends events and waits until the app's linking queue
    has linked them, and ``await gateway.recompute(*names)`` to derive again
    after a test changed the graph.

The async fixtures run on pytest-asyncio's session loop; set
``asyncio_default_fixture_loop_scope = "session"`` and
``asyncio_default_test_loop_scope = "session"`` (the scaffold does).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, LiteralString

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.host.collect import linking_service
from gateway.host.manager import load_plugins
from gateway.oauth.clients import register_client
from gateway.oauth.devtokens import dev_token
from gateway.oauth.scopes import ScopeCatalogue
from gateway.settings import load_settings
from gateway.strategies import recompute
from graph import Graph, Neo4jSettings, connect, parse_event, set_consent, write_events
from graph.local import LocalServer
from graph.schema import migrate
from graph.warmup import warm_up
from graph.wipe import wipe

DEFAULT_PORT = "7688"
# How long a Neo4j just started may take to answer its first query.
ANSWER_WITHIN = 120.0

# The seeded shop: sku-01 .. sku-12 (odd: Coats by Northbrook, even: Shoes by
# Fellside; sku-12 out of stock), customers alice and bob.
SEED: LiteralString = """
CREATE (north:Brand {id: 'northbrook', name: 'Northbrook'}),
       (fell:Brand {id: 'fellside', name: 'Fellside'}),
       (coats:Category {id: 'coats', name: 'Coats'}),
       (shoes:Category {id: 'shoes', name: 'Shoes'})
WITH north, fell, coats, shoes
UNWIND range(1, 12) AS i
CREATE (p:Product {sku: 'sku-' + right('0' + toString(i), 2),
                   name: CASE WHEN i % 2 = 1 THEN 'Coat ' ELSE 'Shoe ' END + i,
                   price: 20.0 + i, in_stock: i <> 12})
WITH p, CASE WHEN i % 2 = 1 THEN north ELSE fell END AS brand,
     CASE WHEN i % 2 = 1 THEN coats ELSE shoes END AS category
CREATE (p)-[:OF_BRAND]->(brand)
CREATE (p)-[:IN_CATEGORY]->(category)
WITH count(*) AS made
UNWIND ['alice', 'bob'] AS id
CREATE (:Customer {id: id, created_at: datetime('2026-01-05T09:00:00Z')})
"""
TRACK = """
mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) {
    accepted duplicates rejected { index field message } ignoredSignals { field message }
  }
}
"""
# What alice and bob did: alice bought sku-01 and sku-02 and viewed sku-03 and
# sku-05 on her phone; bob bought sku-01 and sku-04.
EVENTS: tuple[dict[str, str], ...] = (
    {"type": "login", "session_id": "alice-1", "customer_id": "alice", "device_id": "alice-phone"},
    {"type": "purchase", "customer_id": "alice", "sku": "sku-01"},
    {"type": "purchase", "customer_id": "alice", "sku": "sku-02"},
    {"type": "view", "session_id": "alice-1", "sku": "sku-03"},
    {"type": "view", "session_id": "alice-1", "sku": "sku-05"},
    {"type": "login", "session_id": "bob-1", "customer_id": "bob", "device_id": "bob-laptop"},
    {"type": "purchase", "customer_id": "bob", "sku": "sku-01"},
    {"type": "purchase", "customer_id": "bob", "sku": "sku-04"},
)


async def seed(graph: Graph) -> None:
    """Empty the graph and write the seeded shop (:data:`SEED`, :data:`EVENTS`).

    The events are stored and then linked as ``trackEvents`` does (the
    installed identity linkers, under development settings): the sign-ins make
    alice's phone and bob's laptop theirs.
    """
    await wipe(graph)
    await graph.write(SEED)
    events = [
        parse_event({**row, "event_id": f"seed-{i}", "at": f"2026-11-20T10:{i:02d}:00Z"})
        for i, row in enumerate(EVENTS)
    ]
    settings = load_settings(dev_mode=True)
    result = await write_events(graph, events, pii_key=settings.pii_secret())
    linking = linking_service(load_plugins(settings.disabled_plugins), settings)
    await linking.link_written(graph, events, result)


@pytest.fixture(scope="session")
def tightrope_neo4j() -> Neo4jSettings:
    """A local Neo4j for the tests, started unless it runs already (the first start is slow)."""
    # The tests wipe the graph: never reach a server configured for real use.
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        os.environ.pop(name, None)
    port = int(os.environ.setdefault("TIGHTROPE_NEO4J_PORT", DEFAULT_PORT))
    LocalServer(port=port).start(timeout=600)
    return load_settings().neo4j(timeout=30.0)


async def answering(graph: Graph, within: float = ANSWER_WITHIN) -> None:
    """Return once Neo4j answers a query (its Bolt port opens before its database does)."""
    until = time.monotonic() + within
    while not await graph.ping():
        if time.monotonic() > until:
            raise RuntimeError(f"Neo4j did not answer within {within:.0f}s")
        await asyncio.sleep(0.5)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tightrope_graph_session(tightrope_neo4j: Neo4jSettings) -> AsyncIterator[Graph]:
    graph = connect(tightrope_neo4j)
    await answering(graph)
    await migrate(graph)
    # Plans made once here serve every app of the session (Neo4j keeps them).
    await warm_up(graph, load_settings(dev_mode=True).pii_secret())
    yield graph
    await graph.close()


@pytest_asyncio.fixture(loop_scope="session")
async def tightrope_graph(tightrope_graph_session: Graph) -> Graph:
    """The test graph, emptied and seeded (module docstring) before each test."""
    await seed(tightrope_graph_session)
    return tightrope_graph_session


@pytest.fixture
def tightrope_plugins() -> Sequence[object]:
    """The plugins under test; override it to return your plugin module(s)."""
    return ()


@pytest.fixture
def tightrope_recompute() -> Sequence[str] | None:
    """The strategies recomputed before each test: None for all, or their names."""
    return None


def _not_installed(plugins: Iterable[object]) -> list[object]:
    """Plugins whose module no installed entry point loads already."""
    installed = {point.value.split(":")[0] for point in entry_points(group="tightrope")}
    return [p for p in plugins if getattr(p, "__name__", None) not in installed]


@dataclass
class Gateway:
    """The served app, its HTTP client, and real tokens for the seeded customers."""

    app: Starlette
    client: httpx.AsyncClient
    graph: Graph
    _client_id: str | None = None

    async def token(
        self,
        customer: str | None,
        scopes: Iterable[str],
        *,
        consents: Iterable[str] = (),
        withheld: Iterable[str] = (),
    ) -> str:
        """A signed access token of a first-party client for ``customer`` (None: no customer).

        ``consents`` are granted and ``withheld`` refused for that customer first.
        """
        for purpose, granted in [(p, True) for p in consents] + [(p, False) for p in withheld]:
            assert customer is not None, "consents belong to a customer"
            await set_consent(self.graph, customer, purpose, granted, source="api", version="1")
        oauth = self.app.state.oauth
        if self._client_id is None:
            catalogue: ScopeCatalogue = oauth.catalogue
            record, _ = await register_client(
                self.graph,
                catalogue,
                name="plugin tests",
                kind="first_party",
                scopes=catalogue.allowed_for("first_party"),
            )
            self._client_id = record.client_id
        return await dev_token(
            self.graph, oauth, client_id=self._client_id, customer_id=customer, scopes=scopes
        )

    async def track(self, events: Sequence[dict[str, Any]], *, token: str) -> dict[str, Any]:
        """Send events with ``trackEvents`` (the token needs ``events:write``), then wait
        until the app's linking queue has linked them, as it does after the response.

        Events are GraphQL ``EventInput`` objects (``eventId``, ``type``, ``at``,
        ``sessionId``, ``deviceId``, ``sku``, ``customerId``, and the signals
        ``userAgent``, ``network``, ``email``). Returns ``trackEvents``' answer.
        """
        body = await self.query(TRACK, {"events": list(events)}, token=token)
        assert body.get("data") and body["data"]["trackEvents"] is not None, body
        await self.app.state.linking.drain()
        answer: dict[str, Any] = body["data"]["trackEvents"]
        return answer

    async def visit(self, device: str | None = None) -> tuple[str, str]:
        """(device id, session id) from ``startVisit``, as a shopper's browser holds them.

        A customer's own token may name only ids the gateway issued; the shop's
        back end (``token(None, ...)``) may name any it keeps.
        """
        body = await self.query(
            "mutation($d: ID) { startVisit(deviceId: $d) { deviceId sessionId } }", {"d": device}
        )
        started = body["data"]["startVisit"]
        return str(started["deviceId"]), str(started["sessionId"])

    async def recompute(self, *names: str) -> dict[str, str]:
        """Derive data as ``tightrope recompute`` does, for the strategies named (all if
        none): each on its plugin's graph, as consent allows. Their one-line summaries.

        A strategy that fails raises ``tightrope.RecomputeFailed`` naming it,
        once the others have run (the log says why, with its plugin).
        """
        assembly = self.app.state.assembly
        served = assembly.recommendations.strategies
        unknown = sorted(set(names) - set(served))
        if unknown:
            raise KeyError(f"no strategy named {', '.join(unknown)} (known: {', '.join(served)})")
        chosen = [s for name, s in served.items() if not names or name in names]
        done = await recompute(
            chosen, self.graph, False, assembly.graphs.of, assembly.gate.policies
        )
        # A serving process sees a recompute within a second; a test's next query at once.
        assembly.recommendations.aggregates.derived.clear()
        return {result.strategy.name: result.summary for result in done}

    async def query(
        self, document: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """POST a GraphQL document; the answer's JSON (``data`` and any ``errors``)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body


@pytest_asyncio.fixture(loop_scope="session")
async def tightrope_app(
    tightrope_graph: Graph,
    tightrope_plugins: Sequence[object],
    tightrope_recompute: Sequence[str] | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Gateway]:
    """The gateway with the installed plugins and ``tightrope_plugins``, started, its
    derived data recomputed (``tightrope_recompute``)."""
    keys: Path = tmp_path_factory.mktemp("tightrope-keys")
    # The production deadlines (a second for a graph read or a plugin, five for
    # Neo4j to run a query) are for serving; a test machine running a cold
    # Neo4j is sometimes slower, planning a statement the warm-up did not send.
    # The session warmed the graph up already: no second warm-up beside the tests.
    settings = load_settings(
        dev_mode=True,
        oauth_keys_dir=str(keys),
        graph_deadline=20.0,
        plugin_budget_seconds=20.0,
        query_timeout=60.0,
        warm_up=False,
    )
    app = create_app(settings, _not_installed(tightrope_plugins))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            gateway = Gateway(app, c, tightrope_graph)
            if tightrope_recompute is None or tightrope_recompute:
                await gateway.recompute(*(tightrope_recompute or ()))
            yield gateway
