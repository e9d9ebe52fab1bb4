"""Reads of the catalogue: products, brands and the category tree.

Every function takes many ids at once, so the gateway's DataLoaders can batch a
whole request's reads into one query per kind. Lists are paged by keyset on the
SKU (stable under inserts); fulltext search is paged by offset, since its order
is by score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

from graph.batch import many_per_key, one_per_key
from graph.driver import Graph, reads
from graph.model import Brand, Category, Product

# Brand and category ids come from the relationships, so a product's own
# properties never have to be kept in step with them. Whatever is missing stays
# null (see graph/model.py): no price is not a price of 0.
PRODUCT_FIELDS: LiteralString = """
  p.sku AS sku, p.name AS name, p.price AS price, p.in_stock AS in_stock,
  head([(p)-[:OF_BRAND]->(b:Brand) | b.id]) AS brand_id,
  head([(p)-[:IN_CATEGORY]->(c:Category) | c.id]) AS category_id
"""

# The same, for a part of a shared statement (graph/together.py), whose row is a
# map: after ``WITH ..., PRODUCT_FIELDS``, these are its product entries.
PRODUCT_ROW: LiteralString = """
  sku: sku, name: name, price: price, in_stock: in_stock, brand_id: brand_id,
  category_id: category_id
"""

PRODUCTS_BY_SKU: LiteralString = (
    """
UNWIND $skus AS sku
MATCH (p:Product {sku: sku})
RETURN"""
    + PRODUCT_FIELDS
)

# Filters are optional: a null parameter switches its filter off. A category
# filter includes the category's descendants.
LIST_PRODUCTS: LiteralString = (
    """
MATCH (p:Product)
WHERE ($after IS NULL OR p.sku > $after)
  AND ($brand_id IS NULL OR EXISTS { (p)-[:OF_BRAND]->(:Brand {id: $brand_id}) })
  AND ($category_id IS NULL OR
       EXISTS { (p)-[:IN_CATEGORY]->(:Category)-[:PARENT*0..]->(:Category {id: $category_id}) })
WITH p ORDER BY p.sku LIMIT $limit
RETURN"""
    + PRODUCT_FIELDS
)

SEARCH_PRODUCTS: LiteralString = (
    """
CALL db.index.fulltext.queryNodes('product_search', $search) YIELD node AS p, score
WHERE ($brand_id IS NULL OR EXISTS { (p)-[:OF_BRAND]->(:Brand {id: $brand_id}) })
  AND ($category_id IS NULL OR
       EXISTS { (p)-[:IN_CATEGORY]->(:Category)-[:PARENT*0..]->(:Category {id: $category_id}) })
WITH p, score ORDER BY score DESC, p.sku SKIP $offset LIMIT $limit
RETURN"""
    + PRODUCT_FIELDS
)

BRANDS_BY_ID: LiteralString = """
UNWIND $ids AS id
MATCH (b:Brand {id: id})
RETURN b.id AS id, b.name AS name
"""

CATEGORIES_BY_ID: LiteralString = """
UNWIND $ids AS id
MATCH (c:Category {id: id})
RETURN c.id AS id, c.name AS name, head([(c)-[:PARENT]->(up:Category) | up.id]) AS parent_id
"""

CHILDREN_OF: LiteralString = """
UNWIND $ids AS id
MATCH (child:Category)-[:PARENT]->(:Category {id: id})
RETURN id AS of, child.id AS id, child.name AS name, id AS parent_id
ORDER BY child.name, child.id
"""

CATEGORIES_OF_PRODUCTS: LiteralString = """
UNWIND $skus AS sku
MATCH (:Product {sku: sku})-[:IN_CATEGORY]->(c:Category)
RETURN sku AS of, c.id AS id, c.name AS name,
       head([(c)-[:PARENT]->(up:Category) | up.id]) AS parent_id
