"""Reads that serve recommendations: one subject's profile, and the derived aggregates.

Serving a request reads the subject's personal data once (:func:`profile_of`,
one query whatever the strategies ask for) and the non-personal aggregates
that ``tightrope recompute`` derived (graph/derived.py): item-to-item edges
``(:Product)-[:ALSO {kind, weight}]->(:Product)`` and rankings
``(:Ranking {kind, scope})-[:RANKS {score}]->(:Product)``. The aggregates are
nobody's personal data, so the host keeps them across requests, keyed on the
version every recompute bumps (:func:`derived_version`).

Derived data about one customer (``(:Customer)-[:PREFERS]->(:Brand|:Category)``,
an affinity) is personal: it is read only as part of that customer's profile,
and every edge names the plugin that derived it so it can be dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.customers import to_datetime
from graph.driver import Graph
from graph.sessions import OWN_SESSIONS


@dataclass(frozen=True, slots=True)
class Owned:
    """A product the customer bought: when last, how many times.

    ``brand`` is the brand's *name*, for sentences ("by Northbrook");
    ``brand_id`` its id, which rankings' scopes (``brand:ID``) and the
    catalogue take.
    """

    sku: str
    name: str | None
    brand: str | None
    at: datetime
    times: int
    brand_id: str | None = None


@dataclass(frozen=True, slots=True)
class Seen:
    """A product viewed or put in the basket, with the last time (``brand``: a name)."""

    sku: str
    name: str | None
    brand: str | None
    at: datetime
    brand_id: str | None = None


@dataclass(frozen=True, slots=True)
class Preference:
    """A brand or category a customer keeps choosing (derived, personal)."""

    kind: str  # "brand" or "category"
    id: str
    name: str | None
    weight: float
    count: int
    source: str


@dataclass(frozen=True, slots=True)
class ProfileKey:
    """Whose profile, and which parts: each part is read only if asked for."""

    customer_id: str | None = None
    session_id: str | None = None
    purchases: bool = False
    preferences: bool = False
    browsing: bool = False
    limit: int = 500
    # Devices linked with less confidence do not add their anonymous sessions.
    min_link_confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Profile:
    """One subject's personal data, as far as the request needs it."""

    purchases: tuple[Owned, ...] = ()
    preferences: tuple[Preference, ...] = ()
    views: tuple[Seen, ...] = ()
    cart: tuple[Seen, ...] = ()


@dataclass(frozen=True, slots=True)
class Related:
    """An item-to-item edge: from the key's product to ``sku``, with a weight."""

    sku: str
    weight: float
    support: int | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    """A product's place in a ranking (``scope``: ``*``, ``category:ID`` or ``brand:ID``)."""

    sku: str
    score: float
    label: str | None = None  # what the ranking is of: a category's or brand's name


_ITEM: LiteralString = """{sku: p.sku, name: p.name,
  brand: head([(p)-[:OF_BRAND]->(b:Brand) | b.name]),
  brand_id: head([(p)-[:OF_BRAND]->(b:Brand) | b.id]), at: at"""

# Each part is a subquery that answers one row (an empty list when switched off).
# A customer's browsing is that of their own sessions (graph/sessions.py), a
# guessed device counting from $min_link_confidence. Items of one order (or
# one moment) share a timestamp: the SKU breaks the tie, so the order strategies
# weigh by (bought-together: the newest count most) is the same on every read,
# whatever plan Neo4j chose.
PROFILE: LiteralString = (
    """
OPTIONAL MATCH (c:Customer {id: $customer_id})
OPTIONAL MATCH (s:Session {id: $session_id})
CALL (c) {
  OPTIONAL MATCH (c)-[r:PURCHASED]->(p:Product)
  WHERE $purchases AND r.at IS NOT NULL
  WITH p, max(r.at) AS at, count(r) AS times ORDER BY at DESC, p.sku LIMIT $limit
  RETURN collect("""
    + _ITEM
    + """, times: times}) AS purchases
}
CALL (c) {
  OPTIONAL MATCH (c)-[r:PREFERS]->(x)
  WHERE $preferences
  WITH r, x ORDER BY r.weight DESC LIMIT 50
  RETURN collect({kind: r.kind, id: x.id, name: x.name, weight: r.weight, count: r.count,
                  source: r.source}) AS preferences
}
CALL (c) {
  WITH c, $min_link_confidence AS min_confidence
  WHERE $browsing AND $session_id IS NULL AND c IS NOT NULL"""
    + OWN_SESSIONS
    + """
  RETURN collect(s) AS mine
}
CALL (s, mine) {
  CALL (s, mine) {
    MATCH (s)-[v:VIEWED]->(p:Product) WHERE $browsing AND v.at IS NOT NULL
    RETURN p, v.at AS at
    UNION ALL
    UNWIND mine AS s2
    MATCH (s2)-[v:VIEWED]->(p:Product) WHERE v.at IS NOT NULL
    RETURN p, v.at AS at
  }
  WITH p, max(at) AS at ORDER BY at DESC, p.sku LIMIT $limit
  RETURN collect("""
    + _ITEM
    + """}) AS views
}
CALL (s, mine) {
  CALL (s, mine) {
    MATCH (s)-[a:ADDED_TO_CART]->(p:Product) WHERE $browsing AND a.at IS NOT NULL
    RETURN p, a.at AS at
    UNION ALL
    UNWIND mine AS s2
    MATCH (s2)-[a:ADDED_TO_CART]->(p:Product) WHERE a.at IS NOT NULL
    RETURN p, a.at AS at
  }
  WITH p, max(at) AS at ORDER BY at DESC, p.sku LIMIT $limit
  RETURN collect("""
    + _ITEM
    + """}) AS cart
}
RETURN purchases, preferences, views, cart
"""
)

