"""The scope gate: fields declare scopes, the host enforces them for every resolver.

The principal here is a third party, so c1 has granted third_party_sharing:
without it a third party reads nothing personal (tests/gateway/test_consent.py).
"""

from __future__ import annotations

from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.graphql.schema import build_schema, collect_registry
from gateway.host.manager import load_plugins
from graph import Graph
from tests.gateway.conftest import Serve, gql, grant, settings_for_tests


def principal_with(*scopes: str):  # type: ignore[no-untyped-def]
    async def authenticate(request: Request) -> Principal:
        return Principal("app", ClientKind.THIRD_PARTY, "c1", frozenset(scopes))

    return authenticate


async def test_missing_scope_nulls_the_field_names_path_and_scope(
    demo_graph: Graph, served: Serve
) -> None:
    query = "{ me { id createdAt devices { id } } }"
    await grant(demo_graph, "c1", "third_party_sharing")
    async with served(authenticate=principal_with("profile:read")) as (_, client):
        body = await gql(client, query)
    assert body["data"] == {
        "me": {"id": "c1", "createdAt": "2025-01-02T03:04:05+00:00", "devices": None}
    }
    [error] = body["errors"]
    assert error["path"] == ["me", "devices"]
    assert error["extensions"] == {"code": "FORBIDDEN", "missingScopes": ["devices:read"]}
    assert "me.devices" in error["message"] and "devices:read" in error["message"]


async def test_the_seam_can_be_replaced_on_a_running_app(demo_graph: Graph, served: Serve) -> None:
    await grant(demo_graph, "c1", "third_party_sharing")
    async with served() as (app, client):
        app.state.authenticate = principal_with("devices:read")
        body = await gql(client, "{ me { devices { id } createdAt } }")
    assert body["data"]["me"]["devices"] == [{"id": "d1"}]
    assert body["data"]["me"]["createdAt"] is None


def test_sdl_shows_required_scopes_and_data_categories() -> None:
    settings = settings_for_tests()
    registry = collect_registry(load_plugins(), settings)
    sdl = build_schema(registry, settings).as_str()
    assert 'devices: [Device!] @requiresScopes(scopes: ["devices:read"])' in sdl
    assert 'customer(id: ID!): Customer @requiresScopes(scopes: ["customers:read"])' in sdl
    # tightrope schema shows each gated field's purpose beside its category.
    assert (
        "recentlyViewed(first: Int = null): [ViewedProduct!] @requiresScopes(scopes: "
        '["browsing:read"]) @dataCategory(name: "browsing_history") '
        '@purpose(name: "personalisation")'
    ) in sdl
    assert '@dataCategory(name: "purchase_history") @purpose(name: "service")' in sdl
    spec = registry.get("Customer", "devices")
    assert spec is not None and spec.plugin == "tightrope-customers"
    assert spec.scopes == frozenset({"devices:read"})


def test_only_gated_fields_pay_for_the_gate() -> None:
    """The catalogue (and any field without scopes or a row rule) has no extension."""
    settings = settings_for_tests()
    registry = collect_registry(load_plugins(), settings)
    schema = build_schema(registry, settings)
    for spec in registry.fields:
        definition = schema.get_type_by_name(spec.type_name)
        assert definition is not None
        [field] = [f for f in definition.fields if f.graphql_name == spec.name]  # type: ignore[union-attr]
        expected = 1 if spec.gated else 0
        assert len(field.extensions) == expected, spec.key
    assert not any(registry.get("Product", name).gated for name in ("sku", "name", "price"))  # type: ignore[union-attr]
