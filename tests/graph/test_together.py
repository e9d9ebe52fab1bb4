"""Batched reads of one moment share one Bolt exchange, and each still gets its own rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from graph import Graph, PurchasesKey, customers_by_id, purchases_of_customers, set_consent
from graph.consent import consents_of_customers
from graph.customers import CUSTOMERS_BY_ID
from graph.shared_reads import SHARED_READS
from graph.together import MOST_PARTS, Part, Shared, read_part, together

PEOPLE = """
CREATE (c:Customer {id: 'c1', created_at: datetime('2025-01-02T03:04:05Z')})
CREATE (:Customer {id: 'c2', created_at: datetime('2025-02-02T03:04:05Z')})
CREATE (p:Product {sku: 'sku-1', name: 'Boot', price: 10.0, in_stock: true})
CREATE (c)-[:PURCHASED {at: datetime('2026-11-20T10:00:00Z'), event_id: 'e1', qty: 1}]->(p)
"""


async def reads(graph: Graph) -> tuple[object, ...]:
    return tuple(
        await asyncio.gather(
            customers_by_id(graph, ["c1", "nobody"]),
            purchases_of_customers(graph, [PurchasesKey("c1", 5), PurchasesKey("c2", 5)]),
            consents_of_customers(graph, ["c1"]),
        )
    )


async def test_reads_of_one_moment_are_one_exchange_and_answer_as_alone(
    clean_graph: Graph,
) -> None:
    await clean_graph.write(PEOPLE)
    await set_consent(clean_graph, "c1", "marketing", True, source="api", version="t")
    before = clean_graph.round_trips
    alone = await reads(clean_graph)
    alone_trips = clean_graph.round_trips - before
    with together(SHARED_READS) as shared:
        before = clean_graph.round_trips
        joined = await reads(clean_graph)
        joined_trips = clean_graph.round_trips - before
    assert joined == alone
    assert (alone_trips, joined_trips) == (3, 1)
    assert (shared.exchanges, shared.parts) == (1, 3)
    customers, purchases, consents = joined
    assert [c.id if c else None for c in customers] == ["c1", None]  # type: ignore[attr-defined]
    assert [len(page.purchases) for page in purchases] == [1, 0]  # type: ignore[attr-defined]
    assert set(consents[0]) == {"marketing"}  # type: ignore[index]


async def test_a_read_alone_in_its_moment_is_its_own_statement(clean_graph: Graph) -> None:
    await clean_graph.write(PEOPLE)
    with together(SHARED_READS) as shared:
        (customer,) = await customers_by_id(clean_graph, ["c1"])
    assert customer is not None and customer.id == "c1"
    assert (shared.exchanges, shared.parts) == (1, 1)


async def test_a_part_that_fails_fails_only_its_own_read(clean_graph: Graph) -> None:
    await clean_graph.write(PEOPLE)
    broken = Part("broken", "UNWIND keys AS k WITH {x: 1 / k} AS row")
    with together(Shared((broken, CUSTOMERS_BY_ID))):
        failed, customers = await asyncio.gather(
            read_part(clean_graph, broken, [0]),
            customers_by_id(clean_graph, ["c1"]),
            return_exceptions=True,
        )
    # As when each read was its own statement: the customer is still read.
    assert isinstance(failed, Exception)
    assert [c.id for c in customers] == ["c1"]  # type: ignore[union-attr]


async def test_every_moment_sends_the_one_statement_the_warm_up_plans(
    clean_graph: Graph,
) -> None:
    await clean_graph.write(PEOPLE)
    clean_graph.statements.clear()
    with together(SHARED_READS):
        await reads(clean_graph)
        await asyncio.gather(
            customers_by_id(clean_graph, ["c2"]), consents_of_customers(clean_graph, ["c2"])
        )
    # Two moments, other parts each time: one text, whichever parts are read.
    assert clean_graph.statements == {SHARED_READS.statement}


def test_a_shared_statement_joins_each_part_once() -> None:
    one, two = Part("one", "UNWIND keys AS k WITH k AS row"), Part("two", "WITH 1 AS row")
    text = Shared((one, two)).statement
    assert text.count("UNION ALL") == 1 and "$k0" in text and "$k1" in text
    with pytest.raises(ValueError):
        Shared((one,))
    with pytest.raises(ValueError):
        Shared((one, one))
    with pytest.raises(ValueError):
        Shared([Part(str(i), "WITH 1 AS row") for i in range(MOST_PARTS + 1)])


class _Recording:
    """The graph, noting the parameters of every shared statement it is sent."""

    def __init__(self, graph: Graph) -> None:
        self.inner = graph
        self.sent: list[dict[str, object]] = []

    def granted(self, categories: object, name: str) -> _Recording:
        return self

    async def read(self, statement: str, params: dict[str, object]) -> object:
        if statement == SHARED_READS.statement:
            self.sent.append(params)
        return await self.inner.read(statement, params)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _kinds(params: dict[str, object]) -> dict[str, object]:
    """Each parameter's kind as Neo4j types it: a list of strings, or of maps with these keys."""
    kinds: dict[str, object] = {}
    for name, keys in params.items():
        assert isinstance(keys, list) and keys, f"{name}: an empty list is typed apart"
        first = keys[0]
        kinds[name] = sorted(first) if isinstance(first, dict) else type(first).__name__
    return kinds


async def test_every_request_sends_the_parameter_types_the_warm_up_planned(
    clean_graph: Graph,
) -> None:
    # Neo4j plans per statement text and parameter types: a part not read must
    # not change the types, or each combination of parts is planned on a user's
    # time (245 UNAVAILABLE in a soak's first seconds on a fresh Neo4j).
    from graph.history import (
        CartKey,
        ViewsKey,
        carts_of_customers,
        carts_of_sessions,
        views_of_customers,
        views_of_sessions,
    )

    await clean_graph.write(PEOPLE)
    planned = _kinds(SHARED_READS.params({}))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    # Each read beside a customer's, as a request's first moment reads them: a
    # shared statement of two parts, the others not read.
    readers = [
        lambda g: purchases_of_customers(g, [PurchasesKey("c1", 5)]),
        lambda g: consents_of_customers(g, ["c1"]),
        lambda g: views_of_customers(g, [ViewsKey("c1", 5)]),
        lambda g: views_of_sessions(g, [ViewsKey("s1", 5)]),
        lambda g: carts_of_customers(g, [CartKey("c1", since, 5)]),
        lambda g: carts_of_sessions(g, [CartKey("s1", since, 5)]),
    ]
    recording = _Recording(clean_graph)
    for read in readers:
        with together(SHARED_READS):
            await asyncio.gather(customers_by_id(recording, ["c1"]), read(recording))
    assert len(recording.sent) == len(readers)
    for params in recording.sent:
        assert _kinds(params) == planned