# One row per key with its neighbours in parallel lists: tens of thousands of
# single-edge records cost the client far more to decode than a few lists.
RELATED: LiteralString = """
UNWIND $keys AS k
CALL (k) {
  MATCH (:Product {sku: k.sku})-[r:ALSO {kind: k.kind}]->(q:Product)
  WITH r, q ORDER BY r.weight DESC LIMIT $per_item
  RETURN collect(q.sku) AS skus, collect(r.weight) AS weights,
         collect(coalesce(r.support, -1)) AS supports
}
RETURN k.key AS of, skus, weights, supports
"""

RANKING: LiteralString = """
UNWIND $keys AS k
CALL (k) {
  MATCH (ranking:Ranking {kind: k.kind, scope: k.scope})-[r:RANKS]->(p:Product)
  WITH ranking, r, p ORDER BY r.score DESC, p.sku LIMIT $limit
  RETURN collect(p.sku) AS skus, collect(r.score) AS scores, head(collect(ranking.label)) AS label
}
RETURN k.key AS of, skus, scores, label
"""

RANKING_KINDS: LiteralString = """
MATCH (ranking:Ranking)
RETURN DISTINCT ranking.kind AS kind ORDER BY kind
"""

DERIVED_VERSION: LiteralString = """
OPTIONAL MATCH (v:DerivedVersion {id: 'recommendations'})
RETURN v.value AS version
"""

BUMP_DERIVED_VERSION: LiteralString = """
MERGE (v:DerivedVersion {id: 'recommendations'})
SET v.value = coalesce(v.value, 0) + 1, v.changed_at = datetime()
"""


def _seen(row: dict[str, Any]) -> Seen | None:
    at = to_datetime(row.get("at"))
    if row.get("sku") is None or at is None:
        return None  # the OPTIONAL MATCH found nothing
    return Seen(row["sku"], row["name"], row["brand"], at, row.get("brand_id"))


def _profile(row: dict[str, Any]) -> Profile:
    purchases = []
    for item in row["purchases"]:
        seen = _seen(item)
        if seen is not None:
            purchases.append(
                Owned(
                    seen.sku, seen.name, seen.brand, seen.at, int(item["times"] or 1), seen.brand_id
                )
            )
    preferences = tuple(
        Preference(
            str(p["kind"]),
            str(p["id"]),
            p["name"],
            float(p["weight"]),
            int(p["count"] or 0),
            str(p["source"] or ""),
        )
        for p in row["preferences"]
        if p["id"] is not None and p["weight"] is not None
    )
    views = tuple(s for s in map(_seen, row["views"]) if s is not None)
    cart = tuple(s for s in map(_seen, row["cart"]) if s is not None)
    return Profile(tuple(purchases), preferences, views, cart)


async def profile_of(graph: Graph, key: ProfileKey) -> Profile:
    """The parts of one customer's or session's data that ``key`` asks for, in one read."""
    if not (key.purchases or key.preferences or key.browsing):
        return Profile()
    rows = await graph.read(
        PROFILE,
        {
            "customer_id": key.customer_id,
            "session_id": key.session_id,
            "purchases": key.purchases and key.customer_id is not None,
            "preferences": key.preferences and key.customer_id is not None,
            "browsing": key.browsing,
            "limit": key.limit,
            "min_link_confidence": key.min_link_confidence,
        },
    )
    return _profile(rows[0]) if rows else Profile()


async def related_of(
    graph: Graph, keys: Sequence[tuple[str, str]], per_item: int
) -> list[list[Related]]:
    """For each (sku, kind), its strongest ``per_item`` neighbours of that kind, best first."""
    params = [{"key": i, "sku": sku, "kind": kind} for i, (sku, kind) in enumerate(keys)]
    rows = await graph.read(RELATED, {"keys": params, "per_item": per_item})
    found: list[list[Related]] = [[] for _ in keys]
    for row in rows:
        found[row["of"]] = [
            Related(sku, float(weight), None if support < 0 else int(support))
            for sku, weight, support in zip(
                row["skus"], row["weights"], row["supports"], strict=True
            )
        ]
    return found


async def rankings_of(
    graph: Graph, keys: Sequence[tuple[str, str]], limit: int
) -> list[list[Ranked]]:
    """For each (kind, scope), its top ``limit`` products, best first."""
    params = [{"key": i, "kind": kind, "scope": scope} for i, (kind, scope) in enumerate(keys)]
    rows = await graph.read(RANKING, {"keys": params, "limit": limit})
    found: list[list[Ranked]] = [[] for _ in keys]
    for row in rows:
        label = row["label"]
        found[row["of"]] = [
            Ranked(sku, float(score), label)
            for sku, score in zip(row["skus"], row["scores"], strict=True)
        ]
    return found


async def ranking_kinds(graph: Graph) -> list[str]:
    """The kinds of ranking the graph holds (whatever the strategies' recomputes wrote)."""
    rows = await graph.read(RANKING_KINDS)
    return [str(row["kind"]) for row in rows if row["kind"] is not None]


async def derived_version(graph: Graph) -> int | None:
    """The version of the derived aggregates; every recompute bumps it."""
    rows = await graph.read(DERIVED_VERSION)
    version = rows[0]["version"] if rows else None
    return int(version) if version is not None else None


async def bump_derived_version(graph: Graph) -> None:
    """Tell every process's caches of derived aggregates that they changed."""
    await graph.write(BUMP_DERIVED_VERSION)
