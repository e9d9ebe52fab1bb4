"""Constraints and indexes of the graph, applied idempotently.

Every statement uses ``IF NOT EXISTS``, so ``tightrope graph migrate`` can run on
every start. Plugins add their own statements through the ``graph_constraints``
hook; the gateway passes them in as ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import LiteralString

from graph.driver import Graph
from graph.erasure import STATEMENTS as ERASURE_STATEMENTS
from graph.households import STATEMENTS as HOUSEHOLD_STATEMENTS
from graph.insights import STATEMENTS as INSIGHTS_STATEMENTS
from graph.oauth import STATEMENTS as OAUTH_STATEMENTS
from graph.operations import STATEMENTS as OPERATION_STATEMENTS
from graph.retention import STATEMENTS as RETENTION_STATEMENTS

NODE_KEYS: tuple[tuple[LiteralString, LiteralString], ...] = (
    ("Customer", "id"),
    ("Device", "id"),
    ("Session", "id"),
    ("Product", "sku"),
    ("Brand", "id"),
    ("Category", "id"),
    ("Purpose", "name"),
    ("Client", "client_id"),
    ("Order", "id"),
    ("Network", "id"),
)

# Event relationships carry the client-chosen event id; uniqueness makes a
# retried batch store nothing twice even if two writers race.
EVENT_TYPES: tuple[LiteralString, ...] = ("VIEWED", "ADDED_TO_CART", "PURCHASED", "SIGNED_IN_AS")

STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT customer_id IF NOT EXISTS FOR (n:Customer) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT device_id IF NOT EXISTS FOR (n:Device) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT session_id IF NOT EXISTS FOR (n:Session) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT product_sku IF NOT EXISTS FOR (n:Product) REQUIRE n.sku IS UNIQUE",
    "CREATE CONSTRAINT brand_id IF NOT EXISTS FOR (n:Brand) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT category_id IF NOT EXISTS FOR (n:Category) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT purpose_name IF NOT EXISTS FOR (n:Purpose) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT client_id IF NOT EXISTS FOR (n:Client) REQUIRE n.client_id IS UNIQUE",
    # A network is known only by the keyed hash of its prefix (graph/links.py).
    "CREATE CONSTRAINT network_id IF NOT EXISTS FOR (n:Network) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT access_record_id IF NOT EXISTS FOR (n:AccessRecord) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT catalogue_version_id IF NOT EXISTS "
    "FOR (n:CatalogueVersion) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT viewed_event IF NOT EXISTS "
    "FOR ()-[r:VIEWED]-() REQUIRE r.event_id IS UNIQUE",
    "CREATE CONSTRAINT cart_event IF NOT EXISTS "
    "FOR ()-[r:ADDED_TO_CART]-() REQUIRE r.event_id IS UNIQUE",
    "CREATE CONSTRAINT purchase_event IF NOT EXISTS "
    "FOR ()-[r:PURCHASED]-() REQUIRE r.event_id IS UNIQUE",
    "CREATE CONSTRAINT signin_event IF NOT EXISTS "
    "FOR ()-[r:SIGNED_IN_AS]-() REQUIRE r.event_id IS UNIQUE",
    "CREATE INDEX customer_email IF NOT EXISTS FOR (n:Customer) ON (n.email_hmac)",
    "CREATE INDEX product_brand IF NOT EXISTS FOR (n:Product) ON (n.brand_id)",
    "CREATE FULLTEXT INDEX product_search IF NOT EXISTS FOR (n:Product) ON EACH [n.name]",
)

# Every constraint is backed by an index of the same name, so one listing shows all.
SHOW_SCHEMA: LiteralString = "SHOW INDEXES YIELD name RETURN name"


# The name a statement gives its constraint or index ("CREATE [kind] CONSTRAINT|INDEX name").
_NAMED = re.compile(r"^\s*CREATE\s+(?:\w+\s+)?(?:CONSTRAINT|INDEX)\s+(\w+)", re.IGNORECASE)


def _all(extra: Iterable[LiteralString]) -> tuple[LiteralString, ...]:
    return (
        *STATEMENTS,
        *OAUTH_STATEMENTS,
        *OPERATION_STATEMENTS,
        *ERASURE_STATEMENTS,
        *RETENTION_STATEMENTS,
        *HOUSEHOLD_STATEMENTS,
        *INSIGHTS_STATEMENTS,
        *extra,
    )


def expected_names(extra: Iterable[LiteralString] = ()) -> list[str]:
    """The names of the constraints and indexes :func:`migrate` creates (``extra``'s too)."""
    names = (_NAMED.match(statement) for statement in _all(extra))
    return sorted({match.group(1) for match in names if match})


async def missing_schema(graph: Graph, extra: Iterable[LiteralString] = ()) -> list[str]:
    """The constraints and indexes :func:`migrate` would create that the graph lacks.

    Without them every MERGE on those labels scans the label: on a graph of any
    size the request path misses its deadline (the gateway checks at start-up).
    """
    present = {row["name"] for row in await graph.read(SHOW_SCHEMA)}
    return [name for name in expected_names(extra) if name not in present]


async def migrate(graph: Graph, extra: Iterable[LiteralString] = ()) -> list[str]:
    """Apply every constraint and index; return the names present afterwards."""
    for statement in _all(extra):
        await graph.write(statement)
    await graph.write("CALL db.awaitIndexes(300)")
    # The catalogue version caches compare (graph/catalogue.py) starts at 0.
    await graph.write("MERGE (v:CatalogueVersion {id: 'catalogue'}) ON CREATE SET v.value = 0")
    return sorted(row["name"] for row in await graph.read(SHOW_SCHEMA))
