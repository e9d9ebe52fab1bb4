"""The consent matrix: every field answers exactly when its purpose is allowed.

Nothing here lists fields or purposes by hand. The test reads the live SDL
(``@purpose`` and ``@dataCategory`` on each field), reaches every object type
from ``Query`` as the scope matrix does (test_scope_matrix.py), and sends real
bearer tokens while the customer has granted every purpose but one, in turn,
and then all of them:

- with a token of the retailer's own (first-party, every scope), a field whose
  purpose is the one withdrawn is ``null`` with ``CONSENT_REQUIRED`` naming
  that purpose and the field's category; every other field, ``service`` ones
  included, is not refused for consent;
- with a third party's token (every scope a third party may hold) and
  ``third_party_sharing`` withdrawn, no field that reveals a data category
  answers anything; with it granted, they answer as for the retailer.
"""

from __future__ import annotations

import time
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    StringValueNode,
    build_schema,
    get_named_type,
    is_non_null_type,
)

from gateway.graphql.schema import sdl
from gateway.oauth.devtokens import dev_token
from graph import PURPOSES, Graph
from graph.oauth import merge_grant
from tests.gateway.conftest import grant

from .conftest import add_client
from .helpers import bearer_for
from .test_gateway import gateway
from .test_scope_matrix import (
    CUSTOMER,
    _post,
    arguments,
    errors_at,
    parents,
    routes,
    selection,
    store_history,
)


def directive(field: GraphQLField, name: str) -> str | None:
    node = field.ast_node
    for found in (node.directives or ()) if node else ():
        if found.name.value == name:
            value = found.arguments[0].value
            assert isinstance(value, StringValueNode)
            return value.value
    return None


def consent_errors(body: dict[str, Any], path: list[str]) -> list[dict[str, Any]]:
    return [
        e["extensions"]
        for e in body.get("errors") or []
        if [p for p in e.get("path") or [] if isinstance(p, str)] == path
        and e["extensions"]["code"] == "CONSENT_REQUIRED"
    ]


async def answer_only(graph: Graph, withdrawn: str | None) -> None:
    """The customer's consents: every purpose granted except ``withdrawn``."""
    for purpose in PURPOSES:
        await grant(graph, CUSTOMER, purpose, granted=purpose != withdrawn)


async def test_every_field_answers_exactly_when_its_purpose_is_allowed(demo_graph: Graph) -> None:
    # Hundreds of requests in a few seconds: the matrix is about scopes, not rate limits.
    async with gateway(rate_limit_per_second=0) as (app, http):
        third = await add_client(app, "third_party", "profile:read")
        await merge_grant(demo_graph, CUSTOMER, third.client_id, ["profile:read"], int(time.time()))
        await store_history(demo_graph)
        mine = await bearer_for(app, CUSTOMER)
        await _post(http, "{ me { createdAt } }", mine)
        await app.state.access_log.flush()

        schema = build_schema(sdl(app.state.schema))
        reach = routes(schema, operations=("query",))
        purposes_served = set()
        refused_seen: set[str] = set()
        for withdrawn in (*PURPOSES, None):
            await answer_only(demo_graph, withdrawn)
            for type_name, route in sorted(reach.items()):
                owner = schema.get_type(type_name)
                assert isinstance(owner, GraphQLObjectType)
                fields = owner.fields
                inner = " ".join(
                    f"{name}{arguments(f, get_named_type(f.type).name)}{selection(f)}"
                    for name, f in fields.items()
                )
                body = await _post(http, route.document(inner), mine)
                objects = parents(body.get("data"), route.steps)
                for name, field in fields.items():
                    purpose = directive(field, "purpose")
                    if purpose is None:
                        continue
                    purposes_served.add(purpose)
                    path = [step for step, _ in route.steps] + [name]
                    where = f"{type_name}.{name} ({purpose}) with {withdrawn} withdrawn"
                    found = consent_errors(body, path)
                    if purpose == withdrawn and objects:
                        assert all(o.get(name) is None for o in objects), where
                        assert found, where
                        assert {e["purpose"] for e in found} == {purpose}, where
                        assert {e["category"] for e in found} == {
                            directive(field, "dataCategory")
                        }, where
                        refused_seen.add(f"{type_name}.{name}")
                    else:
                        assert found == [], where
                        if objects and is_non_null_type(field.type):
                            assert all(o.get(name) is not None for o in objects), where
        # The matrix means something only if some field serves a consent purpose.
        assert purposes_served - {"service"}, purposes_served
        assert refused_seen, "no field was ever refused for consent"


async def test_a_third_party_reads_no_personal_field_without_third_party_sharing(
    demo_graph: Graph,
) -> None:
    # Hundreds of requests in a few seconds: the matrix is about scopes, not rate limits.
    async with gateway(rate_limit_per_second=0) as (app, http):
        service = app.state.oauth
        allowed = sorted(service.catalogue.allowed_for("third_party"))
        third = await add_client(app, "third_party", " ".join(allowed))
        await store_history(demo_graph)
        token = await dev_token(
            demo_graph, service, client_id=third.client_id, customer_id=CUSTOMER, scopes=allowed
        )
        schema = build_schema(sdl(app.state.schema))
        reach = routes(schema, operations=("query",))
        answered: dict[str | None, set[str]] = {}
        for withdrawn in ("third_party_sharing", None):
            await answer_only(demo_graph, withdrawn)
            answered[withdrawn] = set()
            for type_name, route in sorted(reach.items()):
                owner = schema.get_type(type_name)
                assert isinstance(owner, GraphQLObjectType)
                inner = " ".join(
                    f"{name}{arguments(f, get_named_type(f.type).name)}{selection(f)}"
                    for name, f in owner.fields.items()
                )
                body = await _post(http, route.document(inner), token)
                objects = parents(body.get("data"), route.steps)
                for name, field in owner.fields.items():
                    if directive(field, "dataCategory") is None:
                        continue
                    if any(o.get(name) is not None for o in objects):
                        answered[withdrawn].add(f"{type_name}.{name}")
                    path = [step for step, _ in route.steps] + [name]
                    codes = errors_at(body, path)
                    if withdrawn and objects:
                        assert "CONSENT_REQUIRED" in codes or "FORBIDDEN" in codes, path
    assert answered["third_party_sharing"] == set()
    # Granted, the same token reads what its scopes allow: the refusal was the consent.
    assert {"Query.me", "Customer.purchases", "Purchase.product"} <= answered[None]
