"""The warm-up: the request path's statements sent once, so that Neo4j plans them before users.

A Neo4j just started holds no query plans and little of the store in memory:
its first answer to each statement takes seconds, not milliseconds, and a
gateway that took traffic at once answered its first users UNAVAILABLE (the
soak's first window, 2026-11-30). The gateway therefore runs :func:`warm_up`
at start-up and says it is not ready (``/readyz`` 503) until it has finished.

Reads are sent with keys that match nothing (no product, customer or session
has an id starting with NUL), so nothing personal is read; Neo4j plans a
statement whatever its parameters. Several run at once, which also opens
connections of the driver's pool.

Writes go through a :class:`Rehearsal`: each of its transactions first stages
a product, a customer, a session and one stored event of each type, then runs
the writer, then is rolled back. A write path does not reach its later
statements with keys that match nothing (an event naming no known product is
rejected before anything is merged), and a write path that was never planned
is what answered the soak's first event batches UNAVAILABLE after the reads
were warm (2026-11-30: 30 of its first 600 requests). Nothing staged or
written is ever committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, LiteralString, TypeVar, cast

from neo4j import AsyncManagedTransaction

from graph.access_log import access_log_page, category_use, write_access_records
from graph.catalogue import (
    brands_by_id,
    catalogue_version,
    categories_by_id,
    categories_of_products,
    children_of,
    list_products,
    products_by_sku,
    search_products,
)
from graph.consent import consent_history, consents_of_customers, set_consent
from graph.contacts import CONTACTS_BY_ID
from graph.customers import (
    customers_by_id,
    devices_by_id,
    devices_of_customers,
    links_between,
    sessions_by_id,
)
from graph.driver import Graph, Params
from graph.erasure import erase_customer, is_erased
from graph.export import export_customer
from graph.history import (
    CartKey,
    PurchasesKey,
    ViewsKey,
    carts_of_customers,
    carts_of_sessions,
    purchases_of_customers,
    views_of_customers,
    views_of_sessions,
)
from graph.ingest import write_events
from graph.insights.served import erase_served, export_served
from graph.journey import journey_of
from graph.link_evidence import (
    customers_with_email,
    device_facts,
    network_peers,
    popularity,
    products_of_customers,
    products_of_devices,
    session_devices,
)
from graph.links import (
    LinkState,
    LinkWrite,
    SignalRow,
    apply_links,
    drop_links,
    record_signals,
    unlink,
)
from graph.model import Event
from graph.oauth.customers import customer_exists
from graph.oauth.families import live_family, revocation_clock
from graph.oauth.grants import list_grants, revoke_grant
from graph.oauth.refresh import claim_refresh, get_refresh, save_refresh
from graph.operations import client_operations
from graph.privacy import data_held
from graph.recs import (
    ProfileKey,
    derived_version,
    profile_of,
    ranking_kinds,
    rankings_of,
    related_of,
)
from graph.shared_reads import SHARED_READS
from graph.suggestions import confirm_device, reject_device, suggestions_of_customers

NOBODY = "\x00warm-up"  # an id nothing in the graph has
STORED = "\x00warm-up-stored"  # the staged events' id: sent again, it takes the resend path
AT_ONCE = 4  # statements in flight together (and connections opened)
AT = datetime(2000, 1, 1, tzinfo=UTC)  # the time every warm-up key and event carries

Step = Callable[[Graph], Awaitable[object]]
T = TypeVar("T")

# Answers of every kind of value the request path returns (a read that
# matches nothing sends none, and Neo4j's code that writes them out is then
# first run for a user), without reading anyone's data.
VALUES: LiteralString = """
UNWIND range(1, $rows) AS i
RETURN i, toString(i) AS text, i / 3.0 AS number, i % 2 = 0 AS flag, datetime() AS at,
       [toString(i), 'x'] AS texts, {i: i, text: toString(i)} AS map
"""

# What every rehearsed transaction starts from (and rolls back with the rest).
STAGE: LiteralString = """
CREATE (p:Product {sku: $id, name: $id, price: 0.0})
CREATE (c:Customer {id: $id})
CREATE (d:Device {id: $id})
CREATE (s:Session {id: $id})-[:ON]->(d)
CREATE (s)-[:SIGNED_IN_AS {event_id: $stored, at: datetime()}]->(c)
CREATE (s)-[:VIEWED {event_id: $stored, at: datetime()}]->(p)
CREATE (s)-[:ADDED_TO_CART {event_id: $stored, at: datetime()}]->(p)
CREATE (c)-[:PURCHASED {event_id: $stored, at: datetime(), qty: 1, price: 0.0}]->(p)
"""


class _RolledBack(Exception):
    """Carries a rehearsed transaction's answer out of it, so that it is rolled back."""

    def __init__(self, answer: object) -> None:
        super().__init__("rehearsal")
        self.answer = answer


