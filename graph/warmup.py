"""The warm-up: the request path's statements sent once, so that Neo4j plans them before users.

A Neo4j just started holds no query plans and little of the store in memory:
its first answer to each statement takes seconds, not milliseconds, and a
gateway that took traffic at once answered its first users UNAVAILABLE (the
soak's first window, 2026-11-30). The gateway therefore runs :func:`warm_up`
at start-up and says it is not ready (``/readyz`` 503) until it has finished.

Every statement is sent with keys that match nothing (no product, customer or
session has an id starting with NUL), so nothing is written and nothing
personal is read; Neo4j plans a statement whatever its parameters. Several run
at once, which also opens connections of the driver's pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from graph.access_log import write_access_records
from graph.catalogue import (
    brands_by_id,
    catalogue_version,
    categories_of_products,
    list_products,
    products_by_sku,
)
from graph.consent import consents_of_customers
from graph.customers import customers_by_id, devices_of_customers, sessions_by_id
from graph.driver import Graph
from graph.history import (
    CartKey,
    PurchasesKey,
    ViewsKey,
    carts_of_customers,
    purchases_of_customers,
    views_of_customers,
    views_of_sessions,
)
from graph.ingest import write_events
from graph.model import Event
from graph.oauth.customers import customer_exists
from graph.oauth.families import live_family, revocation_clock
from graph.recs import ProfileKey, derived_version, profile_of, rankings_of, related_of

NOBODY = "\x00warm-up"  # an id nothing in the graph has
AT_ONCE = 4  # statements in flight together (and connections opened)

Step = Callable[[Graph], Awaitable[object]]


def _steps(pii_key: str) -> list[Step]:
    at = datetime(2000, 1, 1, tzinfo=UTC)
    # A view of a product that does not exist: the writer rejects it after
    # planning its checks, and writes nothing.
    event = Event(NOBODY, "view", at, session_id=NOBODY, sku=NOBODY)
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
        lambda g: carts_of_customers(g, [CartKey(NOBODY, at, 1)]),
        lambda g: devices_of_customers(g, [NOBODY]),
        lambda g: sessions_by_id(g, [NOBODY]),
        lambda g: profile_of(
            g, ProfileKey(NOBODY, None, purchases=True, preferences=True, browsing=True)
        ),
        lambda g: profile_of(g, ProfileKey(None, NOBODY, browsing=True)),
        lambda g: related_of(g, [(NOBODY, NOBODY)], 1),
        lambda g: rankings_of(g, [(NOBODY, NOBODY)], 1),
        derived_version,
        lambda g: write_events(g, [event], pii_key=pii_key),
        lambda g: write_access_records(g, []),
    ]


async def warm_up(graph: Graph, pii_key: str) -> float:
    """Send every step once (AT_ONCE at a time); return the seconds it took.

    A step that fails raises (GraphUnavailable when Neo4j is down or slow):
    the caller tries again later.
    """
    began = time.perf_counter()
    steps = _steps(pii_key)
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(step: Step) -> None:
        async with gate:
            await step(graph)

    await asyncio.gather(*(one(step) for step in steps))
    return time.perf_counter() - began
