"""No N+1: a page of products with their brands and categories costs a fixed number of reads."""

from __future__ import annotations

from graph import Graph
from tests.gateway.conftest import Serve, gql

QUERY = """
{ products(first: 50) {
    nodes { sku name brand { id name } categories { id name parent { id name } } }
} }
"""

# One read for the page, one for all the brands, one for all the products'
# categories, one for all those categories' parents, and one look at the
# catalogue version (the cache's, at most once a second per process).
EXPECTED_ROUND_TRIPS = 5


async def test_fifty_products_with_brands_and_categories(demo_graph: Graph, served: Serve) -> None:
    async with served() as (app, client):
        graph: Graph = app.state.graph
        before = graph.round_trips
        body = await gql(client, QUERY)
        used = graph.round_trips - before
    assert "errors" not in body, body
    nodes = body["data"]["products"]["nodes"]
    assert len(nodes) == 50
    assert all(n["brand"]["name"] in ("Acme", "Zen") for n in nodes)
    parents = {c["id"]: c["parent"] and c["parent"]["id"] for n in nodes for c in n["categories"]}
    assert parents == {"shoes": "women", "coats": "women", "home": None}
    assert used == EXPECTED_ROUND_TRIPS


async def test_cost_does_not_grow_with_the_page(demo_graph: Graph, served: Serve) -> None:
    async with served() as (app, client):
        graph: Graph = app.state.graph
        before = graph.round_trips
        await gql(client, QUERY.replace("50", "5"))
        small = graph.round_trips - before
    assert small == EXPECTED_ROUND_TRIPS
