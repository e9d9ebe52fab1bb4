"""Bulk reads and writes of derived recommendation data, for ``tightrope recompute``.

Three shapes, each marked with the plugin that derived it (``source``) and the
run that wrote it (``run``), so a run replaces exactly what the same plugin
wrote before:

* ``(:Product)-[:ALSO {kind, weight, support, source, run}]->(:Product)``: item
  to item (bought together, viewed together, a collaborative model). An
  aggregate over many shoppers: nobody's personal data.
* ``(:Ranking {kind, scope})-[:RANKS {score, source, run}]->(:Product)``: a
  ranking (trending overall, per category, per brand). Not personal either.
* ``(:Customer)-[:PREFERS {kind, weight, count, source, run, personal: true}]->
  (:Brand|:Category)``: what one customer keeps choosing. Personal data: it is
  read only with that customer's profile and dropped with
  :func:`drop_preferences` (consent withdrawn, erasure).

Each item's (or ranking's, or customer's) edges are replaced in one write
transaction, so a reader sees either the old list or the new one, never half;
what a run did not rewrite is deleted at its end (:func:`drop_stale`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, LiteralString

from graph.driver import Graph, reads

# Interactions are read a page of owners at a time, each owner with the skus of
# all its interactions in one list: the async driver spends about 130 µs of
# client CPU per record it receives, so 1.9M (owner, product) rows took 4.5
# minutes of a recompute where 90 pages of lists take seconds (docs/performance.md).
# Pages follow the id index in order, so each is a seek, and memory stays a page.
INTERACTIONS_PAGE: Final = 5000

INTERACTIONS_OF_CUSTOMERS: LiteralString = """
MATCH (c:Customer) WHERE c.id > $after
WITH c ORDER BY c.id LIMIT $page
RETURN collect([c.id, [(c)-[:PURCHASED]->(p:Product) | p.sku]]) AS owners
"""

# A visit's views and basket adds.
INTERACTIONS_OF_SESSIONS: LiteralString = """
MATCH (s:Session) WHERE s.id > $after
WITH s ORDER BY s.id LIMIT $page
RETURN collect([s.id, [(s)-[:VIEWED|ADDED_TO_CART]->(p:Product) | p.sku]]) AS owners
"""

# Time-decayed activity per product: the newest event in the graph is "now",
# so a graph loaded from an old export still ranks by its own recent past.
TREND: LiteralString = """
CALL () {
  MATCH ()-[r:PURCHASED|ADDED_TO_CART|VIEWED]->(:Product)
  RETURN max(r.at) AS now
}
MATCH ()-[r:PURCHASED|ADDED_TO_CART|VIEWED]->(p:Product)
WHERE r.at IS NOT NULL AND now IS NOT NULL
WITH p, sum(
  CASE type(r) WHEN 'PURCHASED' THEN $purchase WHEN 'ADDED_TO_CART' THEN $cart ELSE $view END
  * 2.0 ^ (-1.0 * duration.inSeconds(r.at, now).seconds / $half_life)) AS score
WHERE score > 0
RETURN p.sku AS sku, score,
       head([(p)-[:OF_BRAND]->(b:Brand) | [b.id, b.name]]) AS brand,
       [(p)-[:IN_CATEGORY]->(:Category)-[:PARENT*0..]->(c:Category) | [c.id, c.name]] AS categories
"""

WRITE_RELATED: LiteralString = """
UNWIND $rows AS row
MATCH (p:Product {sku: row.sku})
CALL (p) {
  MATCH (p)-[old:ALSO {source: $source}]->()
  DELETE old
}
WITH p, row
UNWIND row.targets AS t
MATCH (q:Product {sku: t.sku})
CREATE (p)-[:ALSO {kind: t.kind, weight: t.weight, support: t.support,
                   source: $source, run: $run}]->(q)
