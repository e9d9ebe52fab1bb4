"""The scope matrix: for every field of the served schema and every scope, the field
answers exactly when the token's scopes allow it.

Nothing here lists fields. The test reads the live SDL (``@requiresScopes`` on
each field), finds a way to reach every object type from ``Query`` or
``Mutation``, and for each type sends real bearer tokens holding, in turn, no
extra scope, each single scope of the catalogue, and exactly what each field
requires. A field whose required scopes the token lacks must be ``null`` with
a ``FORBIDDEN`` error at its path; any other field must not be refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    ListValueNode,
    StringValueNode,
    Undefined,
    ast_from_value,
    build_schema,
    get_named_type,
    is_enum_type,
    is_non_null_type,
    is_object_type,
    print_ast,
)

from gateway.gate.ids import VisitIds
from gateway.graphql.schema import sdl
from gateway.strategies import recompute
from graph import PURPOSES, Event, Graph, parse_event, write_events
from graph.oauth import merge_grant
from tests.conftest import TEST_PII_KEY
from tests.gateway.conftest import grant

from .conftest import add_client
from .helpers import bearer_for
from .test_gateway import gateway

# A visit with ids the gateway issued (gateway/gate/ids.py): only the shop's own
# services may read a visit by an id the gateway did not issue.
_IDS = VisitIds(TEST_PII_KEY)
SAMPLE_DEVICE = _IDS.new_device()
# Ids of the seeded graph (tests/gateway/conftest.py), by the type an argument
# fetches; the session is stored by history_of.
SAMPLE_IDS = {
    "Customer": "c1",
    "Session": _IDS.new_session(SAMPLE_DEVICE),
    "Brand": "acme",
    "Category": "shoes",
    "Product": "sku-001",
}
CUSTOMER = "c1"


def required_scopes(field: GraphQLField) -> frozenset[str]:
    node = field.ast_node
    for directive in (node.directives or ()) if node else ():
        if directive.name.value == "requiresScopes":
            value = directive.arguments[0].value
            assert isinstance(value, ListValueNode)
            return frozenset(v.value for v in value.values if isinstance(v, StringValueNode))
    return frozenset()


def sample(type_: GraphQLInputType, name: str, owner: str) -> Any:
    """A value of an input type good enough to reach a field (not necessarily valid data)."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type, name, owner)
    if isinstance(type_, GraphQLList):
        if name == "events":
            # One event the gateway rejects (RejectedEvent), one it stores with a
            # signal it ignores (IgnoredSignal).
            signal = {
                "eventId": "matrix-signal",
                "type": "VIEW",
                "at": "2025-01-01T00:00:00Z",
                "sessionId": SAMPLE_IDS["Session"],
                "deviceId": SAMPLE_DEVICE,
                "sku": SAMPLE_IDS["Product"],
                "network": "not-a-network",
            }
            return [sample(type_.of_type, name, owner), signal]
        return [sample(type_.of_type, name, owner)]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            key: sample(f.type, key, owner)
            for key, f in type_.fields.items()
            if is_non_null_type(f.type) and f.default_value is Undefined
        }
    if is_enum_type(type_):
        return next(iter(type_.values))  # type: ignore[attr-defined]
    scalar = type_.name  # type: ignore[union-attr]
    if scalar in ("ID", "String"):
        if name == "purpose":
            return "personalisation"
        return SAMPLE_IDS.get(owner, "no-such-thing") if name in ("id", "sku") else "x"
    return {"Int": 1, "Float": 1.0, "Boolean": True}.get(scalar, "2025-01-01T00:00:00Z")


def arguments(field: GraphQLField, owner: str) -> str:
    rendered = []
    for name, arg in field.args.items():
        if is_non_null_type(arg.type) and arg.default_value is Undefined:
            node = ast_from_value(sample(arg.type, name, owner), arg.type)
            assert node is not None, name
            rendered.append(f"{name}: {print_ast(node)}")
    return f"({', '.join(rendered)})" if rendered else ""


def selection(field: GraphQLField) -> str:
    return " { __typename }" if is_object_type(get_named_type(field.type)) else ""


