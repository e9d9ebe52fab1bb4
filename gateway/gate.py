"""The scope gate: a field whose spec names scopes resolves only for a principal holding them.

It is a Strawberry field extension attached by the schema builder to every field
with scopes, so resolvers never check scopes themselves. A refused field is
``null`` with a ``FORBIDDEN`` error naming the path and the missing scopes; the
rest of the answer stands (the builder makes such fields nullable).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.errors import Forbidden


class ScopeGate(FieldExtension):
    def __init__(self, scopes: frozenset[str]) -> None:
        super().__init__()
        self.scopes = scopes

    def check(self, info: Info[Any, Any]) -> None:
        principal = info.context.principal
        missing = sorted(principal.missing(self.scopes))
        if missing:
            path = ".".join(str(part) for part in info.path.as_list())
            raise Forbidden(
                f"{path} needs scope(s) {', '.join(missing)}",
                missingScopes=missing,
            )

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        self.check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        self.check(info)
        result = next_(source, info, **kwargs)
        if isinstance(result, Awaitable):
            return await result
        return result
