"""The catalogue over HTTP: lookups, the category tree, cursor pagination, filters, search."""

from __future__ import annotations

from gateway import encode_cursor
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql

PAGE = """
query Page($first: Int, $after: String, $category: ID, $brand: ID, $search: String) {
  products(first: $first, after: $after, categoryId: $category, brandId: $brand, search: $search) {
    edges { cursor node { sku name price inStock brand { id } categories { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def walk(client, **variables) -> list[str]:  # type: ignore[no-untyped-def]
    """Follow endCursor until the last page; return the SKUs in the order served."""
    skus: list[str] = []
    after = None
    while True:
        body = await gql(client, PAGE, {**variables, "after": after})
        assert "errors" not in body, body
        page = body["data"]["products"]
        skus += [edge["node"]["sku"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return skus
        after = page["pageInfo"]["endCursor"]


async def test_product_by_sku_with_brand_and_categories(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(
            client,
            '{ product(sku: "sku-010") { sku name price inStock brand { id name }'
            " categories { id name parent { id } } } }",
        )
    product = body["data"]["product"]
    assert product["name"] == "Trail Runner 10"
    assert product["price"] == 20.0
    assert product["inStock"] is False  # every fifth product is out of stock
    assert product["brand"] == {"id": "acme", "name": "Acme"}
    assert sorted(c["id"] for c in product["categories"]) == ["home", "shoes"]


async def test_unknown_product_is_null_with_not_found(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(client, '{ product(sku: "nope") { sku } brand(id: "acme") { name } }')
    assert body["data"] == {"product": None, "brand": {"name": "Acme"}}
    assert codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["path"] == ["product"]


async def test_category_tree(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        body = await gql(
            client,
            '{ category(id: "women") { name parent { id } children { id name parent { id } } } }',
        )
    women = body["data"]["category"]
    assert women["parent"] is None
    assert women["children"] == [
        {"id": "coats", "name": "Coats", "parent": {"id": "women"}},
        {"id": "shoes", "name": "Shoes", "parent": {"id": "women"}},
    ]


async def test_pages_cover_every_product_once_in_order(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        skus = await walk(client, first=25)
    assert skus == [f"sku-{i:03d}" for i in range(1, 61)]


async def test_filters_combine_and_category_includes_children(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        women = await walk(client, first=7, category="women")
        zen_shoes = await walk(client, first=7, category="shoes", brand="zen")
        brand_page = await gql(
            client, '{ brand(id: "zen") { products(first: 3) { nodes { sku } } } }'
        )
    assert len(women) == 60  # every product sits under Shoes or Coats, both under Women
    # Shoes are the even SKUs, Zen the multiples of three.
    assert zen_shoes == [f"sku-{i:03d}" for i in range(6, 61, 6)]
    assert [n["sku"] for n in brand_page["data"]["brand"]["products"]["nodes"]] == [
        "sku-003",
        "sku-006",
        "sku-009",
    ]


async def test_search_uses_the_fulltext_index_and_pages(demo_graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        found = await walk(client, first=8, search="trail")
        odd = await gql(client, PAGE, {"search": 'wool AND "(coat'})
    assert sorted(found) == [f"sku-{i:03d}" for i in range(2, 61, 2)]
    assert len(found) == len(set(found))
    # Lucene operators in the user's text are words, never a syntax error.
    assert "errors" not in odd


async def test_page_size_beyond_the_maximum_is_bad_user_input(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        body = await gql(client, PAGE, {"first": 101})
        garbled = await gql(client, PAGE, {"first": 5, "after": "not-a-cursor"})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "100" in body["errors"][0]["message"]
    assert codes(garbled) == ["BAD_USER_INPUT"]


async def test_a_forged_search_cursor_is_bad_user_input(demo_graph: Graph, served: Serve) -> None:
    # Cursors are plain base64: a client can write any offset into one.
    forged = {
        "deep": encode_cursor({"offset": 10**12}),
        "bool": encode_cursor({"offset": True}),
        "negative": encode_cursor({"offset": -1}),
    }
    async with served() as (_, client):
        answers = {
            name: await gql(client, PAGE, {"search": "trail", "after": cursor})
            for name, cursor in forged.items()
        }
        deepest_cursor = encode_cursor({"offset": 1000})
        deepest = await gql(client, PAGE, {"search": "trail", "after": deepest_cursor})
    for name, body in answers.items():
        assert codes(body) == ["BAD_USER_INPUT"], name
    assert "errors" not in deepest