@dataclass(frozen=True)
class Route:
    """How to reach objects of a type: operation, path of (field, args), scopes on the way."""

    operation: str
    steps: tuple[tuple[str, str], ...]
    scopes: frozenset[str]

    def key(self) -> tuple[int, int, bool]:
        return (len(self.scopes), len(self.steps), self.operation == "mutation")

    def document(self, inner: str) -> str:
        text = inner
        for name, args in reversed(self.steps):
            text = f"{name}{args} {{ {text} }}"
        return f"{self.operation} {{ {text} }}"


def routes(
    schema: GraphQLSchema, operations: tuple[str, ...] = ("query", "mutation")
) -> dict[str, Route]:
    """The cheapest route (fewest scopes, then shortest) to every reachable object type."""
    best: dict[str, Route] = {}
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if root is not None and operation in operations:
            best[root.name] = Route(operation, (), frozenset())
    changed = True
    while changed:
        changed = False
        for type_name, route in list(best.items()):
            owner = schema.get_type(type_name)
            assert isinstance(owner, GraphQLObjectType)
            for name, field in owner.fields.items():
                target = get_named_type(field.type)
                if not is_object_type(target):
                    continue
                candidate = Route(
                    route.operation,
                    (*route.steps, (name, arguments(field, target.name))),
                    route.scopes | required_scopes(field),
                )
                known = best.get(target.name)
                if known is None or candidate.key() < known.key():
                    best[target.name] = candidate
                    changed = True
    return best


def every_field_document(schema: GraphQLSchema, type_name: str, route: Route) -> str:
    """A document that reaches objects of ``type_name`` by ``route`` and selects all its fields."""
    owner = schema.get_type(type_name)
    assert isinstance(owner, GraphQLObjectType)
    inner = " ".join(
        f"{name}{arguments(f, get_named_type(f.type).name)}{selection(f)}"
        for name, f in owner.fields.items()
    )
    return route.document(inner)


