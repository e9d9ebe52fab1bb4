"""The schema, assembled at start-up from what the plugins registered.

Two steps: :func:`collect_registry` asks every plugin for scopes, types and
fields and refuses clashes (naming both plugins), unknown types and undeclared
scopes; :func:`build_schema` turns the registry into strawberry types. Each type
is a class made at run time: first an empty class per type name, so fields can
refer to any type (even circularly), then the fields are set and the class is
decorated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Optional, get_args, get_origin

import strawberry
from graphql import GraphQLError
from strawberry.schema_directive import Location
from strawberry.types import ExecutionContext, Info

from gateway.fields import CORE_SCOPES, CORE_TYPES, FieldRegistry, FieldSpec, ScopeSpec, TypeSpec
from gateway.gate import extensions_for
from gateway.graphql.after_operation import AfterOperation
from gateway.graphql.documents import DocumentGuards, WithoutSuggestions, document_guard
from gateway.host.isolation import isolate
from gateway.host.manager import PluginError, PluginHost
from gateway.settings import Settings
from gateway.web.metrics import Metrics


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresScopes",
    description="The OAuth scopes a token needs to read this field.",
)
class RequiresScopes:
    scopes: list[str]


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="dataCategory",
    description="The kind of personal data this field reveals.",
)
class DataCategoryDirective:
    name: str


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="purpose",
    description="What reading this field serves; consent is given per purpose.",
)
class PurposeDirective:
    name: str


# Distinct query texts whose parsed, validated document is kept (gateway/graphql/documents.py).
DOCUMENT_CACHE_SIZE = 512

SCALARS: dict[str, Any] = {
    "String": str,
    "Int": int,
    "Float": float,
    "Boolean": bool,
    "ID": strawberry.ID,
    "DateTime": datetime,
}

DESCRIPTIONS = {
    "Customer": "A customer of the retailer.",
    "Product": "A product of the catalogue, identified by its SKU.",
    "Brand": "A brand products are sold under.",
    "Category": "A node of the category tree.",
    "Device": "A device a visitor used.",
    "Session": "One visit, possibly anonymous, on one device.",
}


def collect_registry(host: PluginHost, settings: Settings) -> FieldRegistry:
    """Everything the plugins contribute, checked for clashes and dangling names."""
    scopes: dict[str, ScopeSpec] = {scope.name: scope for scope in CORE_SCOPES}
    for plugin, result in host.collect("register_scopes"):
        for scope in result:
            if scope.name in scopes:
                other = scopes[scope.name].plugin
                raise PluginError(
                    f"scope {scope.name!r} is declared by both {other!r} and {plugin!r}"
                )
            scopes[scope.name] = replace(scope, plugin=plugin, kinds=frozenset(scope.kinds))

    types: dict[str, TypeSpec] = {name: TypeSpec(name, plugin="tightrope") for name in CORE_TYPES}
    for plugin, result in host.collect("register_types"):
        for type_spec in result:
            if type_spec.name in types or type_spec.name in SCALARS:
                other = types[type_spec.name].plugin if type_spec.name in types else "tightrope"
                raise PluginError(
                    f"type {type_spec.name!r} is declared by both {other!r} and {plugin!r}"
                )
            types[type_spec.name] = TypeSpec(type_spec.name, type_spec.description, plugin)

    fields: dict[tuple[str, str], FieldSpec] = {}
    for plugin, result in host.collect("register_fields", settings=settings):
        for spec in result:
            spec = _with_plugin(spec, plugin)
            where = f"{spec.type_name}.{spec.name} (plugin {plugin!r})"
            if spec.key in fields:
                first, second = sorted((fields[spec.key].plugin, plugin))
                raise PluginError(
                    f"field {spec.type_name}.{spec.name} is registered by both "
                    f"{first!r} and {second!r}"
                )
            if spec.type_name not in types:
                raise PluginError(f"{where}: unknown type {spec.type_name!r}")
            undeclared = sorted(spec.scopes - scopes.keys())
            if undeclared:
                raise PluginError(f"{where}: undeclared scope(s) {', '.join(undeclared)}")
            _check_gate(spec, where)
            fields[spec.key] = spec
    if not any(key[0] == "Query" for key in fields):
        raise PluginError("no plugin registered a Query field; is every plugin disabled?")
    return FieldRegistry(tuple(fields.values()), tuple(types.values()), tuple(scopes.values()))


def _check_gate(spec: FieldSpec, where: str) -> None:
    """What the gate needs of a field: a gated row names its category and purpose."""
    if spec.row is not None and (spec.data_category is None or spec.purpose is None):
        raise PluginError(
            f"{where}: a field with a row rule must name its data category and purpose"
        )
    if spec.row is None and spec.purpose is not None:
        raise PluginError(f"{where}: a purpose without a row rule is never checked")
    if spec.type_name in ("Query", "Mutation") and spec.data_category is not None and not spec.row:
        raise PluginError(
            f"{where}: a {spec.type_name} field that reveals personal data needs a row rule"
        )


def _with_plugin(spec: FieldSpec, plugin: str) -> FieldSpec:
    return replace(spec, plugin=plugin, scopes=frozenset(spec.scopes))


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema, minus its logging of every error: label_errors logs internal ones.

    ``documents`` holds its document cache and query limits, which prepared
    operations (gateway/graphql/prepared/) share.
    """

    documents: DocumentGuards | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(
    registry: FieldRegistry, settings: Settings, metrics: Metrics | None = None
) -> strawberry.Schema:
    """Strawberry types from the registry; types without fields are left out."""
    populated = {spec.type_name for spec in registry.fields}
    classes: dict[str, type] = {
        t.name: type(t.name, (), {"__doc__": t.description or DESCRIPTIONS.get(t.name)})
        for t in registry.types
        if t.name in populated
    }
    namespace = {**SCALARS, **classes}
    for spec in registry.fields:
        field = _strawberry_field(spec, namespace, settings.plugin_budget(spec.plugin))
        setattr(classes[spec.type_name], _python_name(spec), field)
    for name, cls in classes.items():
        strawberry.type(cls, name=name, description=cls.__doc__)
    after = AfterOperation  # looked up now: bench/consent_gate.py swaps it while building
    documents = document_guard(registry, settings, DOCUMENT_CACHE_SIZE)
    schema = GatewaySchema(
        query=classes["Query"],
        mutation=classes.get("Mutation"),
        # With introspection off, no suggestion names a field or value the
        # client did not send (gateway/graphql/documents.py).
        execution_context_class=None if settings.introspection_enabled else WithoutSuggestions,
        extensions=[lambda: after(metrics), documents],
    )
    schema.documents = documents
    return schema


