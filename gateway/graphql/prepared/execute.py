"""Running a plan: the fields of one request, resolved and completed as graphql-core would.

The rules are the GraphQL specification's "Executing selection sets" and
"Value completion", as graphql-core implements them, so that a plan's answer
is the generic path's to the byte (a differential test holds this over every
operation the test suite sends):

- the fields of a selection set start in order; those whose values are
  awaitable are then awaited together (cancelling the others when one
  fails), a lone one directly;
- an error in a field is located (its path, its nodes) and that field is
  null, unless its type is non-null: then the error goes to the parent, whose
  own value becomes null, and so on up; an error below a position already
  made null is not reported again;
- a leaf is serialised by its type, a list item by item, an object by its
  planned sub-fields.

What differs is only the work done per request: no field is collected, no
type is looked at, and a field that reads an attribute of its parent reads
it, without resolver info or strawberry's wrapper.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from inspect import isawaitable
from typing import Any, TypeGuard

from graphql import GraphQLError, GraphQLResolveInfo, located_error
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.types import ExecutionResult

from gateway.graphql.prepared.plan import Completion, FieldPlan, Plan


class _Errors:
    """The errors of one run, and the positions they made null."""

    __slots__ = ("_nulled", "errors")

    def __init__(self) -> None:
        self.errors: list[GraphQLError] = []
        self._nulled: set[Path | None] = set()

    def add(self, error: GraphQLError, path: Path | None) -> None:
        # Below a position an earlier error already made null, nothing is reported.
        if None in self._nulled:
            return
        at = path
        while at is not None:
            if at in self._nulled:
                return
            at = at.prev
        self._nulled.add(path)
        self.errors.append(error)


def _settle(awaitables: Sequence[Any]) -> None:
    """Let awaitables a failure left behind finish on their own, their errors observed."""
    for awaitable in awaitables:
        if isawaitable(awaitable):
            task = asyncio.ensure_future(awaitable)
            task.add_done_callback(_observed)


def _observed(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _gather(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    return await gather_with_cancel(*awaitables)


_HELPERS = GraphQLResolveInfoHelpers(_gather, _settle)


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return isawaitable(value)


class Run:
    """One request's run of a plan."""

    __slots__ = ("context", "errors", "plan", "quiet", "schema", "variables")

    def __init__(
        self,
        plan: Plan,
        schema: Any,
        context: Any,
        variables: VariableValues,
        *,
        quiet: bool = False,
    ) -> None:
        self.plan = plan
        self.schema = schema
        self.context = context
        self.variables = variables
        # Introspection is off: no suggestion in errors (as WithoutSuggestions).
        self.quiet = quiet
        self.errors = _Errors()

    async def result(self) -> ExecutionResult:
        data: dict[str, Any] | None
        try:
            data = self.fields(self.plan.fields, None, None)  # type: ignore[assignment]
            if isawaitable(data):
                data = await data
        except GraphQLError as error:
            self.errors.add(error, None)
            data = None
        return ExecutionResult(data=data, errors=self.errors.errors or None)

    # -- selection sets -------------------------------------------------------------

    def fields(
        self, plans: tuple[FieldPlan, ...], source: Any, path: Path | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        results: dict[str, Any] = {}
        waiting: list[str] = []
        try:
            for plan in plans:
                at = Path(path, plan.response_name, plan.parent_type.name)
                value = self.field(plan, source, at)
                results[plan.response_name] = value
                if isawaitable(value):
                    waiting.append(plan.response_name)
        except Exception:
            _settle([results[name] for name in waiting])
            raise
        if not waiting:
            return results

        async def awaited() -> dict[str, Any]:
            if len(waiting) == 1:
                name = waiting[0]
                results[name] = await results[name]
            else:
                values = await gather_with_cancel(*(results[name] for name in waiting))
                results.update(zip(waiting, values, strict=True))
            return results

        return awaited()

    def field(self, plan: FieldPlan, source: Any, path: Path) -> Any:
        try:
            if plan.attribute is not None:
                result = getattr(source, plan.attribute)
            elif plan.definition is None:  # __typename
                result = plan.parent_type.name
            else:
                result = self.resolve(plan, source, path)
                if isawaitable(result):
                    return self.completed_later(plan, path, result)
            completed = self.complete(plan, plan.completion, path, result)
            if isawaitable(completed):
                return self.caught(plan, completed, path)
        except Exception as exc:
            self.fail(exc, plan, plan.completion.non_null, path)
            return None
        return completed

    def resolve(self, plan: FieldPlan, source: Any, path: Path) -> Any:
        definition = plan.definition
        assert definition is not None and definition.resolve is not None
        arguments = plan.arguments
        if arguments is None:
            arguments = get_argument_values(
                definition, plan.nodes[0], self.variables, None, self.quiet
            )
        info = GraphQLResolveInfo(
            plan.name,
            plan.nodes,
            plan.return_type,
            plan.parent_type,
            path,
            self.schema,
            self.plan.fragments,
            None,
            self.plan.operation,
            self.variables,
            self.context,
            _is_awaitable,
            None,
            _HELPERS,
        )
        return definition.resolve(source, info, **arguments)

    async def completed_later(self, plan: FieldPlan, path: Path, result: Awaitable[Any]) -> Any:
        try:
            completed = self.complete(plan, plan.completion, path, await result)
            if isawaitable(completed):
                completed = await completed
        except Exception as exc:
            self.fail(exc, plan, plan.completion.non_null, path)
            return None
        return completed

    async def caught(self, plan: FieldPlan, completed: Awaitable[Any], path: Path) -> Any:
        try:
            return await completed
        except Exception as exc:
            self.fail(exc, plan, plan.completion.non_null, path)
            return None

    def fail(self, exc: Exception, plan: FieldPlan, non_null: bool, path: Path) -> None:
        """An error at ``path``: raised to the parent when the position is non-null."""
        error = located_error(exc, plan.nodes, path.as_list())
        if non_null:
            raise error
        self.errors.add(error, path)

    # -- values ---------------------------------------------------------------------

    def complete(self, plan: FieldPlan, how: Completion, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if how.non_null:
            assert how.inner is not None
            completed = self.complete(plan, how.inner, path, result)
            if completed is None:
                raise TypeError(
                    "Cannot return null for non-nullable field"
                    f" {plan.parent_type.name}.{plan.name}."
                )
            return completed
        if result is None or result is Undefined:
            return None
        if how.is_list:
            assert how.inner is not None
            return self.complete_list(plan, how.inner, path, result)
        if how.leaf is not None:
            coerced = how.leaf.coerce_output_value(result)
            if coerced is Undefined or coerced is None:
                raise TypeError(
                    f"Expected `{inspect(how.leaf)}.coerce_output_value("
                    f"{inspect(result)})` to return non-nullable value, returned:"
                    f" {inspect(coerced)}"
                )
            return coerced
        return self.fields(how.fields, result, path)

    def complete_list(self, plan: FieldPlan, item: Completion, path: Path, result: Any) -> Any:
        if not is_iterable(result):
            if hasattr(result, "__aiter__"):
                return self._async_list(plan, item, path, result)
            raise GraphQLError(
                "Expected Iterable, but did not find one for field"
                f" '{plan.parent_type.name}.{plan.name}'."
            )
        completed: list[Any] = []
        waiting: list[int] = []
        try:
            for index, value in enumerate(result):
                item_path = path.add_key(index, None)
                if isawaitable(value):
                    completed.append(self.item_later(plan, item, item_path, value))
                    waiting.append(index)
                    continue
                try:
                    done = self.complete(plan, item, item_path, value)
                    if isawaitable(done):
                        completed.append(self.item_caught(plan, item, done, item_path))
                        waiting.append(index)
                    else:
                        completed.append(done)
                except Exception as exc:
                    self.fail(exc, plan, item.non_null, item_path)
                    completed.append(None)
        except Exception:
            _settle([completed[i] for i in waiting])
            raise
        if not waiting:
            return completed

        async def awaited() -> list[Any]:
            if len(waiting) == 1:
                completed[waiting[0]] = await completed[waiting[0]]
            else:
                values = await gather_with_cancel(*(completed[i] for i in waiting))
                for index, value in zip(waiting, values, strict=True):
                    completed[index] = value
            return completed

        return awaited()

    async def _async_list(self, plan: FieldPlan, item: Completion, path: Path, result: Any) -> Any:
        items = [value async for value in result]
        completed = self.complete_list(plan, item, path, items)
        return await completed if isawaitable(completed) else completed

    async def item_later(self, plan: FieldPlan, item: Completion, path: Path, value: Any) -> Any:
        try:
            completed = self.complete(plan, item, path, await value)
            if isawaitable(completed):
                completed = await completed
        except Exception as exc:
            self.fail(exc, plan, item.non_null, path)
            return None
        return completed

    async def item_caught(
        self, plan: FieldPlan, item: Completion, completed: Awaitable[Any], path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as exc:
            self.fail(exc, plan, item.non_null, path)
            return None
