"""The cost limit: what a query asks of the gateway, weighed before any resolver runs.

Depth, alias and token limits bound the *shape* of a document, not how much it
reads: ``products(first: 100) { edges { node { brand { products(first: 100)
{ ... } } } } }`` is shallow and short, and reads ten thousand products. The
cost of a document is the sum over the fields it selects of

    multiplier * (weight + cost of the field's own selection)

where the **weight** comes from the field registry: a field that declares a
data category (personal data) weighs ``cost_personal_weight``, any other field
``cost_catalogue_weight`` (``__typename`` nothing), and the **multiplier** of a
field with a ``first`` argument is that argument (its default when absent, the
page limit at most: no resolver serves more), else 1. Fragments count where
they are spread.

Only ``first`` can change between requests of one text, and only through a
variable, so the cost is worked out once per document text (gateway/graphql/documents.py
keeps it beside the validated document) as a :class:`Cost`: a constant plus a
term for each list whose length is a variable. A request then costs a few
multiplications, however large the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from gateway.errors import QueryTooComplex
from gateway.fields import FieldRegistry
from gateway.principal import ClientKind, Principal
from gateway.settings import Settings

FIRST = "first"


@dataclass(frozen=True, slots=True)
class Term:
    """``factor * value of $variable * cost`` (the variable's default when it is not sent)."""

    factor: int
    variable: str
    default: int
    cost: Cost


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one operation: ``constant`` plus one term per list sized by a variable."""

    constant: int
    terms: tuple[Term, ...] = ()

    def of(self, variables: Mapping[str, Any] | None, maximum: int) -> int:
        """The cost with these variables (a list's length is taken between 0 and ``maximum``)."""
        total = self.constant
        for term in self.terms:
            value = variables.get(term.variable) if variables else None
            length = value if type(value) is int else term.default
            total += term.factor * min(max(length, 0), maximum) * term.cost.of(variables, maximum)
        return total

    def scaled(self, factor: int) -> Cost:
        if factor == 1:
            return self
        terms = tuple(Term(t.factor * factor, t.variable, t.default, t.cost) for t in self.terms)
        return Cost(self.constant * factor, terms)


def _plus(a: Cost, b: Cost) -> Cost:
    return Cost(a.constant + b.constant, a.terms + b.terms)


@dataclass(frozen=True)
class Weights:
    """Each field's weight, from the registry's data categories; made once per schema."""

    personal: frozenset[tuple[str, str]]
    personal_weight: int
    catalogue_weight: int
    default_first: int
    max_first: int

    @classmethod
    def of(cls, registry: FieldRegistry, settings: Settings) -> Weights:
        return cls(
            personal=frozenset(s.key for s in registry.fields if s.data_category is not None),
            personal_weight=settings.cost_personal_weight,
            catalogue_weight=settings.cost_catalogue_weight,
            default_first=settings.default_page_size,
            max_first=settings.max_page_size,
        )

    def weight(self, type_name: str, field_name: str) -> int:
        if field_name == "__typename":
            return 0
        if (type_name, field_name) in self.personal:
            return self.personal_weight
        return self.catalogue_weight


def document_costs(
    schema: GraphQLSchema, document: DocumentNode, weights: Weights
) -> dict[str | None, Cost]:
    """The cost of each operation of a *validated* document, by name (None: the only one)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    walker = _Walker(schema, fragments, weights)
    costs: dict[str | None, Cost] = {}
    for operation in operations:
        root = _root_type(schema, operation.operation)
        defaults = _variable_defaults(operation)
        cost = walker.selection(root, operation.selection_set, defaults)
        costs[operation.name.value if operation.name else None] = cost
        if len(operations) == 1:
            costs[None] = cost
    return costs


def _root_type(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    if operation is OperationType.SUBSCRIPTION:
        return schema.subscription_type
    return schema.query_type


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, int | None]:
    defaults: dict[str, int | None] = {}
    for definition in operation.variable_definitions or ():
        value = definition.default_value
        defaults[definition.variable.name.value] = (
            int(value.value) if isinstance(value, IntValueNode) else None
        )
    return defaults


class _Walker:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], weights: Weights
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.weights = weights

    def selection(
        self,
        parent: GraphQLObjectType | None,
        selection_set: SelectionSetNode | None,
        defaults: dict[str, int | None],
    ) -> Cost:
        total = Cost(0)
        if selection_set is None:
            return total
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total = _plus(total, self.field(parent, node, defaults))
            elif isinstance(node, InlineFragmentNode):
                inner = parent
                if node.type_condition is not None:
                    found = self.schema.get_type(node.type_condition.name.value)
                    inner = found if isinstance(found, GraphQLObjectType) else None
                total = _plus(total, self.selection(inner, node.selection_set, defaults))
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    found = self.schema.get_type(fragment.type_condition.name.value)
                    inner = found if isinstance(found, GraphQLObjectType) else None
                    total = _plus(total, self.selection(inner, fragment.selection_set, defaults))
        return total

    def field(
        self, parent: GraphQLObjectType | None, node: FieldNode, defaults: dict[str, int | None]
    ) -> Cost:
        name = node.name.value
        definition: GraphQLField | None = parent.fields.get(name) if parent is not None else None
        weight = self.weights.weight(parent.name if parent is not None else "", name)
        child_type = get_named_type(definition.type) if definition is not None else None
        inner = self.selection(
            child_type if isinstance(child_type, GraphQLObjectType) else None,
            node.selection_set,
            defaults,
        )
        own = _plus(Cost(weight), inner)
        if definition is None or FIRST not in definition.args:
            return own
        maximum = self.weights.max_first
        argument = next((a for a in node.arguments or () if a.name.value == FIRST), None)
        if argument is None:
            return own.scaled(self.weights.default_first)
        if isinstance(argument.value, IntValueNode):
            return own.scaled(min(max(int(argument.value.value), 0), maximum))
        if isinstance(argument.value, VariableNode):
            variable = argument.value.name.value
            default = defaults.get(variable)
            return Cost(0, (Term(1, variable, default or self.weights.default_first, own),))
        return own.scaled(self.weights.default_first)


@dataclass(frozen=True)
class CostLimits:
    """The most a document may cost, per kind of client; anonymous callers have their own."""

    anonymous: int
    public: int
    third_party: int
    first_party: int
    max_first: int

    @classmethod
    def of(cls, settings: Settings) -> CostLimits:
        return cls(
            anonymous=settings.max_cost_anonymous,
            public=settings.max_cost_public,
            third_party=settings.max_cost_third_party,
            first_party=settings.max_cost_first_party,
            max_first=settings.max_page_size,
        )

    def limit_for(self, principal: Principal | None) -> tuple[int, str]:
        kind = principal.client_kind if principal is not None else None
        if kind is ClientKind.FIRST_PARTY:
            return self.first_party, kind.value
        if kind is ClientKind.THIRD_PARTY:
            return self.third_party, kind.value
        if kind is ClientKind.PUBLIC:
            return self.public, kind.value
        return self.anonymous, "anonymous"

    def check(
        self, cost: Cost, variables: Mapping[str, Any] | None, principal: Principal | None
    ) -> QueryTooComplex | None:
        """The error for a document over its client's limit, else None."""
        total = cost.of(variables, self.max_first)
        limit, kind = self.limit_for(principal)
        if total <= limit:
            return None
        return QueryTooComplex(
            f"query cost {total} exceeds the limit of {limit} for {kind} clients",
            cost=total,
            limit=limit,
        )
