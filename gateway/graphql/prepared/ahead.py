"""Reading ahead: what a plan's fields will load, loaded at its start, in one exchange.

A back office asking for ``customer(id: $id) { createdAt purchases { ... } }``
used to cost two Bolt exchanges one after the other: the customer, then (once
the gate had let the customer through) the purchases. The fields of the
built-in plugins say what their resolvers will load (``FieldSpec.ahead``), so
a plan knows, before anything runs, the customer it answers and the keys its
sub-fields will ask for. It loads them at once, through the same DataLoaders
the resolvers use, and within :func:`graph.together.together` they go to
Neo4j as one statement. The resolvers then find their keys loaded. The
consents of that customer are read in the same exchange when a field of the
plan is for a purpose that needs consent, or the client is another company's.

Reading ahead decides nothing. Only what the token's scopes and the fields'
row rules allow is read ahead; whether each field is returned is still the
gate's decision, made field by field, on every request. What a field's gate
refuses was read and is dropped with the request, never returned, never
recorded in the access log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql.execution.values import VariableValues, get_argument_values

from gateway.fields import FieldRegistry, Purpose, ReadAhead, RowRule
from gateway.gate.rows import BACK_OFFICE_SCOPE
from gateway.graphql.prepared.plan import FieldPlan
from gateway.principal import ClientKind, Principal


@dataclass(frozen=True)
class _Child:
    plan: FieldPlan
    ahead: ReadAhead
    scopes: frozenset[str]


@dataclass(frozen=True)
class Ahead:
    """A root field that answers one customer, and what its sub-fields will load."""

    plan: FieldPlan
    ahead: ReadAhead
    scopes: frozenset[str]
    rule: RowRule | None
    children: tuple[_Child, ...]
    # Whether a field under it is for a purpose that needs the customer's consent.
    consent: bool


def read_aheads(
    fields: Sequence[FieldPlan], registry: FieldRegistry, owners: Mapping[str, str]
) -> tuple[Ahead, ...]:
    """The root fields of a plan that read ahead (each loader its field's plugin's own)."""
    found = []
    for plan in fields:
        spec = registry.get(plan.parent_type.name, plan.name)
        if spec is None or spec.ahead is None or spec.ahead.row is None:
            continue
        if owners.get(spec.ahead.loader) != spec.plugin:
            continue
        children = []
        consent = False
        for child in _object_fields(plan):
            sub = registry.get(child.parent_type.name, child.name)
            if sub is None:
                continue
            consent |= sub.purpose not in (None, Purpose.SERVICE)
            if sub.ahead is not None and owners.get(sub.ahead.loader) == sub.plugin:
                children.append(_Child(child, sub.ahead, sub.scopes))
        found.append(Ahead(plan, spec.ahead, spec.scopes, spec.row, tuple(children), consent))
    return tuple(found)


def _object_fields(plan: FieldPlan) -> tuple[FieldPlan, ...]:
    how = plan.completion
    while how.inner is not None:
        how = how.inner
    return how.fields


def read_ahead(aheads: Sequence[Ahead], context: Any, variables: VariableValues) -> None:
    """Start the loads of every read-ahead the token may make (not awaited: the fields
    await them)."""
    gate = context.gate
    scopes: frozenset[str] = gate.scopes
    principal = gate.principal
    for root in aheads:
        arguments = _arguments(root.plan, variables)
        if arguments is None or not root.scopes <= scopes:
            continue
        row = _worked_out(root.ahead.row, arguments, context)
        if row is None or not _may_read(root.rule, row, principal, scopes):
            continue
        _load(context, root.ahead, row, arguments)
        if row != principal.customer_id and BACK_OFFICE_SCOPE not in scopes:
            continue  # its sub-fields are for the customer or the back office only
        for child in root.children:
            if not child.scopes <= scopes:
                continue
            child_arguments = _arguments(child.plan, variables)
            if child_arguments is not None:
                _load(context, child.ahead, row, child_arguments)
        if root.consent or principal.client_kind is ClientKind.THIRD_PARTY:
            _observe(gate.consents_ahead(row))


def _may_read(rule: RowRule | None, row: str, principal: Principal, scopes: frozenset[str]) -> bool:
    if rule is RowRule.SELF:
        return row == principal.customer_id
    if rule is RowRule.BACK_OFFICE:
        return BACK_OFFICE_SCOPE in scopes
    return False


def _arguments(plan: FieldPlan, variables: VariableValues) -> Mapping[str, Any] | None:
    if plan.arguments is not None:
        return plan.arguments
    assert plan.definition is not None
    try:
        return get_argument_values(plan.definition, plan.nodes[0], variables)
    except Exception:  # the field reports it when it runs
        return None


def _worked_out(row: Any, arguments: Mapping[str, Any], context: Any) -> str | None:
    try:
        return row(arguments, context) if row is not None else None
    except Exception:  # the field reports what is wrong when it runs
        return None


def _load(context: Any, ahead: ReadAhead, row: str, arguments: Mapping[str, Any]) -> None:
    try:
        key = ahead.key(row, arguments, context)
    except Exception:  # a bad argument (a cursor, say): the field reports it when it runs
        return
    if key is not None:
        _observe(context.loader(ahead.loader).load(key))


def _observe(waiting: Any) -> None:
    # A load whose field the gate then refuses is never awaited: its failure,
    # if any, is not an error to report.
    if isinstance(waiting, asyncio.Future):
        waiting.add_done_callback(_consumed)


def _consumed(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
