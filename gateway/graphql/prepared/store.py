"""An app's prepared operations: the plan of each known document, and answering with it.

A query text the gateway has validated before (the same text again, or the
text a persisted query's hash names) is in the schema's document cache
(gateway/graphql/documents.py). Its plan is compiled the first time it comes back and
kept beside the document, for as long as the document is kept. The operation
is then answered as the generic path answers it, step for step:

1. a client held to its registered operations may run only those
   (gateway/graphql/operations.py), and the cost limits apply (gateway/graphql/cost.py);
2. the variables are coerced (their errors are the generic path's);
3. the plan runs (gateway/graphql/prepared/execute.py), the plugins' time counted;
4. the request's allowed reads go to the access log, the errors are labelled
   and masked, the operation is counted for ``/metrics``
   (gateway/graphql/after_operation.py says the same of the generic path).

A plan keeps what decides, never a decision: the gate's inputs (each field's
scopes, row rule, purpose and category) are in the fields' gate, as on the
generic path, and every decision is made afresh for every request, so a
consent withdrawn or a token revoked bites on the very next one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from graphql import GraphQLSchema
from graphql.execution.values import get_variable_values
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.errors import label_errors, to_graphql_error
from gateway.fields import FieldRegistry
from gateway.gate import hand_over_reads
from gateway.graphql.documents import DocumentGuards, Known, conceal_request_errors
from gateway.graphql.prepared.ahead import read_ahead, read_aheads
from gateway.graphql.prepared.execute import Run
from gateway.graphql.prepared.plan import Plan, Uncovered, compile_plan
from gateway.host.isolation import collect_plugin_times
from gateway.web.metrics import Metrics
from graph.shared_reads import SHARED_READS
from graph.together import together

# As graphql-core's execute: variable coercion stops after this many errors.
MAX_COERCION_ERRORS = 50
QUERY_ONLY = frozenset({OperationType.QUERY})


# Told of every operation the generic path answered, with what it needs to run
# the same operation again from a plan and compare (the test suite's
# differential check, tests/differential.py): (prepared, query, variables,
# operation name, extensions, the request's context, the generic answer).
Shadow = Callable[
    ["PreparedOperations", str, Mapping[str, Any] | None, str | None, Any, Any, Any],
    Awaitable[None],
]
_shadow: list[Shadow] = []


def check_with(shadow: Shadow | None) -> None:
    """Have every app of this process tell ``shadow`` of its generic answers (tests only)."""
    _shadow.clear()
    if shadow is not None:
        _shadow.append(shadow)


def attribute_fields(registry: FieldRegistry) -> dict[tuple[str, str], str]:
    """Fields read straight from an attribute of their parent: no resolver, no gate."""
    return {
        spec.key: spec.attr or spec.name
        for spec in registry.fields
        if spec.resolver is None and not spec.gated
    }


class PreparedOperations:
    """Plans for the documents an app's schema has validated, and the runs of them."""

    def __init__(
        self,
        schema: Any,
        graphql_schema: GraphQLSchema,
        documents: DocumentGuards,
        registry: FieldRegistry,
        metrics: Metrics | None = None,
        loader_owners: Mapping[str, str] | None = None,
    ) -> None:
        self.schema = schema  # strawberry's, for the execution context extensions see
        self.graphql_schema = graphql_schema
        self.documents = documents
        self.attributes = attribute_fields(registry)
        self.registry = registry
        self.loader_owners = dict(loader_owners or {})
        self.metrics = metrics
        # Operations answered from a plan, since start.
        self.answered = 0

    @property
    def shadow(self) -> Shadow | None:
        """The test suite's differential check (see :func:`check_with`); None when served."""
        return _shadow[0] if _shadow else None

    def find(self, query: str | None, operation_name: str | None) -> tuple[Known, Plan] | None:
        """The known document of ``query`` and its operation's plan; None: the generic path."""
        if not query:
            return None
        known = self.documents.cache.get(query)
        if known is None:
            return None
        plan = known.plans.get(operation_name)
        if plan is None:
            plan = known.plans[operation_name] = self._compile(known, operation_name)
        if isinstance(plan, Uncovered):
            return None
        return known, plan

    def _compile(self, known: Known, operation_name: str | None) -> Plan | Uncovered:
        plan = compile_plan(self.graphql_schema, known.document, operation_name, self.attributes)
        if isinstance(plan, Uncovered):
            return plan
        aheads = read_aheads(plan.fields, self.registry, self.loader_owners)
        return replace(plan, aheads=aheads) if aheads else plan

    async def answer(
        self,
        known: Known,
        plan: Plan,
        query: str,
        context: Any,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None = None,
        *,
        counted: bool = True,
    ) -> ExecutionResult:
        """The operation's answer, as the generic path would give it (see the module).

        ``counted=False``: not counted in ``answered`` nor in the metrics (the
        test suite's second run of an operation).
        """
        execution = ExecutionContext(
            query=query,
            schema=self.schema,
            allowed_operations=QUERY_ONLY,
            context=context,
            variables=dict(variables) if variables is not None else None,
            provided_operation_name=operation_name,
            operation_extensions=extensions,
        )
        execution.graphql_document = known.document
        began = time.perf_counter()
        if counted:
            self.answered += 1
        with collect_plugin_times() as spent:
            execution.result = await self._result(known, plan, execution)
        hand_over_reads(context)
        label_errors(execution)
        if counted and self.metrics is not None:
            self.metrics.operation_done(execution, time.perf_counter() - began, spent)
        return execution.result

    async def _result(
        self, known: Known, plan: Plan, execution: ExecutionContext
    ) -> ExecutionResult:
        context = execution.context
        allowlist = getattr(context, "operations", None)
        if allowlist is not None and allowlist.restricted:
            refusal = allowlist.refusal(execution.query or "")
            if refusal is not None:
                return ExecutionResult(data=None, errors=[to_graphql_error(refusal)])
        cost = known.costs.get(execution.operation_name)
        if cost is not None:
            principal = getattr(context, "principal", None)
            refusal = self.documents.limits.check(cost, execution.variables, principal)
            if refusal is not None:
                return ExecutionResult(data=None, errors=[to_graphql_error(refusal)])
        quiet = self.documents.quiet
        coerced = get_variable_values(
            self.graphql_schema,
            plan.operation.variable_definitions or (),
            execution.variables or {},
            max_errors=MAX_COERCION_ERRORS,
            hide_suggestions=quiet,
        )
        if isinstance(coerced, list):
            result = ExecutionResult(data=None, errors=coerced)
        else:
            # The request's reads of one moment share a Bolt exchange (graph/together.py),
            # and what the plan knows it will read is read at once (prepared/ahead.py).
            with together(SHARED_READS):
                if plan.aheads:
                    read_ahead(plan.aheads, context, coerced)
                run = Run(plan, self.graphql_schema, context, coerced, quiet=quiet)
                result = await run.result()
        if quiet and result.errors:
            # As the generic path's guard does (gateway/graphql/documents.py).
            conceal_request_errors(result.errors, execution.query, execution.variables)
        return result
