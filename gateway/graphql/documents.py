"""Query documents: limited, parsed and validated once per query text, then reused.

Frontends send the same few query texts over and over with different
variables. Parsing and validating a document is pure (it depends on the text,
the schema and the limits, all fixed for an app), and it was a third of the
gateway's CPU per request, so :class:`DocumentGuard` keeps the parsed document
of every query text that validated, in a bounded LRU map per schema. A text
that fails to parse or validate is not kept: it is refused each time it comes.

The guard also carries the query limits, so one extension replaces five: the
token limit (a parse option), the depth, alias and introspection rules
(validation rules built once, not per request), and the cost limit
(gateway/graphql/cost.py), whose static part is worked out once per text and kept
beside the document: a request only fills in its variables.

With introspection off, errors must not describe the schema to a client that
introspection refuses: graphql-core's "Did you mean ...?" suggestions are left
out (of validation and of the variables' coercion), and any other name an
error quotes that the request did not send itself (the type of a misspelled
field, a required argument the client left out) shows as ``'?'``
(:func:`conceal`). What the client sent is still quoted back, so the error
still says where and what.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, validate
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gateway.errors import to_graphql_error
from gateway.fields import FieldRegistry
from gateway.graphql.cost import Cost, CostLimits, Weights, document_costs
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class Known:
    """A query text that validated: its document and the cost of each of its operations.

    ``plans`` holds, per operation name, its prepared plan once compiled
    (gateway/graphql/prepared/): it lives as long as the document is kept.
    """

    document: DocumentNode
    costs: dict[str | None, Cost]
    plans: dict[str | None, Any] = field(default_factory=dict, compare=False)


class DocumentCache:
    """Valid documents by query text, least recently used dropped beyond ``maxsize``."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[str, Known] = OrderedDict()

    def get(self, query: str) -> Known | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def put(self, query: str, document: Known) -> None:
        self._documents[query] = document
        self._documents.move_to_end(query)
        while len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


# graphql-core quotes the names in its messages in single quotes.
_QUOTED = re.compile(r"'([^']*)'")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# The specification's own scalars say nothing about this schema.
_SPECIFIED = frozenset({"ID", "String", "Int", "Float", "Boolean"})
# Besides the limits' rules, strawberry's own, as its validate_document adds them.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


def conceal(errors: Iterable[GraphQLError], *sent: str) -> None:
    """In each message, replace every quoted name the request did not send by ``'?'``.

    ``sent`` is what the client sent (the query text, its variables as JSON).
    A quoted span is kept only when every name in it occurs there: "Cannot
    query field 'nmae' on type 'Product'" keeps the field and hides the type;
    a value the client sent, quoted back, stays as it was.
    """
    names = _SPECIFIED.union(*(_NAME.findall(text) for text in sent))

    def keep_or_hide(quoted: re.Match[str]) -> str:
        return quoted[0] if names.issuperset(_NAME.findall(quoted[1])) else "'?'"

    for error in errors:
        error.message = _QUOTED.sub(keep_or_hide, error.message)


def conceal_request_errors(
    errors: Iterable[GraphQLError], query: str | None, variables: Any
) -> None:
    """:func:`conceal` in the request's own errors (its variables did not coerce).

    Not in a field's: those are the gateway's messages, which name no schema.
    """
    requests = [error for error in errors if error.path is None]
    if requests:
        conceal(requests, query or "", json.dumps(variables, default=str))


class WithoutSuggestions(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, coercing variables without graphql-core's suggestions."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


def limit_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules of the query limits, as classes made once per schema."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


class DocumentGuard(SchemaExtension):
    """Enforce the query limits, and skip parsing and validation for known texts."""

    def __init__(
        self,
        cache: DocumentCache,
        rules: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        weights: Weights,
        limits: CostLimits,
        *,
        quiet: bool = False,
    ) -> None:
        self.cache = cache
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self.weights = weights
        self.limits = limits
        self.quiet = quiet  # introspection is off: errors describe no more than was sent
        self._known: Known | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        known = self.cache.get(context.query) if context.query else None
        if known is not None:
            # strawberry parses only when no document is set yet.
            context.graphql_document = known.document
            self._known = known
        yield

    def on_validate(self) -> Iterator[None]:
        # Validation runs here rather than in strawberry, so that the cost is
        # known before strawberry decides whether to execute: an empty list
        # (not None) tells it the document is valid, errors that it is not.
        context = self.execution_context
        allowlist = getattr(context.context, "operations", None)
        if allowlist is not None and allowlist.restricted:
            # Held to its registered operations: nothing else is validated or run.
            refusal = allowlist.refusal(context.query or "")
            if refusal is not None:
                context.pre_execution_errors = [to_graphql_error(refusal)]
                yield
                return
        known = self._known
        document = context.graphql_document
        if known is None and document is not None:
            schema = context.schema._schema
            rules = (*context.validation_rules, *_STRAWBERRY_RULES)
            errors = validate(schema, document, rules, hide_suggestions=self.quiet)
            if errors:
                if self.quiet:
                    conceal(errors, context.query or "")
                context.pre_execution_errors = errors
                yield
                return
            known = Known(document, document_costs(schema, document, self.weights))
            if context.query:
                self.cache.put(context.query, known)
        if known is not None:
            context.pre_execution_errors = self._refusals(known)
        yield

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if self.quiet and result is not None and result.errors:
            conceal_request_errors(
                result.errors, self.execution_context.query, self.execution_context.variables
            )

    def _refusals(self, known: Known) -> list[GraphQLError]:
        context = self.execution_context
        cost = known.costs.get(context.operation_name)
        if cost is None:  # an unknown operation name: execution says so
            return []
        principal = getattr(context.context, "principal", None)
        refusal = self.limits.check(cost, context.variables, principal)
        return [to_graphql_error(refusal)] if refusal is not None else []


class DocumentGuards:
    """The factory of the schema's DocumentGuard: one cache and one set of rules per schema.

    Prepared operations (gateway/graphql/prepared/) read the same cache and limits.
    """

    def __init__(self, registry: FieldRegistry, settings: Settings, size: int) -> None:
        self.cache = DocumentCache(size)
        self.rules = limit_rules(settings)
        self.max_tokens = settings.max_tokens
        self.weights = Weights.of(registry, settings)
        self.limits = CostLimits.of(settings)
        # Introspection is off: errors describe no more than the request sent.
        self.quiet = not settings.introspection_enabled

    def __call__(self) -> DocumentGuard:
        return DocumentGuard(
            self.cache, self.rules, self.max_tokens, self.weights, self.limits, quiet=self.quiet
        )


def document_guard(registry: FieldRegistry, settings: Settings, size: int) -> DocumentGuards:
    """The factory of the schema's DocumentGuard (see :class:`DocumentGuards`)."""
    return DocumentGuards(registry, settings, size)
