"""Loading an evaluation data set into a graph of its own (``tightrope evaluate recs|linking``).

The evaluation wipes the graph it loads into, so it runs on a Neo4j server of
its own (port 7694 unless told) and marks that graph with an
``(:EvaluationGraph)`` node: :func:`prepare` refuses to wipe a graph that
holds data without the mark, so it can never empty a real or demo graph by
mistake. Items become products filed under every genre they have (no brand),
users become customers, training interactions become purchases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import LiteralString

from graph.catalogue import bump_catalogue_version
from graph.driver import Graph
from graph.schema import migrate
from graph.wipe import wipe

MARKED: LiteralString = """
CALL () { MATCH (n) WHERE NOT n:EvaluationGraph AND NOT n:CatalogueVersion
          RETURN count(n) > 0 AS holds_data }
CALL () { MATCH (m:EvaluationGraph) RETURN count(m) > 0 AS marked }
RETURN holds_data, marked
"""

MARK: LiteralString = "MERGE (:EvaluationGraph {id: 'evaluation'})"

LOAD_GENRES: LiteralString = """
UNWIND $rows AS r
MERGE (c:Category {id: r.id}) SET c.name = r.name
"""

LOAD_ITEMS: LiteralString = """
UNWIND $rows AS r
CREATE (p:Product {sku: r.sku, name: r.name, in_stock: true})
WITH p, r
UNWIND r.genres AS genre
MATCH (c:Category {id: genre})
CREATE (p)-[:IN_CATEGORY]->(c)
"""

# Evaluation users are scored through the gateway's own consent gate, under
# the default opt-in regime: they are loaded as having said yes to
# personalisation (from an import), as a real shop's consenting customers.
LOAD_CUSTOMERS: LiteralString = """
MERGE (p:Purpose {name: 'personalisation'})
WITH p
UNWIND $rows AS id
CREATE (c:Customer {id: id})
CREATE (c)-[:CONSENT_CHANGE {purpose: 'personalisation', granted: true, at: datetime(),
                             version: '1', source: 'import'}]->(p)
CREATE (c)-[:CONSENT {purpose: 'personalisation', granted: true, at: datetime(),
                      version: '1', source: 'import'}]->(p)
"""

LOAD_PURCHASES: LiteralString = """
UNWIND $rows AS r
MATCH (c:Customer {id: r.customer}), (p:Product {sku: r.sku})
CREATE (c)-[:PURCHASED {event_id: r.event_id, at: datetime({epochSeconds: r.at})}]->(p)
"""


class NotAnEvaluationGraph(Exception):
    """The graph holds data that an evaluation did not load: it is not wiped."""


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    name: str
    genres: tuple[str, ...]  # category ids


@dataclass(frozen=True, slots=True)
class Bought:
    customer: str
    sku: str
    at: int  # seconds since the epoch


async def prepare(graph: Graph) -> None:
    """Empty an evaluation graph (or an empty one) and mark it; refuse any other."""
    [row] = await graph.read(MARKED)
    if row["holds_data"] and not row["marked"]:
        raise NotAnEvaluationGraph(
            "this Neo4j holds data that no evaluation or benchmark loaded: refusing to "
            "wipe it (evaluations and benchmarks run on a server of their own, --port)"
        )
    await wipe(graph)
    await migrate(graph)
    await graph.write(MARK)


async def load(
    graph: Graph,
    genres: Sequence[tuple[str, str]],
    items: Sequence[Item],
    customers: Sequence[str],
    bought: Sequence[Bought],
    batch: int = 5000,
) -> None:
    """Write the data set: genres, items, customers, then purchases."""
    await graph.write(LOAD_GENRES, {"rows": [{"id": i, "name": n} for i, n in genres]})
    for start in range(0, len(items), batch):
        rows = [
            {"sku": i.sku, "name": i.name, "genres": list(i.genres)}
            for i in items[start : start + batch]
        ]
        await graph.write(LOAD_ITEMS, {"rows": rows})
    for start in range(0, len(customers), batch):
        await graph.write(LOAD_CUSTOMERS, {"rows": list(customers[start : start + batch])})
    for start in range(0, len(bought), batch):
        purchases: list[dict[str, object]] = [
            {"customer": b.customer, "sku": b.sku, "at": b.at, "event_id": f"e{start + k}"}
            for k, b in enumerate(bought[start : start + batch])
        ]
        await graph.write(LOAD_PURCHASES, {"rows": purchases})
    await bump_catalogue_version(graph)


GUESSES_WITHOUT_CONSENT: LiteralString = """
MATCH (:Device)-[u:USED_BY]->(c:Customer)
WHERE NOT coalesce(u.method, '') IN $deterministic
  AND NOT EXISTS { (c)-[:CONSENT {purpose: 'cross_device', granted: true}]->(:Purpose) }
RETURN count(u) AS n
"""

LINKS: LiteralString = """
MATCH (d:Device)-[u:USED_BY]->(c:Customer)
RETURN d.id AS device, c.id AS customer, u.method AS method, u.confidence AS confidence
"""


async def guesses_without_consent(graph: Graph, deterministic: Sequence[str]) -> int:
    """Links the graph holds, not proved, to customers without cross_device consent now."""
    rows = await graph.read(GUESSES_WITHOUT_CONSENT, {"deterministic": list(deterministic)})
    return int(rows[0]["n"])


async def all_links(graph: Graph) -> list[tuple[str, str, str | None, float | None]]:
    """Every link: device, customer, method, confidence."""
    rows = await graph.read(LINKS)
    return [(r["device"], r["customer"], r["method"], r["confidence"]) for r in rows]


MEMBERS_WITHOUT_CONSENT: LiteralString = """
MATCH (c:Customer)-[:MEMBER_OF]->(:Household)
WHERE NOT EXISTS { (c)-[:CONSENT {purpose: 'cross_device', granted: true}]->(:Purpose) }
RETURN count(c) AS n
"""

HOUSEHOLD_LINKS: LiteralString = """
MATCH (d:Device)-[x:SHARED_BY]->(h:Household)
RETURN d.id AS device, h.id AS household, x.method AS method, x.confidence AS confidence,
       [(c:Customer)-[:MEMBER_OF]->(h) | c.id] AS members
ORDER BY device
"""


async def members_without_consent(graph: Graph) -> int:
    """Household members who have not granted cross_device now: must be none."""
    rows = await graph.read(MEMBERS_WITHOUT_CONSENT)
    return int(rows[0]["n"])


async def household_links(graph: Graph) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """Every household's device: device, household, method, the household's members."""
    rows = await graph.read(HOUSEHOLD_LINKS)
    return [(r["device"], r["household"], r["method"], tuple(sorted(r["members"]))) for r in rows]