class Rehearsal(Graph):
    """A Graph on another's driver whose write transactions are all rolled back.

    Each starts by staging ``STAGE``, so a writer given events about ``NOBODY``
    goes down its whole path: devices and sessions merged, sessions locked,
    events created, ids already stored looked up, tombstones read.
    """

    def __init__(self, graph: Graph) -> None:
        super().__init__(
            graph.driver,
            graph.database,
            graph.query_timeout,
            deadline=graph.deadline,
            write_deadline=graph.write_deadline,
            retry_time=graph.retry_time,
        )
        # What it sends is planned for ``graph``'s requests too.
        self.statements = graph.statements

    async def write_tx(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        async def rehearsed(tx: AsyncManagedTransaction) -> T:
            await (await tx.run(STAGE, id=NOBODY, stored=STORED)).consume()
            raise _RolledBack(await work(tx))

        try:
            await super().write_tx(rehearsed)
        except _RolledBack as done:
            return cast(T, done.answer)
        raise AssertionError("a rehearsed transaction always rolls back")

    async def read(
        self, query: LiteralString, params: Params | None = None
    ) -> list[dict[str, Any]]:
        """The read in a rehearsed transaction, so that it finds the staged customer.

        Neo4j plans a statement the same in a read or a write transaction.
        """
        return await self.write(query, params)


def _rehearsed_events() -> list[Event]:
    """One new event of each type and one resent (the staged one's id), all about NOBODY."""
    events = []
    for event_id in (NOBODY, STORED):
        events += [
            Event(event_id, "login", AT, NOBODY, NOBODY, customer_id=NOBODY),
            Event(event_id, "view", AT, NOBODY, NOBODY, sku=NOBODY),
            Event(event_id, "add_to_cart", AT, NOBODY, NOBODY, sku=NOBODY),
            Event(event_id, "purchase", AT, customer_id=NOBODY, sku=NOBODY, qty=1),
        ]
    return events


def _steps(pii_key: str) -> list[Step]:
    return [
        lambda g: products_by_sku(g, [NOBODY]),
        lambda g: list_products(g, 1, after=NOBODY),
        lambda g: list_products(g, 1, after=NOBODY, brand_id=NOBODY),
        lambda g: categories_of_products(g, [NOBODY]),
        lambda g: brands_by_id(g, [NOBODY]),
        catalogue_version,
        lambda g: customers_by_id(g, [NOBODY]),
        lambda g: customer_exists(g, NOBODY),
        lambda g: live_family(g, NOBODY, int(time.time())),
        revocation_clock,
        lambda g: consents_of_customers(g, [NOBODY]),
        lambda g: purchases_of_customers(g, [PurchasesKey(NOBODY, 1)]),
        lambda g: views_of_customers(g, [ViewsKey(NOBODY, 1)]),
        lambda g: views_of_sessions(g, [ViewsKey(NOBODY, 1)]),
        lambda g: carts_of_customers(g, [CartKey(NOBODY, AT, 1)]),
        # The one statement a planned request's first reads share (graph/together.py),
        # whichever of its parts the request reads.
        lambda g: g.read(SHARED_READS.statement, SHARED_READS.params({})),
        lambda g: devices_of_customers(g, [NOBODY]),
        lambda g: sessions_by_id(g, [NOBODY]),
        lambda g: profile_of(
            g, ProfileKey(NOBODY, None, purchases=True, preferences=True, browsing=True)
        ),
        lambda g: profile_of(g, ProfileKey(None, NOBODY, browsing=True)),
        lambda g: related_of(g, [(NOBODY, NOBODY)], 1),
        lambda g: rankings_of(g, [(NOBODY, NOBODY)], 1),
        ranking_kinds,
        derived_version,
        lambda g: get_refresh(g, NOBODY),
        lambda g: claim_refresh(g, NOBODY, 0),
        lambda g: save_refresh(Rehearsal(g), NOBODY, NOBODY, 0, 0),
        lambda g: write_events(Rehearsal(g), _rehearsed_events(), pii_key=pii_key),
        lambda g: write_events(
            Rehearsal(g), _rehearsed_events(), pii_key=pii_key, as_customer=NOBODY
        ),
        lambda g: write_access_records(g, []),
        # Linking, which runs after each event batch (gateway/linking).
        lambda g: session_devices(g, [NOBODY]),
        lambda g: device_facts(g, [NOBODY]),
        lambda g: network_peers(g, NOBODY, AT, 16),
        lambda g: products_of_devices(g, [NOBODY], AT, 10),
        lambda g: products_of_customers(g, [NOBODY], AT, 10, [NOBODY], True),
        lambda g: popularity(g, [NOBODY]),
        lambda g: customers_with_email(g, [NOBODY]),
        lambda g: record_signals(
            Rehearsal(g), [SignalRow(NOBODY, NOBODY, NOBODY, "phone", AT, AT)]
        ),
        lambda g: apply_links(Rehearsal(g), [NOBODY], [NOBODY], _link_nobody),
        lambda g: apply_links(Rehearsal(g), [NOBODY], [NOBODY], _suggest_nobody),
        lambda g: g.read(VALUES, {"rows": 50}),
        _catalogue,
        # The rest of the catalogue: categories and their children, the search.
        lambda g: categories_by_id(g, [NOBODY]),
        lambda g: children_of(g, [NOBODY]),
        lambda g: search_products(g, "warm-up", 1),
        lambda g: search_products(g, "warm-up", 1, brand_id=NOBODY, category_id=NOBODY),
        # A client's registered operations, read for each token's client
        # (gateway/graphql/operations.py).
        lambda g: client_operations(g, NOBODY),
        # What a customer reads of their own: devices and links, the basket of a
        # visit, consents, apps, the access log, what is held, the export (read
        # in a rehearsal, which holds a customer: these stop early without one).
        lambda g: devices_by_id(g, [NOBODY]),
        lambda g: links_between(g, [(NOBODY, NOBODY)]),
        lambda g: journey_of(Rehearsal(g), NOBODY, 1, 1.0),
        lambda g: carts_of_sessions(g, [CartKey(NOBODY, AT, 1)]),
        lambda g: g.read(CONTACTS_BY_ID, {"ids": [NOBODY]}),  # no contact: nothing to open
        lambda g: consent_history(g, NOBODY, 1),
        lambda g: consent_history(g, NOBODY, 1, purpose="personalisation"),
        lambda g: list_grants(g, NOBODY),
        lambda g: access_log_page(g, NOBODY, 1),
        lambda g: access_log_page(g, NOBODY, 1, after_at=AT, after_id=NOBODY),
        lambda g: category_use(g, NOBODY),
        lambda g: data_held(Rehearsal(g), NOBODY),
        lambda g: export_customer(Rehearsal(g), NOBODY),
        lambda g: export_served(Rehearsal(g), NOBODY),
        lambda g: is_erased(g, NOBODY, pii_key),
        # ... and what they change: a consent, an app's grant, a device's link,
        # the guessed links, and the erasure itself (all rolled back).
        lambda g: set_consent(
            Rehearsal(g), NOBODY, "personalisation", True, source="api", version="warm-up"
        ),
        lambda g: revoke_grant(Rehearsal(g), NOBODY, NOBODY, 0),
        lambda g: unlink(Rehearsal(g), NOBODY, NOBODY, AT),
        lambda g: suggestions_of_customers(g, [NOBODY]),
        lambda g: confirm_device(Rehearsal(g), NOBODY, NOBODY, AT, "warm-up", ["login"]),
        lambda g: reject_device(Rehearsal(g), NOBODY, NOBODY, AT),
        lambda g: drop_links(Rehearsal(g), NOBODY, ["sign_in"]),
        lambda g: erase_customer(Rehearsal(g), NOBODY, pii_key),
        lambda g: erase_served(Rehearsal(g), NOBODY),
    ]


def _link_nobody(state: LinkState) -> list[LinkWrite]:
    return [LinkWrite(NOBODY, NOBODY, "sign_in", 1.0, AT, (), (), "warm-up", AT)]


def _suggest_nobody(state: LinkState) -> list[LinkWrite]:
    return [LinkWrite(NOBODY, NOBODY, "guess", 0.6, AT, (), (), "warm-up", AT, suggest=True)]


async def _catalogue(graph: Graph) -> None:
    """A page of the real catalogue (nobody's personal data), its brands and categories."""
    page = await list_products(graph, 50)
    skus = [product.sku for product in page.products]
    await products_by_sku(graph, skus)
    await categories_of_products(graph, skus)
    await brands_by_id(graph, sorted({p.brand_id for p in page.products if p.brand_id}))


async def warm_up(graph: Graph, pii_key: str, *, at_once: int = AT_ONCE) -> float:
    """Send every step once (``at_once`` at a time); return the seconds it took.

    A step that fails raises (GraphUnavailable when Neo4j is down or slow):
    the caller tries again later.
    """
    began = time.perf_counter()
    steps = _steps(pii_key)
    gate = asyncio.Semaphore(at_once)

    async def one(step: Step) -> None:
        async with gate:
            await step(graph)

    await asyncio.gather(*(one(step) for step in steps))
    return time.perf_counter() - began
