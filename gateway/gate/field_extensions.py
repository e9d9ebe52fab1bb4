"""The gate on fields: Strawberry field extensions the schema builder attaches.

Only fields that declare scopes or a row rule get one; the catalogue's fields
pay nothing. In order, for a field:

1. **Scopes.** The token must hold the field's scopes, counting only scopes its
   client kind may hold (``ScopeSpec.kinds``): else ``FORBIDDEN`` with
   ``missingScopes``.
2. **Row rule** (``FieldSpec.row``, gateway/gate/rows.py): whose data the row
   is and whether this principal may see it. For a field of an object type the
   row is the parent; for a field of ``Query`` or ``Mutation`` it is the value
   the resolver fetched (``SELF`` and ``BACK_OFFICE`` decide before fetching).
3. **Consent.** The policies decide whether the field's purpose may read its
   category of that customer's data (gateway/gate/policy.py): else
   ``CONSENT_REQUIRED`` naming the path, the purpose and the category.
4. An allowed read is noted for the customer's access log.

A refused field is null with its error; the rest of the answer stands (the
builder makes gated fields nullable). Resolvers only fetch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from inspect import isawaitable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.errors import ConsentRequired, Forbidden
from gateway.fields import DataCategory, FieldSpec, Purpose, RowRule
from gateway.gate import rows
from gateway.gate.request import RequestGate

ROOT_TYPES = frozenset({"Query", "Mutation"})


def path_of(info: Info[Any, Any]) -> str:
    return ".".join(str(part) for part in info.path.as_list())


def check_scopes(gate: RequestGate, required: frozenset[str], info: Info[Any, Any]) -> None:
    missing = sorted(required - gate.scopes)
    if missing:
        raise Forbidden(
            f"{path_of(info)} needs scope(s) {', '.join(missing)}", missingScopes=missing
        )


class ScopeGate(FieldExtension):
    """Scopes only: for fields that reveal no row of anyone's data (``trackEvents``)."""

    def __init__(self, scopes: frozenset[str]) -> None:
        super().__init__()
        self.scopes = scopes

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        check_scopes(info.context.gate, self.scopes, info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        check_scopes(info.context.gate, self.scopes, info)
        result = next_(source, info, **kwargs)
        if isawaitable(result):
            return await result
        return result


class RowGate(FieldExtension):
    """Scopes, row rule, consent and the access log, for a field with a row rule."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        assert spec.row is not None and spec.purpose is not None
        assert spec.data_category is not None
        self.scopes = spec.scopes
        self.rule: RowRule = spec.row
        self.purpose: Purpose = spec.purpose
        self.category: DataCategory = spec.data_category
        self.categories = frozenset({spec.data_category})
        self.plugin = spec.plugin
        self.field = f"{spec.type_name}.{spec.name}"
        # Rules that need the row look at the parent, or on Query/Mutation at
        # the value fetched.
        self.row_is_result = spec.type_name in ROOT_TYPES

    async def resolve_async(
        self,
        next_: Callable[..., Any],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        gate: RequestGate = info.context.gate
        check_scopes(gate, self.scopes, info)
        rule = self.rule
        where = partial(path_of, info)
        if rule is RowRule.BACK_OFFICE:
            rows.back_office(gate.scopes, where)  # before anything is fetched
        subject: str | None
        if rule is RowRule.SELF or not self.row_is_result:
            if rule is RowRule.SELF:
                subject = rows.own_customer(gate.principal, where)
            else:
                subject = self._subject(gate, source, info)
            await self._admit(gate, subject, info)
            result = await _call(next_, source, info, kwargs)
        else:
            result = await _call(next_, source, info, kwargs)
            if result is None:
                return None
            subject = self._subject(gate, result, info)
            await self._admit(gate, subject, info)
        # Recorded once read: a refused field, or one whose read failed, is not.
        if subject is not None:
            gate.record(subject, self.purpose, self.categories, self.plugin, self.field)
        return result

    def _subject(self, gate: RequestGate, row: Any, info: Info[Any, Any]) -> str | None:
        where = partial(path_of, info)
        if self.rule is RowRule.SESSION:
            owner = rows.session_row(gate.principal, gate.scopes, row, where, gate.keeper.ids)
            return gate.passed_session(row.id, owner)
        # CUSTOMER, and BACK_OFFICE once its scope was checked: a customer row.
        return rows.customer_row(gate.principal, gate.scopes, row, where)

    async def _admit(self, gate: RequestGate, subject: str | None, info: Info[Any, Any]) -> None:
        decision = await gate.decision(subject, self.purpose, self.categories, self.plugin)
        if not decision.allowed:
            raise ConsentRequired(
                f"{path_of(info)} needs consent for {decision.purpose.value} "
                f"({self.category.value}): {decision.reason}",
                purpose=decision.purpose.value,
                category=self.category.value,
            )


async def _call(
    next_: Callable[..., Any], source: Any, info: Info[Any, Any], kwargs: dict[str, Any]
) -> Any:
    result = next_(source, info, **kwargs)
    if isawaitable(result):
        return await result
    return result


def extensions_for(spec: FieldSpec) -> list[FieldExtension]:
    """The gate a field gets: none, scopes only, or the whole gate."""
    if spec.row is not None:
        return [RowGate(spec)]
    if spec.scopes:
        return [ScopeGate(spec.scopes)]
    return []