def parents(data: Any, steps: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    level: list[Any] = [data]
    for name, _ in steps:
        nxt: list[Any] = []
        for obj in level:
            value = obj.get(name) if isinstance(obj, dict) else None
            nxt.extend(value if isinstance(value, list) else [value])
        level = nxt
    return [obj for obj in level if isinstance(obj, dict)]


def errors_at(body: dict[str, Any], path: list[str]) -> list[str]:
    found = []
    for error in body.get("errors") or []:
        names = [p for p in error.get("path") or [] if isinstance(p, str)]
        if names == path:
            found.append(error["extensions"]["code"])
    return found


async def test_every_field_answers_exactly_when_the_scopes_allow(demo_graph: Graph) -> None:
    # Hundreds of requests with one token: at full speed they outrun the default
    # bucket (100, then 50/s), and this matrix is about scopes, not rate limits.
    # The shop's figures stand on two customers here (the fewest a setting allows).
    async with gateway(rate_limit_per_second=0, insights_min_customers=2) as (app, http):
        # Data for every type: the seed, plus an app the customer authorised.
        third = await add_client(app, "third_party", "profile:read")
        await merge_grant(demo_graph, CUSTOMER, third.client_id, ["profile:read"], int(time.time()))
        # ... and the customer's history: a view, a basket item and a purchase.
        await store_history(demo_graph)
        # ... and what recommendations are served from, derived from that history.
        await recompute(list(app.state.assembly.recommendations.strategies.values()), demo_graph)
        # ... every consent granted (this matrix is about scopes; test_consent_matrix.py
        # is about consents), and a read in the access log.
        await grant(demo_graph, CUSTOMER, *PURPOSES)
        # ... and a second customer who bought the same, for the shop's figures.
        await demo_graph.write("CREATE (:Customer {id: 'c2', created_at: datetime()})")
        bought = [
            replace(e, event_id=f"c2-{e.event_id}", customer_id="c2")
            for e in history_of(CUSTOMER, SAMPLE_IDS["Session"])
            if e.type == "purchase"
        ]
        await write_events(demo_graph, bought, pii_key=TEST_PII_KEY)
        await grant(demo_graph, "c2", "analytics")
        reader = await bearer_for(app, CUSTOMER, {"profile:read"})
        await _post(http, "{ me { createdAt } }", reader)
        await app.state.access_log.flush()

        schema = build_schema(sdl(app.state.schema))
        catalogue = (await http.get("/.well-known/oauth-authorization-server")).json()[
            "scopes_supported"
        ]
        reach = routes(schema)
        back_office = app.state.oauth.catalogue.table.back_office
        checked: set[str] = set()
        unreachable = [
            name
            for name, t in schema.type_map.items()
            if isinstance(t, GraphQLObjectType) and not name.startswith("__") and name not in reach
        ]
        assert unreachable == [], f"object types no query can reach: {unreachable}"

        for type_name, route in sorted(reach.items()):
            owner = schema.get_type(type_name)
            assert isinstance(owner, GraphQLObjectType)
            fields = owner.fields
            document = every_field_document(schema, type_name, route)
            options = {frozenset()} | {frozenset({s}) for s in catalogue}
            options |= {required_scopes(f) for f in fields.values()}
            for option in sorted(options, key=sorted):
                granted = route.scopes | option
                # The back office's scopes come only in a token without a customer.
                customer = None if granted & back_office else CUSTOMER
                token = await bearer_for(app, customer, granted)
                body = await _post(http, document, token)
                objects = parents(body.get("data"), route.steps)
                for name, field in fields.items():
                    where = f"{type_name}.{name} with {sorted(granted)}"
                    needed = required_scopes(field)
                    allowed = needed <= granted
                    path = [step for step, _ in route.steps] + [name]
                    codes = errors_at(body, path)
                    if not objects:
                        continue
                    if allowed:
                        assert "FORBIDDEN" not in codes, where
                        if needed or is_non_null_type(field.type):
                            assert codes or all(o.get(name) is not None for o in objects), where
                        checked.add(f"{type_name}.{name}")
                    else:
                        assert all(o.get(name) is None for o in objects), where
                        assert "FORBIDDEN" in codes, where

        every = {
            f"{name}.{field}"
            for name, t in schema.type_map.items()
            if isinstance(t, GraphQLObjectType) and not name.startswith("__")
            for field in t.fields
        }
        assert every - checked == set(), "fields the matrix saw no data for"


async def store_history(graph: Graph) -> None:
    """The customer's history on their phone (the sample visit's device, linked)."""
    await write_events(graph, history_of(CUSTOMER, SAMPLE_IDS["Session"]), pii_key=TEST_PII_KEY)
    await graph.write(
        "MATCH (d:Device {id: $d}), (c:Customer {id: $c}) CREATE (d)-[:USED_BY "
        "{method: 'login', confidence: 1.0, linked_at: datetime(), evidence: ['signed in']}]->(c)",
        {"d": SAMPLE_DEVICE, "c": CUSTOMER},
    )
    # ... and a device suggested to them (graph/suggestions.py).
    await graph.write(
        "MATCH (c:Customer {id: $c}) CREATE (:Device {id: 'matrix-tablet', kind: 'tablet', "
        "ua_family: 'Safari', last_seen: datetime()})-[:SUGGESTED {confidence: 0.6, "
        "evidence: ['typed'], suggested_at: datetime()}]->(c)",
        {"c": CUSTOMER},
    )


def history_of(customer: str, session: str) -> list[Event]:
    """A view and an add-to-cart in ``session`` an hour ago, and a purchase (a basket
    item must be recent to count, so these are dated from now)."""
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    device = SAMPLE_DEVICE
    rows = [
        {"type": "view", "session_id": session, "device_id": device, "sku": "sku-001"},
        {"type": "add_to_cart", "session_id": session, "device_id": device, "sku": "sku-002"},
        {"type": "purchase", "customer_id": customer, "sku": "sku-003"},
    ]
    return [parse_event({**row, "event_id": f"matrix-{i}", "at": at}) for i, row in enumerate(rows)]


async def _post(http: httpx.AsyncClient, document: str, token: str) -> dict[str, Any]:
    answer = await http.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
