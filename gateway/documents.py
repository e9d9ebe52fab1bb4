"""Query documents: limited, parsed and validated once per query text, then reused.

Frontends send the same few query texts over and over with different
variables. Parsing and validating a document is pure (it depends on the text,
the schema and the limits, all fixed for an app), and it was a third of the
gateway's CPU per request, so :class:`DocumentGuard` keeps the parsed document
of every query text that validated, in a bounded LRU map per schema. A text
that fails to parse or validate is not kept: it is refused each time it comes.

The guard also carries the query limits, so one extension replaces four: the
token limit (a parse option), and the depth, alias and introspection rules
(validation rules built once, not per request).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence

from graphql import ASTValidationRule, DocumentNode
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from gateway.settings import Settings


class DocumentCache:
    """Valid documents by query text, least recently used dropped beyond ``maxsize``."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, query: str) -> DocumentNode | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def put(self, query: str, document: DocumentNode) -> None:
        self._documents[query] = document
        self._documents.move_to_end(query)
        while len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


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
        self, cache: DocumentCache, rules: Sequence[type[ASTValidationRule]], max_tokens: int
    ) -> None:
        self.cache = cache
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self._known = False

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        document = self.cache.get(context.query) if context.query else None
        if document is not None:
            # strawberry parses only when no document is set yet.
            context.graphql_document = document
            self._known = True
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._known:
            # An empty list (not None) tells strawberry the document is valid.
            context.pre_execution_errors = []
            yield
            return
        yield
        document = context.graphql_document
        if context.query and document is not None and not context.pre_execution_errors:
            self.cache.put(context.query, document)
