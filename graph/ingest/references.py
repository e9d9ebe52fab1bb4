"""Loading parsed catalogue and customer records whose references hold.

A product's brand and category, a category's parent, a device link's or a
consent's customer must be in the same file or already in the graph: a record
whose reference is neither becomes a bad row, never a node invented to fit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from graph.driver import Graph
from graph.erasure import erased_ids
from graph.ingest.files import BadRow
from graph.ingest.writers import Withdrawal, missing_ids, write_catalogue, write_customer_base
from graph.model import (
    Brand,
    Catalogue,
    Category,
    Consent,
    CustomerBase,
    Device,
    DeviceLink,
    Product,
)

T = TypeVar("T")
# Each record name's parsed records, with the line each came from.
Parsed = dict[str, list[tuple[int, Any]]]


def _keep_lines(
    items: list[tuple[int, T]],
    bad: list[BadRow],
    test: Callable[[T], tuple[str, str] | None],
) -> list[tuple[int, T]]:
    """Like :func:`_keep`, keeping each item's line."""
    kept = _keep([(line, (line, item)) for line, item in items], bad, lambda li: test(li[1]))
    return list(kept)


def _keep(
    items: list[tuple[int, T]],
    bad: list[BadRow],
    test: Callable[[T], tuple[str, str] | None],
) -> list[T]:
    """Items that pass ``test``; each failure (field, reason) becomes a bad row."""
    kept = []
    for line, item in items:
        problem = test(item)
        if problem is None:
            kept.append(item)
        else:
            bad.append(BadRow(line, *problem))
    return kept


async def load_catalogue(
    graph: Graph, parsed: Parsed, bad: list[BadRow], batch: int
) -> Counter[str]:
    """Write the brands, the categories whose ancestry holds, then the products that fit."""
    brands: list[Brand] = [b for _, b in parsed["brand"]]
    categories: list[tuple[int, Category]] = parsed["category"]
    # A parent must be in the file or in the graph, and itself be loadable:
    # drop categories whose ancestry is broken until nothing changes.
    in_graph_missing = await missing_ids(
        graph,
        "category",
        {c.parent_id for _, c in categories if c.parent_id} - {c.id for _, c in categories},
    )
    in_file = {c.id for _, c in categories}
    ok = list(categories)
    while True:
        ids = {c.id for _, c in ok}
        good = [
            (line, c)
            for line, c in ok
            if not c.parent_id
            or c.parent_id in ids
            or (c.parent_id not in in_file and c.parent_id not in in_graph_missing)
        ]
        if len(good) == len(ok):
            break
        ok = good
    ok_ids = {id(c) for _, c in ok}
    kept_categories = _keep(
        categories,
        bad,
        lambda c: None if id(c) in ok_ids else ("parent_id", f"unknown category {c.parent_id!r}"),
    )
    await write_catalogue(graph, Catalogue(tuple(brands), tuple(kept_categories), ()), batch)
    products: list[tuple[int, Product]] = parsed["product"]
    no_brand = await missing_ids(graph, "brand", {p.brand_id for _, p in products if p.brand_id})
    no_category = await missing_ids(
        graph, "category", {p.category_id for _, p in products if p.category_id}
    )

    def product_ok(p: Product) -> tuple[str, str] | None:
        if p.brand_id in no_brand:
            return ("brand_id", f"unknown brand {p.brand_id!r}")
        if p.category_id in no_category:
            return ("category_id", f"unknown category {p.category_id!r}")
        return None

    kept_products = _keep(products, bad, product_ok)
    await write_catalogue(graph, Catalogue((), (), tuple(kept_products)), batch)
    return Counter(brand=len(brands), category=len(kept_categories), product=len(kept_products))


ERASED = "was erased at the customer's request: it is not loaded again"


async def load_customers(
    graph: Graph,
    parsed: Parsed,
    bad: list[BadRow],
    batch: int,
    pii_key: str,
    withdrawn: list[Withdrawal],
) -> Counter[str]:
    """Write the customers, then the devices and consents whose customer exists.

    The consents that withdrew a granted purpose are added to ``withdrawn``.

    A customer or device that was erased (graph/erasure.py) is a bad row: an
    export from the retailer's own systems must not bring them back.
    """
    gone = await erased_ids(graph, "customer", (c.id for _, c in parsed["customer"]), pii_key)
    customers = _keep(parsed["customer"], bad, lambda c: ("id", ERASED) if c.id in gone else None)
    await write_customer_base(graph, CustomerBase(tuple(customers), (), (), ()), batch)
    gone_devices = await erased_ids(
        graph, "device", (d.id for _, (d, _) in parsed["device"]), pii_key
    )
    devices: list[tuple[int, tuple[Device, DeviceLink | None]]] = _keep_lines(
        parsed["device"], bad, lambda d: ("id", ERASED) if d[0].id in gone_devices else None
    )
    consents: list[tuple[int, Consent]] = parsed["consent"]
    referenced = {link.customer_id for _, (_, link) in devices if link} | {
        c.customer_id for _, c in consents
    }
    no_customer = await missing_ids(graph, "customer", referenced)
    kept_devices = _keep(
        devices,
        bad,
        lambda d: (
            ("customer_id", f"unknown customer {d[1].customer_id!r}")
            if d[1] and d[1].customer_id in no_customer
            else None
        ),
    )
    kept_consents = _keep(
        consents,
        bad,
        lambda c: (
            ("customer_id", f"unknown customer {c.customer_id!r}")
            if c.customer_id in no_customer
            else None
        ),
    )
    base = CustomerBase(
        (),
        tuple(d for d, _ in kept_devices),
        tuple(link for _, link in kept_devices if link),
        tuple(kept_consents),
    )
    withdrawn.extend(await write_customer_base(graph, base, batch))
    return Counter(customer=len(customers), device=len(kept_devices), consent=len(kept_consents))