"""

WRITE_RANKING: LiteralString = """
UNWIND $rankings AS ranking
MERGE (k:Ranking {kind: ranking.kind, scope: ranking.scope})
SET k.run = $run, k.source = $source, k.label = ranking.label
WITH k, ranking
CALL (k) {
  MATCH (k)-[old:RANKS]->()
  DELETE old
}
WITH k, ranking
UNWIND ranking.items AS item
MATCH (p:Product {sku: item.sku})
CREATE (k)-[:RANKS {score: item.score, source: $source, run: $run}]->(p)
"""

# The affinities of a batch of customers: brands and (leaf) categories they
# bought at least $min_count distinct products of, strongest first.
WRITE_PREFERENCES: LiteralString = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
CALL (c) {
  MATCH (c)-[old:PREFERS {source: $source}]->()
  DELETE old
}
WITH c
CALL (c) {
  MATCH (c)-[:PURCHASED]->(p:Product)
  RETURN count(DISTINCT p) AS total
}
CALL (c) {
  MATCH (c)-[:PURCHASED]->(p:Product)-[:OF_BRAND]->(x:Brand)
  WITH x, count(DISTINCT p) AS n WHERE n >= $min_count
  WITH x, n ORDER BY n DESC, x.id LIMIT $top
  RETURN 'brand' AS kind, x, n
  UNION ALL
  MATCH (c)-[:PURCHASED]->(p:Product)-[:IN_CATEGORY]->(x:Category)
  WITH x, count(DISTINCT p) AS n WHERE n >= $min_count
  WITH x, n ORDER BY n DESC, x.id LIMIT $top
  RETURN 'category' AS kind, x, n
}
CREATE (c)-[:PREFERS {kind: kind, weight: toFloat(n) / total, count: n, source: $source,
                      run: $run, personal: true, computed_at: datetime()}]->(x)
RETURN count(*) AS written
"""

CUSTOMERS_WHO_BOUGHT: LiteralString = """
MATCH (c:Customer) WHERE EXISTS { (c)-[:PURCHASED]->(:Product) }
RETURN c.id AS id ORDER BY id
"""

DROP_STALE_RELATED: LiteralString = """
MATCH ()-[r:ALSO {source: $source}]->() WHERE r.run <> $run
WITH r LIMIT 10000
DELETE r
RETURN count(*) AS deleted
"""

DROP_STALE_RANKINGS: LiteralString = """
MATCH (k:Ranking {source: $source}) WHERE k.run <> $run
WITH k LIMIT 50
DETACH DELETE k
RETURN count(*) AS deleted
"""

DROP_STALE_PREFERENCES: LiteralString = """
MATCH ()-[r:PREFERS {source: $source}]->() WHERE r.run <> $run
WITH r LIMIT 10000
DELETE r
RETURN count(*) AS deleted
"""

DROP_PREFERENCES: LiteralString = """
MATCH (:Customer {id: $customer_id})-[r:PREFERS]->()
WHERE $source IS NULL OR r.source = $source
DELETE r
RETURN count(*) AS deleted
"""


@dataclass(frozen=True, slots=True)
class Interaction:
    """An owner (customer or session) and a product they bought or looked at, n times."""

    owner: str
    sku: str
    n: int


@dataclass(frozen=True, slots=True)
class Trend:
    """A product's time-decayed activity, with the brand and categories it ranks under."""

    sku: str
    score: float
    brand: tuple[str, str | None] | None  # (id, name)
    categories: tuple[tuple[str, str | None], ...]  # its categories and their ancestors


@dataclass(frozen=True, slots=True)
class Edge:
    """One item-to-item edge to write."""

    sku: str
    kind: str
    weight: float
    support: int | None = None


async def _interactions(graph: Graph, query: LiteralString) -> list[Interaction]:
    """Every (owner, product) pair of ``query``'s pages, with how many times."""
    found: list[Interaction] = []
    after = ""  # ids are never empty (the loader and the API refuse one)
    while True:
        rows = await graph.read(query, {"after": after, "page": INTERACTIONS_PAGE})
        owners = rows[0]["owners"]
        for owner, skus in owners:
            found += (Interaction(owner, sku, n) for sku, n in Counter(skus).items())
        if len(owners) < INTERACTIONS_PAGE:
            return found
        after = owners[-1][0]


