"""The differential check of prepared operations: every operation the suite sends, run both ways.

Installed for the whole test session (tests/conftest.py). Whenever an app of
the suite answers an operation on the generic path (strawberry over
graphql-core), the same operation is run again from its plan
(gateway/graphql/prepared/) for the same principal, on the same graph, and the two
are compared:

- the response, byte for byte (data, errors with their codes, paths and
  locations, masked as the client sees them);
- the access records the request handed to the customer's access log
  (customer, client, purpose, plugin, categories, fields: not their ids or
  times);
- the consent decisions the gate made, and why.

An answer that is a snapshot of the moment (``exportMyData`` says when it was
made, and lists the access records written so far) differs from itself: when
the two answers differ, the generic path is asked a third time, and only what
stayed the same between its two answers is compared. An operation answered
``UNAVAILABLE`` is not run again (the graph is down; tests time that answer),
nor are those of a test marked ``single_run`` (it counts what its plugins are
asked).

The second run stays off the books: its reads are not counted on the app's
graph (tests count round trips), it adds nothing to the access log and
nothing to ``/metrics``. A difference is kept (never raised inside the
request, which would change what the test sees) and the suite's last test
(tests/gateway/test_prepared.py) fails on it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from strawberry.http import process_result

from gateway.gate import RequestGate
from gateway.graphql.prepared import PreparedOperations
from gateway.strategies.runner import Recorder
from graph import Graph


class OffTheBooks(Graph):
    """The app's graph for the second run: the same driver and Neo4j, counted apart."""

    def __init__(self, inner: Graph) -> None:
        super().__init__(
            inner.driver,
            inner.database,
            inner.query_timeout,
            deadline=inner.deadline,
            write_deadline=inner.write_deadline,
            cooldown=inner.cooldown,
        )
        self.inner = inner

    def epoch(self, topic: str) -> int:
        return self.inner.epoch(topic)

    def advance(self, topic: str) -> None:
        self.inner.advance(topic)


@dataclass
class Mismatch:
    query: str
    variables: Mapping[str, Any] | None
    what: str
    generic: Any
    prepared: Any


VOLATILE = "<differs from itself>"
SORTED = orjson.OPT_SORT_KEYS


@dataclass
class Differential:
    """What the session compared, and every difference found."""

    compared: int = 0
    uncovered: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    # Fields (type.name) that some compared operation selected.
    fields: set[str] = field(default_factory=set)
    # Answers that were snapshots of their moment (compared where stable).
    volatile: int = 0
    # Off for a test marked single_run (tests/conftest.py).
    enabled: bool = True

    async def __call__(
        self,
        prepared: PreparedOperations,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        extensions: Any,
        context: Any,
        result: Any,
    ) -> None:
        known = prepared.documents.cache.get(query)
        if not self.enabled or known is None:
            return  # off, or the generic path refused the text before it was known
        if any(_code(e) == "UNAVAILABLE" for e in result.errors or ()):
            return
        found = prepared.find(query, operation_name)
        if found is None:
            reason = known.plans.get(operation_name)
            key = getattr(reason, "reason", "no plan")
            self.uncovered[key] = self.uncovered.get(key, 0) + 1
            return
        _, plan = found
        second = _second_context(context)
        answer = await prepared.answer(
            known, plan, query, second, variables, operation_name, extensions, counted=False
        )
        self.compared += 1
        self.fields.update(_selected(plan.fields))
        generic_body, planned_body = _json(result), _json(answer)
        if generic_body != planned_body:
            again = await prepared.schema.execute(
                query,
                variable_values=dict(variables) if variables is not None else None,
                context_value=_second_context(context),
                operation_name=operation_name,
            )
            stable = _stable(generic_body, _json(again))
            if stable != generic_body:
                self.volatile += 1
                generic_body, planned_body = stable, _apply(planned_body, stable)
        pairs = {
            "response": (generic_body, planned_body),
            "access records": (
                _records(context.gate.handed_over),
                _records(second.gate.handed_over),
            ),
            "consent decisions": (_decisions(context.gate), _decisions(second.gate)),
        }
        for what, (generic, planned) in pairs.items():
            if generic != planned:
                self.mismatches.append(Mismatch(query, variables, what, generic, planned))