ORDER BY c.name, c.id
"""


# Every catalogue write bumps this number (graph/ingest); caches of the catalogue
# compare it to the one they saw, and drop what they hold when it moved.
CATALOGUE_VERSION: LiteralString = """
OPTIONAL MATCH (v:CatalogueVersion {id: 'catalogue'})
RETURN v.value AS version
"""

BUMP_CATALOGUE_VERSION: LiteralString = """
MERGE (v:CatalogueVersion {id: 'catalogue'})
SET v.value = coalesce(v.value, 0) + 1, v.changed_at = datetime()
"""


@reads()
async def catalogue_version(graph: Graph) -> int | None:
    """The catalogue's version number; None if it was never written by a loader."""
    rows = await graph.read(CATALOGUE_VERSION)
    version = rows[0]["version"] if rows else None
    return int(version) if version is not None else None


@reads()
async def bump_catalogue_version(graph: Graph) -> None:
    """Tell every process's catalogue cache that the catalogue changed."""
    await graph.write(BUMP_CATALOGUE_VERSION)


@dataclass(frozen=True)
class ProductPage:
    """One page of a product list: the products, and whether more follow."""

    products: tuple[Product, ...]
    has_next: bool


def product_from_row(row: dict[str, Any]) -> Product:
    """The product in a row that holds :data:`PRODUCT_FIELDS`."""
    price = row["price"]
    return Product(
        sku=row["sku"],
        name=row["name"],
        price=None if price is None else float(price),
        brand_id=row["brand_id"],
        category_id=row["category_id"],
        in_stock=row["in_stock"],
    )


def _category(row: dict[str, Any]) -> Category:
    return Category(id=row["id"], name=row["name"], parent_id=row["parent_id"])


@reads()
async def products_by_sku(graph: Graph, skus: Sequence[str]) -> list[Product | None]:
    """The products with these SKUs, in the order asked; None where there is none."""
    rows = await graph.read(PRODUCTS_BY_SKU, {"skus": list(skus)})
    return one_per_key(skus, rows, product_from_row, key="sku")


@reads()
async def list_products(
    graph: Graph,
    first: int,
    after: str | None = None,
    brand_id: str | None = None,
    category_id: str | None = None,
) -> ProductPage:
    """Up to ``first`` products after SKU ``after``, in SKU order, optionally filtered."""
    rows = await graph.read(
        LIST_PRODUCTS,
        {"after": after, "brand_id": brand_id, "category_id": category_id, "limit": first + 1},
    )
    return ProductPage(tuple(product_from_row(r) for r in rows[:first]), len(rows) > first)


@reads()
async def search_products(
    graph: Graph,
    search: str,
    first: int,
    offset: int = 0,
    brand_id: str | None = None,
    category_id: str | None = None,
) -> ProductPage:
    """Products whose name matches ``search`` (words, not Lucene syntax), best first."""
    rows = await graph.read(
        SEARCH_PRODUCTS,
        {
            "search": lucene_terms(search),
            "brand_id": brand_id,
            "category_id": category_id,
            "offset": offset,
            "limit": first + 1,
        },
    )
    return ProductPage(tuple(product_from_row(r) for r in rows[:first]), len(rows) > first)


_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')


def lucene_terms(search: str) -> str:
    """The user's words with Lucene's operators escaped, so any text is a valid query."""
    words = [_LUCENE_SPECIAL.sub(r"\\\1", word) for word in search.split()]
    # Reserved words would otherwise be read as operators.
    return " ".join(f'"{w}"' if w in ("AND", "OR", "NOT", "TO") else w for w in words)


@reads()
async def brands_by_id(graph: Graph, ids: Sequence[str]) -> list[Brand | None]:
    rows = await graph.read(BRANDS_BY_ID, {"ids": list(ids)})
    return one_per_key(ids, rows, lambda row: Brand(row["id"], row["name"]))


@reads()
async def categories_by_id(graph: Graph, ids: Sequence[str]) -> list[Category | None]:
    rows = await graph.read(CATEGORIES_BY_ID, {"ids": list(ids)})
    return one_per_key(ids, rows, _category)


@reads()
async def children_of(graph: Graph, ids: Sequence[str]) -> list[list[Category]]:
    """The direct children of each category, by name."""
    rows = await graph.read(CHILDREN_OF, {"ids": list(ids)})
    return many_per_key(ids, rows, _category)


@reads()
async def categories_of_products(graph: Graph, skus: Sequence[str]) -> list[list[Category]]:
    """The categories each product is filed under, by name."""
    rows = await graph.read(CATEGORIES_OF_PRODUCTS, {"skus": list(skus)})
    return many_per_key(skus, rows, _category)
