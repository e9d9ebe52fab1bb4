"""The facts the merchandiser's insights are made from: activity per product, purchases per shopper.

Every read takes the customers who count (their consent allows analytics,
decided by the gateway) as a parameter, and reads nothing of anyone else;
anonymous visits are read only when asked (the deployment's regime counts
them). What comes back is aggregated per product, except the purchases
behind loyalty, which are one row per purchase line of a counted customer
(customer, time, order, brand, category) because repeat purchases are a
sequence per customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph

# Per product, events in [start, split) (the baseline) and [split, end) (recent),
# of these customers, and how many of them are behind it.
CUSTOMER_ACTIVITY: LiteralString = """
UNWIND $customers AS id
MATCH (c:Customer {id: id})
CALL (c) {
  MATCH (c)-[e:PURCHASED]->(p:Product)
  WHERE e.at >= datetime($start) AND e.at < datetime($end)
  RETURN p.sku AS sku, 'purchase' AS kind, e.at AS at
  UNION ALL
  MATCH (c)<-[:SIGNED_IN_AS]-(:Session)-[e:VIEWED]->(p:Product)
  WHERE e.at >= datetime($start) AND e.at < datetime($end)
  RETURN p.sku AS sku, 'view' AS kind, e.at AS at
  UNION ALL
  MATCH (c)<-[:SIGNED_IN_AS]-(:Session)-[e:ADDED_TO_CART]->(p:Product)
  WHERE e.at >= datetime($start) AND e.at < datetime($end)
  RETURN p.sku AS sku, 'cart' AS kind, e.at AS at
}
WITH sku, c.id AS shopper, kind, at >= datetime($split) AS recent
WITH sku, shopper,
     sum(CASE WHEN kind = 'purchase' AND recent THEN 1 ELSE 0 END) AS pr,
     sum(CASE WHEN kind = 'purchase' AND NOT recent THEN 1 ELSE 0 END) AS pb,
     sum(CASE WHEN kind = 'view' AND recent THEN 1 ELSE 0 END) AS vr,
     sum(CASE WHEN kind = 'view' AND NOT recent THEN 1 ELSE 0 END) AS vb,
     sum(CASE WHEN kind = 'cart' AND recent THEN 1 ELSE 0 END) AS cr,
     sum(CASE WHEN kind = 'cart' AND NOT recent THEN 1 ELSE 0 END) AS cb
RETURN sku, sum(pr) AS purchases_recent, sum(pb) AS purchases_before,
       sum(vr) AS views_recent, sum(vb) AS views_before,
       sum(cr) AS carts_recent, sum(cb) AS carts_before, count(shopper) AS shoppers
"""

# The same for visits never signed in (only when the regime counts them).
ANONYMOUS_ACTIVITY: LiteralString = """
MATCH (s:Session)-[e:VIEWED|ADDED_TO_CART]->(p:Product)
WHERE e.at >= datetime($start) AND e.at < datetime($end)
  AND NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
WITH p.sku AS sku, s.id AS shopper, type(e) = 'VIEWED' AS view, e.at >= datetime($split) AS recent
WITH sku, shopper,
     sum(CASE WHEN view AND recent THEN 1 ELSE 0 END) AS vr,
     sum(CASE WHEN view AND NOT recent THEN 1 ELSE 0 END) AS vb,
     sum(CASE WHEN NOT view AND recent THEN 1 ELSE 0 END) AS cr,
     sum(CASE WHEN NOT view AND NOT recent THEN 1 ELSE 0 END) AS cb
RETURN sku, 0 AS purchases_recent, 0 AS purchases_before, sum(vr) AS views_recent,
       sum(vb) AS views_before, sum(cr) AS carts_recent, sum(cb) AS carts_before,
       count(shopper) AS shoppers
"""

CUSTOMER_IDS: LiteralString = "MATCH (c:Customer) RETURN c.id AS id"

PRODUCTS: LiteralString = """
UNWIND $skus AS sku
MATCH (p:Product {sku: sku})
OPTIONAL MATCH (p)-[:OF_BRAND]->(b:Brand)
RETURN p.sku AS sku, p.name AS name, p.in_stock AS in_stock, b.id AS brand, b.name AS brand_name,
       head(COLLECT { MATCH (p)-[:IN_CATEGORY]->(c:Category) RETURN c.name ORDER BY c.id })
         AS category_name