class Unrecorded:
    """The app's recorder of the shop's figures for the second run: the shopper's
    group as it says, nothing served or read noted (the figures count requests)."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner

    async def group_of(self, gate: RequestGate, shopper: Any) -> Any:
        return await self.inner.group_of(gate, shopper)

    def note_served(self, served: Any, shopper: Any, group: Any) -> None:
        pass

    def note_reads(self, plugin: str, reader: str, purpose: str, categories: Any) -> None:
        pass


def _second_context(context: Any) -> Any:
    """The request's context again, fresh: no loaders, no decisions, its own gate and graph."""
    graph = OffTheBooks(context.host_graph)
    gate: RequestGate = context.gate
    # Its records are kept on its gate (handed_over), not written.
    keeper = copy.copy(gate.keeper)
    keeper.access_log = None
    second_gate = RequestGate(keeper, gate.principal, graph, gate.source)
    recommendations = context.recommendations
    if recommendations is not None and recommendations.analytics is not None:
        recommendations = copy.copy(recommendations)
        recommendations.analytics = Unrecorded(recommendations.analytics)
    return dataclasses.replace(
        context,
        host_graph=graph,
        gate=second_gate,
        recommendations=recommendations,
        reported_errors=[],
        _loaders={},
    )


def _json(result: Any) -> Any:
    """The response as the client reads it, its errors in the order of their paths.

    graphql-core lists errors as their fields fail, and concurrent fields fail
    in an order that differs from one run of the same path to the next (two
    generic runs of one hostile operation listed them in two orders); the
    GraphQL specification gives the list no order.
    """
    body = orjson.loads(orjson.dumps(process_result(result), default=lambda e: e.formatted))
    if body.get("errors"):
        body["errors"] = sorted(body["errors"], key=lambda e: orjson.dumps(e, option=SORTED))
    return body


def _code(error: Any) -> Any:
    return (error.extensions or {}).get("code")


def _stable(one: Any, other: Any) -> Any:
    """``one`` with every value that differs in ``other`` replaced by VOLATILE."""
    if one == other:
        return one
    if isinstance(one, dict) and isinstance(other, dict) and one.keys() == other.keys():
        return {k: _stable(v, other[k]) for k, v in one.items()}
    if isinstance(one, list) and isinstance(other, list) and len(one) == len(other):
        return [_stable(a, b) for a, b in zip(one, other, strict=True)]
    return VOLATILE


def _apply(value: Any, stable: Any) -> Any:
    """``value`` with VOLATILE wherever ``stable`` has it (else as it is)."""
    if stable == VOLATILE:
        return VOLATILE
    if isinstance(value, dict) and isinstance(stable, dict) and value.keys() == stable.keys():
        return {k: _apply(v, stable[k]) for k, v in value.items()}
    if isinstance(value, list) and isinstance(stable, list) and len(value) == len(stable):
        return [_apply(a, b) for a, b in zip(value, stable, strict=True)]
    return value


def _records(records: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (r.customer_id, r.client_id, r.client_kind, r.purpose, r.plugin, r.categories, r.fields)
        for r in records
    )


def _decisions(gate: RequestGate) -> list[tuple[str, Any]]:
    return sorted((repr(key), value) for key, value in gate.decisions.items())


def _selected(plans: Any) -> set[str]:
    found: set[str] = set()
    for plan in plans:
        found.add(f"{plan.parent_type.name}.{plan.name}")
        how = plan.completion
        while how.inner is not None:
            how = how.inner
        found |= _selected(how.fields)
    return found


# The session's one differential check (installed by tests/conftest.py).
SESSION = Differential()
