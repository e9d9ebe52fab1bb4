"""The scope catalogue: every OAuth scope the gateway knows, in plain language.

The catalogue itself is the gateway's (``gateway.fields.CORE_SCOPES`` plus what
plugins add through ``register_scopes``); which scopes a kind of client may hold,
and which no customer's token may, is the gate's one table
(gateway/gate/scopes.py). This module adds what OAuth needs on top: checks of
requested scope lists, and their text form.
The consent page shows customers the descriptions.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.fields import CORE_SCOPES
from gateway.gate.scopes import ScopeLike, ScopeTable

__all__ = ["ScopeCatalogue", "ScopeLike", "UnknownScope", "join", "parse"]


class UnknownScope(ValueError):
    """A scope was named that nobody declared."""


class ScopeCatalogue:
    """The scopes of one app: the built-ins plus those plugins registered."""

    def __init__(self, scopes: Iterable[ScopeLike] = CORE_SCOPES) -> None:
        # The gateway's registry already refuses a scope declared twice.
        self._scopes: dict[str, ScopeLike] = {scope.name: scope for scope in scopes}
        # Asked on every request's token check: the gate's one table, made once.
        self.table = ScopeTable(self._scopes.values())

    def __contains__(self, name: object) -> bool:
        return name in self._scopes

    def __getitem__(self, name: str) -> ScopeLike:
        return self._scopes[name]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._scopes)

    def check(self, names: Iterable[str]) -> frozenset[str]:
        """Return ``names`` as a set, or raise UnknownScope naming the unknown ones."""
        wanted = frozenset(names)
        unknown = sorted(wanted - self.names)
        if unknown:
            raise UnknownScope(f"unknown scope(s): {', '.join(unknown)}")
        return wanted

    def allowed_for(self, client_kind: str, *, customer: bool = False) -> frozenset[str]:
        """Every scope a client of this kind may be allowed at all (ScopeSpec.kinds);
        with ``customer``, in a token issued for a customer (no back-office scope).

        A kind this gateway does not know gets the narrowest set: a third party's.
        """
        return self.table.allowed(client_kind, customer=customer)

    def for_customer(self, names: Iterable[str]) -> list[str]:
        """``names`` without the back-office scopes, in order: what a customer's token may hold."""
        return [name for name in names if name not in self.table.back_office]


def parse(scope: str | None) -> list[str]:
    """Split a space-separated scope parameter, keeping order and dropping repeats."""
    seen: dict[str, None] = {}
    for name in (scope or "").split():
        seen.setdefault(name, None)
    return list(seen)


def join(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))