@reads("purchase_history")
async def purchase_interactions(graph: Graph) -> list[Interaction]:
    """Every (customer, product) bought, with how many times."""
    return await _interactions(graph, INTERACTIONS_OF_CUSTOMERS)


@reads("browsing_history")
async def session_interactions(graph: Graph) -> list[Interaction]:
    """Every (session, product) viewed or added to a basket, with how many times."""
    return await _interactions(graph, INTERACTIONS_OF_SESSIONS)


@reads("purchase_history", "browsing_history")
async def trends(
    graph: Graph, half_life_days: float, purchase: float, cart: float, view: float
) -> list[Trend]:
    """Each product's activity, every event decayed by its age before the newest event."""
    rows = await graph.read(
        TREND,
        {"half_life": half_life_days * 86400.0, "purchase": purchase, "cart": cart, "view": view},
    )
    return [
        Trend(
            r["sku"],
            float(r["score"]),
            (r["brand"][0], r["brand"][1]) if r["brand"] else None,
            tuple(sorted({(c[0], c[1]) for c in r["categories"]})),
        )
        for r in rows
    ]


@reads()
async def write_related(
    graph: Graph, source: str, run: str, rows: Sequence[tuple[str, Sequence[Edge]]]
) -> None:
    """Replace the edges ``source`` wrote from each product with the given ones."""
    payload = [
        {
            "sku": sku,
            "targets": [
                {"sku": e.sku, "kind": e.kind, "weight": e.weight, "support": e.support}
                for e in edges
            ],
        }
        for sku, edges in rows
    ]
    await graph.write(WRITE_RELATED, {"rows": payload, "source": source, "run": run})


@dataclass(frozen=True, slots=True)
class Ranking:
    """A ranking to write: its kind, scope (``*``, ``category:ID``, ``brand:ID``), items."""

    kind: str
    scope: str
    label: str | None
    items: Sequence[tuple[str, float]]


@reads()
async def write_rankings(graph: Graph, source: str, run: str, rankings: Sequence[Ranking]) -> None:
    """Replace these rankings (each in full)."""
    payload = [
        {
            "kind": r.kind,
            "scope": r.scope,
            "label": r.label,
            "items": [{"sku": sku, "score": score} for sku, score in r.items],
        }
        for r in rankings
    ]
    await graph.write(WRITE_RANKING, {"rankings": payload, "source": source, "run": run})


@reads("purchase_history")
async def customers_who_bought(graph: Graph) -> list[str]:
    rows = await graph.read(CUSTOMERS_WHO_BOUGHT)
    return [str(r["id"]) for r in rows]


@reads("derived_preferences")
async def write_preferences(
    graph: Graph,
    source: str,
    run: str,
    customer_ids: Sequence[str],
    min_count: int,
    top: int,
) -> int:
    """Recompute the brand and category affinities of these customers; return edges written."""
    rows = await graph.write(
        WRITE_PREFERENCES,
        {
            "ids": list(customer_ids),
            "source": source,
            "run": run,
            "min_count": min_count,
            "top": top,
        },
    )
    return sum(int(r["written"]) for r in rows)


@reads()
async def drop_stale(graph: Graph, source: str, run: str) -> int:
    """Delete what ``source`` wrote in runs before ``run``; return how much went."""
    deleted = 0
    for query in (DROP_STALE_RELATED, DROP_STALE_RANKINGS, DROP_STALE_PREFERENCES):
        while True:
            rows = await graph.write(query, {"source": source, "run": run})
            count = int(rows[0]["deleted"]) if rows else 0
            deleted += count
            if count == 0:
                break
    return deleted


@reads("derived_preferences")
async def drop_preferences(graph: Graph, customer_id: str, source: str | None = None) -> int:
    """Delete the affinities derived about one customer (by ``source``, or by anyone)."""
    rows = await graph.write(DROP_PREFERENCES, {"customer_id": customer_id, "source": source})
    return int(rows[0]["deleted"]) if rows else 0
