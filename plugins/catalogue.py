"""Built-in plugin ``tightrope-catalogue``: products, brands and the category tree.

Nothing here is personal data, so no field needs a scope. Every read goes
through a per-request DataLoader, so a page of products with their brands and
categories costs one query per kind, however long the page. Only the keys are
non-null: a name, price or stock state the graph does not hold answers null.
"""

from __future__ import annotations

from typing import Any

import strawberry

from tightrope import (
    BadUserInput,
    Brand,
    Category,
    Connection,
    FieldSpec,
    Graph,
    Manifest,
    NotFound,
    Product,
    ProductPage,
    Settings,
    TypeSpec,
    VersionedCache,
    brands_by_id,
    cached_batch_loader,
    catalogue_version,
    categories_by_id,
    categories_of_products,
    children_of,
    connection_fields,
    connection_types,
    decode_cursor,
    encode_cursor,
    hookimpl,
    list_products,
    make_connection,
    page_size,
    products_by_sku,
    search_products,
)

Info = strawberry.Info

# Search results past this depth are not worth paging to; refine the search.
MAX_SEARCH_OFFSET = 1000


@hookimpl
def register_loaders(settings: Settings) -> dict[str, Any]:
    # One cache per app, shared by its requests: the catalogue is nobody's
    # personal data, and a catalogue load bumps the version that empties it.
    cache = VersionedCache(catalogue_version, max_age=settings.catalogue_cache_seconds)
    return {
        "product": cached_batch_loader(products_by_sku, cache),
        "brand": cached_batch_loader(brands_by_id, cache),
        "category": cached_batch_loader(categories_by_id, cache),
        "category_children": cached_batch_loader(children_of, cache),
        "product_categories": cached_batch_loader(categories_of_products, cache),
    }


@hookimpl
def register_types() -> list[TypeSpec]:
    return connection_types("Product")


# -- Query ----------------------------------------------------------------


async def product(root: Any, info: Info, sku: strawberry.ID) -> Product:
    found: Product | None = await info.context.loader("product").load(sku)
    if found is None:
        raise NotFound(f"no product with SKU {sku!r}", sku=sku)
    return found


async def brand(root: Any, info: Info, id: strawberry.ID) -> Brand:
    found: Brand | None = await info.context.loader("brand").load(id)
    if found is None:
        raise NotFound(f"no brand with id {id!r}", id=id)
    return found


async def category(root: Any, info: Info, id: strawberry.ID) -> Category:
    found: Category | None = await info.context.loader("category").load(id)
    if found is None:
        raise NotFound(f"no category with id {id!r}", id=id)
    return found


async def _page(
    info: Info,
    first: int | None,
    after: str | None,
    brand_id: str | None = None,
    category_id: str | None = None,
    search: str | None = None,
) -> Connection:
    settings: Settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    position = decode_cursor(after) or {}
    graph: Graph = info.context.graph
    page: ProductPage
    if search is not None and search.strip():
        offset = position.get("offset", 0)
        # Cursors are not signed: a forged one must not ask Neo4j to skip a
        # billion hits (and a bool is an int to isinstance).
        if type(offset) is not int or not 0 <= offset <= MAX_SEARCH_OFFSET or "sku" in position:
            raise BadUserInput("after: not a cursor of this search", argument="after")
        page = await search_products(graph, search, size, offset, brand_id, category_id)
        cursors = [encode_cursor({"offset": offset + i + 1}) for i in range(len(page.products))]
    else:
        last = position.get("sku")
        if position and not isinstance(last, str):
            raise BadUserInput("after: not a cursor of this list", argument="after")
        page = await list_products(graph, size, last, brand_id, category_id)
        cursors = [encode_cursor({"sku": p.sku}) for p in page.products]
    # Later fields (e.g. a nested product(sku)) then need no second read.
    products = info.context.loader("product")
    for p in page.products:
        products.prime(p.sku, p)
    return make_connection(page.products, cursors, page.has_next)


async def products(
    root: Any,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    category_id: strawberry.ID | None = None,
    brand_id: strawberry.ID | None = None,
    search: str | None = None,
) -> Connection:
    return await _page(info, first, after, brand_id, category_id, search)


# -- Product, Brand, Category ---------------------------------------------


async def product_brand(root: Product, info: Info) -> Brand | None:
    if not root.brand_id:
        return None
    found: Brand | None = await info.context.loader("brand").load(root.brand_id)
    return found


async def product_categories(root: Product, info: Info) -> list[Category]:
    found: list[Category] = await info.context.loader("product_categories").load(root.sku)
    return found


async def brand_products(
    root: Brand, info: Info, first: int | None = None, after: str | None = None
) -> Connection:
    return await _page(info, first, after, brand_id=root.id)


async def category_parent(root: Category, info: Info) -> Category | None:
    if root.parent_id is None:
        return None
    found: Category | None = await info.context.loader("category").load(root.parent_id)
    return found


async def category_children(root: Category, info: Info) -> list[Category]:
    found: list[Category] = await info.context.loader("category_children").load(root.id)
    return found


async def category_products(
    root: Category, info: Info, first: int | None = None, after: str | None = None
) -> Connection:
    return await _page(info, first, after, category_id=root.id)


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [
        FieldSpec("Query", "product", "Product", product, description="A product by SKU."),
        FieldSpec(
            "Query",
            "products",
            "ProductConnection!",
            products,
            description="Products in SKU order, or best match first when searching; "
            "filters combine, and a category includes its subcategories.",
        ),
        FieldSpec("Query", "brand", "Brand", brand, description="A brand by id."),
        FieldSpec("Query", "category", "Category", category, description="A category by id."),
        FieldSpec("Product", "sku", "ID!"),
        FieldSpec("Product", "name", "String"),
        FieldSpec("Product", "price", "Float", description="Null when the catalogue has none."),
        FieldSpec("Product", "inStock", "Boolean", attr="in_stock"),
        FieldSpec("Product", "brand", "Brand", product_brand),
        FieldSpec("Product", "categories", "[Category!]!", product_categories),
        FieldSpec("Brand", "id", "ID!"),
        FieldSpec("Brand", "name", "String"),
        FieldSpec("Brand", "products", "ProductConnection!", brand_products),
        FieldSpec("Category", "id", "ID!"),
        FieldSpec("Category", "name", "String"),
        FieldSpec("Category", "parent", "Category", category_parent),
        FieldSpec("Category", "children", "[Category!]!", category_children),
        FieldSpec(
            "Category",
            "products",
            "ProductConnection!",
            category_products,
            description="Products filed under this category or any below it.",
        ),
        *connection_fields("Product"),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(description="The catalogue: products, brands, categories. Nothing personal.")
