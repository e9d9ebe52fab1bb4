"""Reads of what people did: purchases, views and carts, for customers and sessions.

Every function takes many keys at once so that a DataLoader can answer a whole
request with one query per kind. A key carries its own page size (and, for
carts, the start of the window) because one request may ask for different
sizes; Cypher does not allow a LIMIT that depends on a row, so each list is
sorted, collected and sliced per key instead. That costs nothing extra for
views and carts, which must aggregate all of a key's events to keep the newest
per product anyway, and little for purchases, whose number per customer is small.

A customer's browsing is that of their own sessions (graph/sessions.py, the
one rule): those signed in as them, and the anonymous ones on devices that
are theirs alone. A shared device (a family's laptop, or a device id an
attacker has replayed in a login of their own) shows nobody its anonymous
visits, and a session signed in as someone else is never theirs. A guessed
link below ``min_confidence`` is left out: a probabilistic link ("same IP
prefix and browser") may be a household member's tablet, whose browsing is
not the customer's. A link without a recorded confidence counts as certain;
both write paths (the linkers, the loader) always record one.

Timestamps are compared with ``<`` and ``>`` only: Neo4j orders ``DateTime``
values by instant, but ``=`` between two offsets of the same instant is false.

Nothing is invented: a purchase stored without a quantity or a price answers
None for it (not 1, not the product's price today, not 0). An event stored
without a time (tightrope's writers never store one) cannot be placed in a list
ordered by time, and is left out rather than dated 1970.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString, TypeVar

from graph.batch import many_per_key
from graph.catalogue import PRODUCT_FIELDS, PRODUCT_ROW, product_from_row
from graph.customers import to_datetime
from graph.driver import Graph, reads
from graph.model import Product
from graph.sessions import OWN_SESSIONS, SESSION_OWNER
from graph.together import NOTHING, Part, read_part

# A cart part's key that matches nothing carries a time of the same type as a real one's.
EPOCH = "1970-01-01T00:00:00+00:00"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Purchase:
    """One order line: (:Customer)-[:PURCHASED]->(:Product)."""

    product: Product
    at: datetime
    qty: int | None
    price: float | None  # the unit price paid
    order_id: str  # a one-line order's id is its event's (docs/data.md)
    event_id: str


@dataclass(frozen=True, slots=True)
class PurchasePage:
    purchases: tuple[Purchase, ...]
    has_next: bool


@dataclass(frozen=True, slots=True)
class ViewedProduct:
    """A product someone viewed, with the last time they viewed it."""

    product: Product
    viewed_at: datetime


@dataclass(frozen=True, slots=True)
class CartItem:
    """A product in a basket, with the last time it was added."""

    product: Product
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PurchasesKey:
    """A page of a customer's purchases, newest first, after the purchase at (at, event_id)."""

    customer_id: str
    first: int
    after_at: datetime | None = None
    after_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ViewsKey:
    """The ``limit`` most recently viewed products of a customer or a session."""

    id: str
    limit: int
    min_confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class CartKey:
    """The basket of a customer or a session: adds since ``since``, not bought after."""

    id: str
    since: datetime
    limit: int
    min_confidence: float = 1.0


# -- Cypher ---------------------------------------------------------------------

# The sessions that count as one customer's (graph/sessions.py), for a row
# holding `c` and `k`.
_CUSTOMER_SESSIONS: LiteralString = (
    """
  WITH c, k, k.min_confidence AS min_confidence"""
    + OWN_SESSIONS
)

# The keyset condition is written with < and > only (see the module docstring).
# A part (graph/together.py): a customer's purchases can share a request's exchange.
PURCHASES_OF_CUSTOMERS = Part(
    "purchases_of_customers",
    """UNWIND keys AS k
CALL (k) {
  MATCH (:Customer {id: k.id})-[r:PURCHASED]->(p:Product)
  WHERE r.at IS NOT NULL
    AND (k.after_at IS NULL
         OR r.at < datetime(k.after_at)
         OR (NOT r.at > datetime(k.after_at) AND r.event_id < k.after_event_id))
  WITH k.limit AS lim, r, p ORDER BY r.at DESC, r.event_id DESC
  WITH lim, collect({r: r, p: p}) AS lines
  UNWIND lines[..lim] AS line
  RETURN line.r AS r, line.p AS p
}
WITH k, r, p
WITH k.key AS of, r.at AS at, r.event_id AS event_id, r.qty AS qty, r.price AS line_price,
     coalesce(r.order_id, r.event_id) AS order_id,"""
    + PRODUCT_FIELDS
    + """
WITH {of: of, at: at, event_id: event_id, qty: qty, line_price: line_price,
      order_id: order_id,"""
    + PRODUCT_ROW
    + "} AS row",
    nothing={"key": 0, "id": NOTHING, "limit": 0, "after_at": None, "after_event_id": ""},
)

