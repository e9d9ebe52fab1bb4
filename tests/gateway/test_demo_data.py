"""The core queries against the demo catalogue (gateway/demo.py, written by graph/ingest/)."""

from __future__ import annotations

from collections import Counter

from gateway.demo import build_catalogue
from graph import Graph
from graph.ingest import write_catalogue
from tests.gateway.conftest import Serve, gql

WALK = """
query Walk($category: ID, $after: String) {
  products(first: 40, categoryId: $category, after: $after) {
    nodes { sku brand { id } categories { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_demo_catalogue_served_as_loaded(clean_graph: Graph, served: Serve) -> None:
    catalogue = build_catalogue(products=300, seed=7)
    await write_catalogue(clean_graph, catalogue)
    root = next(c for c in catalogue.categories if c.parent_id is None)
    parent_of = {c.id: c.parent_id for c in catalogue.categories}

    def under_root(category_id: str | None) -> bool:
        while category_id is not None:
            if category_id == root.id:
                return True
            category_id = parent_of[category_id]
        return False

    expected = sorted(p.sku for p in catalogue.products if under_root(p.category_id))
    by_sku = {p.sku: p for p in catalogue.products}

    served_skus: list[str] = []
    async with served() as (_, client):
        after = None
        while True:
            body = await gql(client, WALK, {"category": root.id, "after": after})
            assert "errors" not in body, body
            page = body["data"]["products"]
            for node in page["nodes"]:
                product = by_sku[node["sku"]]
                assert node["brand"]["id"] == product.brand_id
                assert [c["id"] for c in node["categories"]] == [product.category_id]
                served_skus.append(node["sku"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        word = Counter(p.name.split()[-1] for p in catalogue.products).most_common(1)[0][0]
        found = await gql(
            client,
            "query ($q: String) { products(first: 100, search: $q) { nodes { name } } }",
            {"q": word},
        )

    assert served_skus == expected and expected
    names = [n["name"] for n in found["data"]["products"]["nodes"]]
    assert names and all(word.lower() in name.lower() for name in names)
