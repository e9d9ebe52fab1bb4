"""Four strategies that each reach past what they declared (tests/gateway/recs/test_wayward.py).

The plugin declares browsing history for personalisation, nothing else, and
no Cypher of its own. Then:

- ``peeks-at-purchases`` asks its ``data`` for purchases, a category it did
  not declare;
- ``peeks-at-others`` asks for the browsing of a shopper who is not its subject;
- ``own-cypher`` runs Cypher of its own, serving and recomputing;
- ``reads-purchases`` calls a repository function that reads purchase history,
  serving and recomputing.

It keeps the graph the host hands its ``startup`` hook (its own plugin graph),
as a careless author might, to reach it from ``recommend``.
"""

from __future__ import annotations

from tightrope import (
    NOT_PERSONAL,
    PERSONALISATION,
    Candidate,
    DataCategory,
    Graph,
    Manifest,
    PurchasesKey,
    Purpose,
    StrategyData,
    Subject,
    SubjectKind,
    customers_who_bought,
    hookimpl,
    purchases_of_customers,
)

READS = frozenset({DataCategory.BROWSING_HISTORY})
CUSTOMERS = frozenset({SubjectKind.CUSTOMER})
# Whom peeks-at-others looks at instead of its subject.
SOMEONE_ELSE = "u1"

_graph: list[Graph] = []


class Personal:
    """What both peeking strategies declare: a customer's browsing, for personalisation."""

    purpose = PERSONALISATION
    categories = READS
    subjects = CUSTOMERS


class PeeksAtPurchases(Personal):
    name = "peeks-at-purchases"

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        return [Candidate(owned.sku, 1.0) for owned in await data.purchases()]


class PeeksAtOthers(Personal):
    name = "peeks-at-others"

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        return [Candidate(seen.sku, 1.0) for seen in await data.views(SOMEONE_ELSE)]


class OwnCypher:
    name = "own-cypher"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        rows = await _graph[0].read("MATCH (p:Product) RETURN p.sku AS sku LIMIT 5")
        return [Candidate(row["sku"], 1.0) for row in rows]

    async def recompute(self, graph: Graph, progress: bool) -> str:
        await graph.write("MATCH (p:Product) SET p.wayward = true")
        return "marked every product"


class ReadsPurchases:
    name = "reads-purchases"
    purpose = NOT_PERSONAL
    categories: frozenset[DataCategory] = frozenset()
    subjects = CUSTOMERS

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        [page] = await purchases_of_customers(_graph[0], [PurchasesKey(subject.id, count)])
        return [Candidate(purchase.product.sku, 1.0) for purchase in page.purchases]

    async def recompute(self, graph: Graph, progress: bool) -> str:
        return f"{len(await customers_who_bought(graph))} customers"


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=READS,
        description="Strategies that each break the manifest (a test of isolation).",
    )


@hookimpl
def register_recommenders() -> list[object]:
    return [PeeksAtPurchases(), PeeksAtOthers(), OwnCypher(), ReadsPurchases()]


@hookimpl
def startup(graph: Graph) -> None:
    _graph[:] = [graph]