# After ``WITH <key> AS of, <time> AS at,`` with ``p`` in scope: the row of a
# timed product list (a part's rows are maps: graph/together.py).
_TIMED_PRODUCT_ROW: LiteralString = (
    PRODUCT_FIELDS
    + """
WITH {of: of, at: at,"""
    + PRODUCT_ROW
    + "} AS row"
)

_VIEWS_RETURN: LiteralString = (
    """
  WITH k.limit AS lim, p, max(v.at) AS last ORDER BY last DESC, p.sku
  WITH lim, collect({p: p, last: last}) AS items
  UNWIND items[..lim] AS item
  RETURN item.p AS p, item.last AS last
}
WITH k.key AS of, last AS at,"""
    + _TIMED_PRODUCT_ROW
)

# Parts (graph/together.py): each can share a request's exchange.
VIEWS_OF_CUSTOMERS = Part(
    "views_of_customers",
    """UNWIND keys AS k
CALL (k) {
  MATCH (c:Customer {id: k.id})"""
    + _CUSTOMER_SESSIONS
    + """
  MATCH (s)-[v:VIEWED]->(p:Product) WHERE v.at IS NOT NULL"""
    + _VIEWS_RETURN,
    nothing={"key": 0, "id": NOTHING, "limit": 0, "min_confidence": 1.0},
)

VIEWS_OF_SESSIONS = Part(
    "views_of_sessions",
    """UNWIND keys AS k
CALL (k) {
  MATCH (:Session {id: k.id})-[v:VIEWED]->(p:Product) WHERE v.at IS NOT NULL"""
    + _VIEWS_RETURN,
    nothing={"key": 0, "id": NOTHING, "limit": 0, "min_confidence": 1.0},
)

_CART_RETURN: LiteralString = (
    """
  WITH lim, p, added_at ORDER BY added_at DESC, p.sku
  WITH lim, collect({p: p, added_at: added_at}) AS items
  UNWIND items[..lim] AS item
  RETURN item.p AS p, item.added_at AS added_at
}
WITH k.key AS of, added_at AS at,"""
    + _TIMED_PRODUCT_ROW
)

# An add stays in the basket until the customer buys the product at or after
# the last add (on any device or in a shop).
CARTS_OF_CUSTOMERS = Part(
    "carts_of_customers",
    """UNWIND keys AS k
CALL (k) {
  MATCH (c:Customer {id: k.id})"""
    + _CUSTOMER_SESSIONS
    + """
  MATCH (s)-[a:ADDED_TO_CART]->(p:Product)
  WHERE a.at > datetime(k.since)
  WITH k.limit AS lim, c, p, max(a.at) AS added_at
  WHERE NOT EXISTS { (c)-[b:PURCHASED]->(p) WHERE NOT b.at < added_at }"""
    + _CART_RETURN,
    nothing={"key": 0, "id": NOTHING, "since": EPOCH, "limit": 0, "min_confidence": 1.0},
)

# A visitor's basket empties of what the customer the session is an own session
# of (graph/sessions.py) bought since: the same reach as above, reversed.
CARTS_OF_SESSIONS = Part(
    "carts_of_sessions",
    """UNWIND keys AS k
CALL (k) {
  MATCH (s:Session {id: k.id})
  WITH k, s, k.min_confidence AS min_confidence"""
    + SESSION_OWNER
    + """
  MATCH (s)-[a:ADDED_TO_CART]->(p:Product)
  WHERE a.at > datetime(k.since)
  WITH k.limit AS lim, owner, p, max(a.at) AS added_at
  WHERE owner IS NULL
     OR NOT EXISTS { (owner)-[b:PURCHASED]->(p) WHERE NOT b.at < added_at }"""
    + _CART_RETURN,
    nothing={"key": 0, "id": NOTHING, "since": EPOCH, "limit": 0, "min_confidence": 1.0},
)