"""

PURCHASE_LINES: LiteralString = """
UNWIND $customers AS id
MATCH (c:Customer {id: id})-[e:PURCHASED]->(p:Product)
WHERE e.at >= datetime($since) AND e.at < datetime($until)
OPTIONAL MATCH (p)-[:OF_BRAND]->(b:Brand)
WITH c, e, p, b,
     head(COLLECT { MATCH (p)-[:IN_CATEGORY]->(x:Category) RETURN [x.id, x.name] ORDER BY x.id })
       AS category
RETURN c.id AS customer_id, e.at AS at, coalesce(e.order_id, e.event_id) AS order_id,
       p.sku AS sku, b.id AS brand, b.name AS brand_name, category[0] AS category,
       category[1] AS category_name
"""


@dataclass(frozen=True, slots=True)
class Activity:
    """One product's events in the baseline and the recent window, and the shoppers behind."""

    sku: str
    purchases_recent: int = 0
    purchases_before: int = 0
    views_recent: int = 0
    views_before: int = 0
    carts_recent: int = 0
    carts_before: int = 0
    shoppers: int = 0

    def plus(self, other: Activity) -> Activity:
        return Activity(
            self.sku,
            *(
                getattr(self, f) + getattr(other, f)
                for f in (
                    "purchases_recent",
                    "purchases_before",
                    "views_recent",
                    "views_before",
                    "carts_recent",
                    "carts_before",
                    "shoppers",
                )
            ),
        )


@dataclass(frozen=True, slots=True)
class ProductFacts:
    sku: str
    name: str | None
    in_stock: bool | None
    brand: str | None
    brand_name: str | None
    category_name: str | None


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    customer_id: str
    at: datetime
    order_id: str
    sku: str
    brand: str | None
    brand_name: str | None
    category: str | None
    category_name: str | None


def _window(start: datetime, split: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "split": split.isoformat(), "end": end.isoformat()}


def _activity(row: dict[str, Any]) -> Activity:
    return Activity(
        row["sku"],
        int(row["purchases_recent"]),
        int(row["purchases_before"]),
        int(row["views_recent"]),
        int(row["views_before"]),
        int(row["carts_recent"]),
        int(row["carts_before"]),
        int(row["shoppers"]),
    )


async def activity(
    graph: Graph,
    customers: Sequence[str],
    anonymous: bool,
    start: datetime,
    split: datetime,
    end: datetime,
) -> dict[str, Activity]:
    """Per product: events of these customers (and of anonymous visits if asked) per window."""
    found: dict[str, Activity] = {}
    params: dict[str, Any] = {"customers": sorted(customers), **_window(start, split, end)}
    queries = [CUSTOMER_ACTIVITY] + ([ANONYMOUS_ACTIVITY] if anonymous else [])
    for query in queries:
        for row in await graph.read(query, params):
            a = _activity(row)
            found[a.sku] = found[a.sku].plus(a) if a.sku in found else a
    return found


async def customer_ids(graph: Graph) -> list[str]:
    """Every customer's id (whose consent then decides whether they count)."""
    return [r["id"] for r in await graph.read(CUSTOMER_IDS)]


async def product_facts(graph: Graph, skus: Sequence[str]) -> dict[str, ProductFacts]:
    rows = await graph.read(PRODUCTS, {"skus": sorted(set(skus))})
    return {
        r["sku"]: ProductFacts(
            r["sku"], r["name"], r["in_stock"], r["brand"], r["brand_name"], r["category_name"]
        )
        for r in rows
    }


async def purchase_lines(
    graph: Graph, customers: Sequence[str], since: datetime, until: datetime
) -> list[PurchaseLine]:
    """Every purchase line of these customers in [since, until), with brand and category."""
    rows = await graph.read(
        PURCHASE_LINES,
        {"customers": sorted(customers), "since": since.isoformat(), "until": until.isoformat()},
    )
    found = []
    for r in rows:
        at = to_datetime(r["at"])
        assert at is not None
        found.append(
            PurchaseLine(
                r["customer_id"], at, str(r["order_id"]), r["sku"], r["brand"], r["brand_name"],
                r["category"], r["category_name"],
            )
        )  # fmt: skip
    return found
