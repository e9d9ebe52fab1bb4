"""Compiling a validated query document into a plan: what to run for each field, decided once.

The generic path (strawberry over graphql-core) works out again, for every
request, which fields each selection set asks for (fragments merged,
directives applied), which type each value must be completed as, and, for
every field, builds resolver info and goes through strawberry's resolver
wrapper, even for a field that only reads an attribute of its parent. A plan
decides all that once per document: a tree of :class:`FieldPlan`, each with

- how its value is got: the field's resolver as strawberry wrapped it (with
  the gate's field extension, so scopes, row rule, purpose, category and the
  access log are exactly the generic path's), or, for a field that only reads
  an attribute of its parent and has no gate, the attribute itself;
- its arguments, worked out once when they are literals;
- how its value is completed (:class:`Completion`): non-null, list, leaf type
  to serialise with, or object type with the plans of its sub-fields.

What a plan does not cover (the generic path answers it): mutations and
subscriptions, introspection fields, ``@skip``/``@include`` whose condition is
a variable, fragments with variables of their own, abstract types. Such a
document gets :class:`Uncovered`, naming why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values

# Collecting fields at compile time sees no variables: a plan is only made
# for documents whose selection does not depend on them.
NO_VARIABLES = VariableValues({}, {})
TYPENAME = "__typename"


@dataclass(frozen=True)
class Uncovered:
    """A document the plan does not cover, and why; the generic path answers it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Completion:
    """How a field's value is completed; exactly one of the kinds below is set.

    ``inner`` for non-null and list wrappers, ``leaf`` for a scalar or enum
    (its ``coerce_output_value``), ``fields`` and ``object_type`` for an object.
    """

    non_null: bool = False
    is_list: bool = False
    inner: Completion | None = None
    leaf: Any = None
    object_type: GraphQLObjectType | None = None
    fields: tuple[FieldPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One selected field of one object type: how to get its value and complete it."""

    response_name: str
    name: str
    parent_type: GraphQLObjectType
    # Every node that selected the field (for errors' locations and resolver info).
    nodes: list[FieldNode]
    details: list[FieldDetails]
    return_type: GraphQLOutputType
    completion: Completion
    definition: GraphQLField | None = None  # None for __typename
    # Read straight from the parent object (a field without resolver or gate).
    attribute: str | None = None
    # Arguments worked out at compile time (literals only); None: per request.
    arguments: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """A query's compiled operation: its root fields and what resolver info needs."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root_type: GraphQLObjectType
    fields: tuple[FieldPlan, ...]
    # How many fields are planned in all: a plan's size, for the metrics.
    size: int = field(default=0, compare=False)
    # What its root fields read ahead (gateway/graphql/prepared/ahead.py), set once compiled.
    aheads: tuple[Any, ...] = field(default=(), compare=False)


def compile_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    attributes: Mapping[tuple[str, str], str],
) -> Plan | Uncovered:
    """The plan of ``operation_name`` in a document that validated against ``schema``.

    ``attributes`` names the fields read straight from their parent's attribute:
    (type, field) -> attribute.
    """
    operation, fragments = _parts(document, operation_name)
    if operation is None:
        return Uncovered("no single operation of that name")
    if operation.operation is not OperationType.QUERY:
        return Uncovered(f"a {operation.operation.value}: only queries are planned")
    if any(f.variable_definitions for f in fragments.values()):
        return Uncovered("a fragment with variables of its own")
    if any(_conditional_on_variables(n) for n in _definitions(operation, fragments)):
        return Uncovered("@skip or @include on a variable")
    root = schema.query_type
    if root is None:
        return Uncovered("no query type")
    details = {name: FragmentDetails(definition) for name, definition in fragments.items()}
    compiler = _Compiler(schema, details, operation, attributes)
    grouped = collect_fields(schema, details, NO_VARIABLES, root, operation).grouped_field_set
    try:
        fields = compiler.fields(root, grouped)
    except _NotPlanned as exc:
        return Uncovered(str(exc))
    return Plan(operation, fragments, root, fields, compiler.count)


class _NotPlanned(Exception):
    pass


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
        attributes: Mapping[tuple[str, str], str],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.operation = operation
        self.attributes = attributes
        self.count = 0

    def fields(
        self, parent: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]
    ) -> tuple[FieldPlan, ...]:
        return tuple(self.field(parent, name, details) for name, details in grouped.items())

    def field(
        self, parent: GraphQLObjectType, response_name: str, details: list[FieldDetails]
    ) -> FieldPlan:
        self.count += 1
        nodes = [d.node for d in details]
        name = nodes[0].name.value
        if name == TYPENAME:
            typename = GraphQLString
            leaf = Completion(leaf=typename)
            completion = Completion(non_null=True, inner=leaf)
            return FieldPlan(
                response_name, name, parent, nodes, details, GraphQLNonNull(typename), completion
            )
        if name.startswith("__"):
            raise _NotPlanned(f"introspection ({name})")
        definition = parent.fields[name]
        attribute = self.attributes.get((parent.name, name))
        if attribute is not None and (definition.args or nodes[0].arguments):
            attribute = None
        return FieldPlan(
            response_name,
            name,
            parent,
            nodes,
            details,
            definition.type,
            self.completion(definition.type, details),
            definition,
            attribute,
            _literal_arguments(definition, nodes[0]),
        )

    def completion(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> Completion:
        if is_non_null_type(type_):
            assert isinstance(type_, GraphQLNonNull)
            return Completion(non_null=True, inner=self.completion(type_.of_type, details))
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return Completion(is_list=True, inner=self.completion(type_.of_type, details))
        if is_leaf_type(type_):
            return Completion(leaf=type_)
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            if type_.is_type_of is not None:
                raise _NotPlanned(f"{type_.name} checks its values' type")
            grouped = collect_subfields(
                self.schema, self.fragments, NO_VARIABLES, self.operation, type_, details
            ).grouped_field_set
            return Completion(object_type=type_, fields=self.fields(type_, grouped))
        raise _NotPlanned(f"the abstract type {type_}")


def _parts(
    document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode | None, dict[str, FragmentDefinitionNode]]:
    """The operation to run (as graphql-core picks it) and the document's fragments."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is None:
        return (operations[0] if len(operations) == 1 else None), fragments
    named = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return (named[-1] if named else None), fragments


def _definitions(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[Node]:
    yield operation
    yield from fragments.values()


def _conditional_on_variables(node: Node) -> bool:
    """Whether a selection under ``node`` is skipped or included by a variable's value."""
    for child in _walk(node):
        for directive in getattr(child, "directives", None) or ():
            if directive.name.value in ("skip", "include") and any(
                _has_variable(a.value) for a in directive.arguments or ()
            ):
                return True
    return False


def _walk(node: Node) -> Iterator[Node]:
    yield node
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set else ():
        yield from _walk(selection)


def _has_variable(value: Node) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(f.value) for f in value.fields)
    return False


def _literal_arguments(definition: GraphQLField, node: FieldNode) -> Mapping[str, Any] | None:
    """The field's arguments when every one is a literal scalar (or absent); else None.

    Values of lists and input objects are worked out per request: a resolver
    may keep what it is given.
    """
    given: Sequence[ArgumentNode] = node.arguments or ()
    if any(isinstance(a.value, VariableNode | ListValueNode | ObjectValueNode) for a in given):
        return None
    if not definition.args and not given:
        return {}
    try:
        values = get_argument_values(definition, node, NO_VARIABLES)
    except Exception:  # an error the request reports: left to the per-request path
        return None
    if any(isinstance(v, list | dict) for v in values.values()):
        return None
    return values