def _python_name(spec: FieldSpec) -> str:
    return f"f_{spec.name}"


def _strawberry_field(spec: FieldSpec, namespace: dict[str, Any], budget: float) -> Any:
    where = f"{spec.type_name}.{spec.name} (plugin {spec.plugin!r})"
    try:
        annotation = resolve_type(spec.returns, namespace, nullable=spec.gated)
    except KeyError as exc:
        raise PluginError(f"{where}: unknown type {exc.args[0]!r} in {spec.returns!r}") from None
    directives: list[object] = []
    if spec.scopes:
        directives.append(RequiresScopes(scopes=sorted(spec.scopes)))
    if spec.data_category is not None:
        directives.append(DataCategoryDirective(name=spec.data_category.value))
    if spec.purpose is not None:
        directives.append(PurposeDirective(name=spec.purpose.value))
    return strawberry.field(
        resolver=(
            isolate(spec.resolver, spec.plugin, f"{spec.type_name}.{spec.name}", budget)
            if spec.resolver
            else _attribute_resolver(spec.attr or spec.name)
        ),
        graphql_type=annotation,
        name=spec.name,
        description=spec.description,
        directives=directives,
        extensions=extensions_for(spec),
    )


def _attribute_resolver(attr: str) -> Callable[..., Any]:
    def resolve(root: Any, info: Info[Any, Any]) -> Any:
        return getattr(root, attr)

    return resolve


def resolve_type(returns: Any, namespace: dict[str, Any], *, nullable: bool = False) -> Any:
    """A Python annotation for ``returns``; SDL strings are looked up in ``namespace``.

    ``nullable`` forces the outer type to be nullable: a field the gate may
    refuse must be able to be null without nulling its parent.
    """
    if isinstance(returns, str):
        text = returns.strip()
        if nullable:
            text = text.removesuffix("!")
        return _parse(text, namespace)
    if nullable and not _is_optional(returns):
        return Optional[returns]  # noqa: UP045 - built at run time from a value
    return returns


def _parse(text: str, namespace: dict[str, Any]) -> Any:
    if text.endswith("!"):
        return _parse_named(text[:-1], namespace)
    return Optional[_parse_named(text, namespace)]  # noqa: UP045


def _parse_named(text: str, namespace: dict[str, Any]) -> Any:
    if text.startswith("[") and text.endswith("]"):
        return list[_parse(text[1:-1].strip(), namespace)]  # type: ignore[misc]
    return namespace[text]


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) is not None and type(None) in get_args(annotation)


def sdl(schema: strawberry.Schema) -> str:
    return schema.as_str()
