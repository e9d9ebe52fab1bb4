"""The cost limit: a document that would read too much is refused before anything is read."""

from __future__ import annotations

from typing import Any

from graphql import parse
from starlette.requests import Request

from gateway import (
    ClientKind,
    DataCategory,
    FieldSpec,
    Manifest,
    Principal,
    Purpose,
    RowRule,
    hookimpl,
)
from gateway.graphql.cost import Weights, document_costs
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests

NESTED = """
query($outer: Int, $inner: Int) {
  products(first: $outer) { edges { node { brand { products(first: $inner) {
    edges { node { sku name } } } } } } }
}
"""


async def test_a_document_over_the_limit_is_refused_naming_the_limit_and_its_cost(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (app, client):
        graph: Graph = app.state.graph
        before = graph.round_trips
        refused = await gql(client, NESTED, {"outer": 100, "inner": 100})
        reads = graph.round_trips - before
        # The same text (its document kept) with smaller lists passes: only the
        # variables change the cost of a known text.
        allowed = await gql(client, NESTED, {"outer": 5, "inner": 5})
    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert refused.get("data") is None
    assert reads == 0  # refused before a single graph read
    error = refused["errors"][0]
    # 100 x (products, edges, node, brand: 4 + 100 x (products, edges, node, sku, name: 5))
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 50400, "limit": 5000}
    assert error["message"] == "query cost 50400 exceeds the limit of 5000 for anonymous clients"
    assert "errors" not in allowed
    assert len(allowed["data"]["products"]["edges"]) == 5


def shoe_size() -> int:
    return 42


def shop_name() -> str:
    return "Acme"


class Secret:
    """A plugin adding one personal field and one catalogue field of the same shape."""

    tightrope_name = "cost-test"

    @hookimpl
    def plugin_manifest(self) -> Manifest:
        return Manifest(
            purposes=frozenset({Purpose.SERVICE}), categories=frozenset({DataCategory.PROFILE})
        )

    @hookimpl
    def register_fields(self) -> list[FieldSpec]:
        return [
            FieldSpec(
                "Query",
                "shoeSize",
                "Int",
                shoe_size,
                data_category=DataCategory.PROFILE,
                purpose=Purpose.SERVICE,
                row=RowRule.SELF,
            ),
            FieldSpec("Query", "shopName", "String", shop_name),
        ]


def test_weights_come_from_the_registry_personal_fields_weigh_more() -> None:
    from gateway.app import assemble

    settings = settings_for_tests(cost_personal_weight=7, cost_catalogue_weight=2)
    assembly = assemble(settings, [Secret()])
    weights = Weights.of(assembly.registry, settings)
    schema = assembly.schema._schema

    def cost(text: str, variables: dict[str, Any] | None = None) -> int:
        return document_costs(schema, parse(text), weights)[None].of(variables, 100)

    assert cost("{ shoeSize }") == 7
    assert cost("{ shopName }") == 2
    assert cost("{ __typename }") == 0
    # A list multiplies by its `first`: the literal, the variable, else the default page size.
    assert cost("{ brand(id: 1) { products(first: 10) { pageInfo { hasNextPage } } } }") == (
        2 + 10 * (2 + 2 + 2)
    )
    by_variable = "query($n: Int) { brand(id: 1) { products(first: $n) { edges { cursor } } } }"
    assert cost(by_variable, {"n": 3}) == 2 + 3 * 6
    assert cost(by_variable, {}) == 2 + settings.default_page_size * 6
    assert cost(by_variable, {"n": 10**9}) == 2 + settings.max_page_size * 6
    # Fragments count where they are spread.
    assert cost("{ ...f ...f } fragment f on Query { shoeSize }") == 14
    # Every plugin's personal fields weigh as such, the consent and privacy
    # plugins' included: nothing is listed by hand.
    for plugin in ("tightrope-consent", "tightrope-privacy", "tightrope-customers"):
        fields = [f for f in assembly.registry.fields if f.plugin == plugin]
        assert fields, plugin
        for f in fields:
            expected = 7 if f.data_category is not None else 2
            assert weights.weight(f.type_name, f.name) == expected, (plugin, f.key)
    # accessLog (a connection) multiplies by its `first` like any list.
    log = "{ me { accessLog(first: 10) { nodes { at purpose } } } }"
    assert cost(log) == 7 + 10 * (7 + 2 + 7 + 7)  # me + 10 x (accessLog, nodes, at, purpose)


def principal_of_kind(kind: ClientKind | None) -> Any:
    async def authenticate(request: Request) -> Principal:
        if kind is None:
            return Principal()
        return Principal("some-client", kind, None, frozenset())

    return authenticate


async def test_each_kind_of_client_has_its_own_limit(demo_graph: Graph, served: Serve) -> None:
    query = "{ products(first: 40) { edges { node { sku name price } } } }"  # 40 x 5 = 200
    settings = settings_for_tests(
        max_cost_first_party=500,
        max_cost_third_party=100,
        max_cost_public=300,
        max_cost_anonymous=150,
    )
    answers = {}
    for kind in (ClientKind.FIRST_PARTY, ClientKind.THIRD_PARTY, ClientKind.PUBLIC, None):
        async with served(settings, authenticate=principal_of_kind(kind)) as (_, client):
            answers[kind] = await gql(client, query)
    assert "errors" not in answers[ClientKind.FIRST_PARTY]
    assert "errors" not in answers[ClientKind.PUBLIC]
    assert codes(answers[ClientKind.THIRD_PARTY]) == ["QUERY_TOO_COMPLEX"]
    assert (
        "limit of 100 for third_party clients"
        in answers[ClientKind.THIRD_PARTY]["errors"][0]["message"]
    )
    assert codes(answers[None]) == ["QUERY_TOO_COMPLEX"]
