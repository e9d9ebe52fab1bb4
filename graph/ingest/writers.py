"""Writing catalogue and customer records in UNWIND batches (also used by the demo).

Every write is a MERGE on the record's id, so writing the same records twice
changes nothing. These writers trust their input: the loader checks references
first (:func:`missing_ids`), the demo generates only consistent data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, LiteralString, NamedTuple, TypeVar

from graph.catalogue import bump_catalogue_version
from graph.driver import Graph, record_params
from graph.ingest.cypher import (
    GRAPH_COUNTS,
    LINK_CATEGORIES,
    MERGE_BRANDS,
    MERGE_CATEGORIES,
    MERGE_CONSENTS,
    MERGE_CUSTOMERS,
    MERGE_DEVICE_RECORDS,
    MERGE_LINKS,
    MERGE_PRODUCTS,
    MISSING,
)
from graph.model import Catalogue, CustomerBase

DEFAULT_BATCH: Final = 10_000
T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Withdrawal(NamedTuple):
    """A customer's consent to a purpose, granted until a loaded record refused it."""

    customer_id: str
    purpose: str


async def write_rows(
    graph: Graph, query: LiteralString, rows: Sequence[dict[str, Any]], batch: int
) -> list[dict[str, Any]]:
    """Run ``query`` over ``rows``, one write transaction per ``batch`` rows; what it returned."""
    returned: list[dict[str, Any]] = []
    for chunk in chunks(rows, batch):
        returned += await graph.write(query, {"rows": list(chunk)})
    return returned


async def write_catalogue(graph: Graph, cat: Catalogue, batch: int = DEFAULT_BATCH) -> None:
    """Upsert brands, categories (parents may come in any order) and products."""
    await write_rows(graph, MERGE_BRANDS, [record_params(b) for b in cat.brands], batch)
    await write_rows(graph, MERGE_CATEGORIES, [record_params(c) for c in cat.categories], batch)
    # Roots too: a category that lost its parent must lose the edge.
    parents = [{"id": c.id, "parent_id": c.parent_id} for c in cat.categories]
    await write_rows(graph, LINK_CATEGORIES, parents, batch)
    await write_rows(graph, MERGE_PRODUCTS, [record_params(p) for p in cat.products], batch)
    # Every process's catalogue cache drops what it holds within about a second.
    await bump_catalogue_version(graph)


async def write_customer_base(
    graph: Graph, base: CustomerBase, batch: int = DEFAULT_BATCH
) -> list[Withdrawal]:
    """Upsert customers, then devices and their links, then consents; the withdrawals.

    A withdrawal is a consent record that turned a granted purpose into a
    refused one: the caller tells the plugins (``consent_withdrawn``), as a
    withdrawal through the API does.
    """
    # Each record's fields are exactly its statement's parameters.
    for statement, records in (
        (MERGE_CUSTOMERS, base.customers),
        (MERGE_DEVICE_RECORDS, base.devices),
        (MERGE_LINKS, base.links),
    ):
        await write_rows(graph, statement, [record_params(r) for r in records], batch)
    consents = [record_params(r) for r in base.consents]
    rows = await write_rows(graph, MERGE_CONSENTS, consents, batch)
    return sorted({Withdrawal(row["customer_id"], row["purpose"]) for row in rows})


async def missing_ids(graph: Graph, what: str, ids: set[str]) -> set[str]:
    """Those of ``ids`` the graph holds no ``what`` (brand, category, ...) for."""
    if not ids:
        return set()
    rows = await graph.read(MISSING[what], {"ids": sorted(ids)})
    return set(rows[0]["missing"])


async def graph_counts(graph: Graph) -> dict[str, int]:
    """How many of each node and relationship the graph holds."""
    return dict((await graph.read(GRAPH_COUNTS))[0])