# -- reads ------------------------------------------------------------------------


def _when(row: dict[str, Any]) -> datetime:
    """The time of a row's event; the queries leave out events without one."""
    at = to_datetime(row["at"])
    assert at is not None
    return at


def _grouped(rows: list[dict[str, Any]], count: int) -> list[list[dict[str, Any]]]:
    """Rows by the index of the key they answer (the queries return it as ``of``)."""
    return many_per_key(range(count), rows, lambda row: row)


@reads("purchase_history")
async def purchases_of_customers(graph: Graph, keys: Sequence[PurchasesKey]) -> list[PurchasePage]:
    """A page of each customer's purchases, newest first (ties: higher event id first)."""
    params = [
        {
            "key": i,
            "id": key.customer_id,
            # One more than asked tells whether another page follows.
            "limit": key.first + 1,
            "after_at": key.after_at.isoformat() if key.after_at else None,
            "after_event_id": key.after_event_id or "",
        }
        for i, key in enumerate(keys)
    ]
    rows = await read_part(graph, PURCHASES_OF_CUSTOMERS, params)
    pages = []
    for key, found in zip(keys, _grouped(rows, len(keys)), strict=True):
        lines = sorted(
            (
                Purchase(
                    product=product_from_row(row),
                    at=_when(row),
                    qty=None if row["qty"] is None else int(row["qty"]),
                    price=None if row["line_price"] is None else float(row["line_price"]),
                    order_id=str(row["order_id"]),
                    event_id=str(row["event_id"]),
                )
                for row in found
            ),
            key=lambda line: (line.at, line.event_id),
            reverse=True,
        )
        pages.append(PurchasePage(tuple(lines[: key.first]), len(lines) > key.first))
    return pages


async def _timed_products(
    graph: Graph,
    part: Part,
    params: list[dict[str, Any]],
    make: Callable[[Product, datetime], T],
) -> list[list[T]]:
    """One read for many keys' product lists; each list newest first (ties by SKU)."""
    rows = await read_part(graph, part, [{"key": i, **p} for i, p in enumerate(params)])
    lists = []
    for found in _grouped(rows, len(params)):
        timed = sorted(
            ((_when(row), product_from_row(row)) for row in found),
            key=lambda pair: (-pair[0].timestamp(), pair[1].sku),
        )
        lists.append([make(product, at) for at, product in timed])
    return lists


def _views_params(keys: Sequence[ViewsKey]) -> list[dict[str, Any]]:
    return [{"id": k.id, "limit": k.limit, "min_confidence": k.min_confidence} for k in keys]


def _cart_params(keys: Sequence[CartKey]) -> list[dict[str, Any]]:
    return [
        {
            "id": k.id,
            "since": k.since.isoformat(),
            "limit": k.limit,
            "min_confidence": k.min_confidence,
        }
        for k in keys
    ]


@reads("browsing_history")
async def views_of_customers(graph: Graph, keys: Sequence[ViewsKey]) -> list[list[ViewedProduct]]:
    """Each customer's most recently viewed products across their sessions, newest first."""
    return await _timed_products(graph, VIEWS_OF_CUSTOMERS, _views_params(keys), ViewedProduct)


@reads("browsing_history")
async def views_of_sessions(graph: Graph, keys: Sequence[ViewsKey]) -> list[list[ViewedProduct]]:
    """Each session's most recently viewed products, newest first."""
    return await _timed_products(graph, VIEWS_OF_SESSIONS, _views_params(keys), ViewedProduct)


@reads("browsing_history")
async def carts_of_customers(graph: Graph, keys: Sequence[CartKey]) -> list[list[CartItem]]:
    """Each customer's basket across their sessions and devices, last added first."""
    return await _timed_products(graph, CARTS_OF_CUSTOMERS, _cart_params(keys), CartItem)


@reads("browsing_history")
async def carts_of_sessions(graph: Graph, keys: Sequence[CartKey]) -> list[list[CartItem]]:
    """Each session's basket, last added first."""
    return await _timed_products(graph, CARTS_OF_SESSIONS, _cart_params(keys), CartItem)
