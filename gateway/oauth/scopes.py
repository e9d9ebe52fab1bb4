"""The scope catalogue: every OAuth scope the gateway knows, in plain language.

The catalogue itself is the gateway's (``gateway.fields.CORE_SCOPES`` plus what
plugins add through ``register_scopes``); each scope says which kinds of client
may ever hold it (``ScopeSpec.kinds``). This module adds what OAuth needs on
top: the scopes a kind of client may hold, and checks of requested scope lists.
The consent page shows customers the descriptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gateway.fields import CORE_SCOPES
from gateway.principal import ClientKind


class ScopeLike(Protocol):
    """Anything with a scope's name, plain-language description and client kinds."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def kinds(self) -> frozenset[ClientKind]: ...


class UnknownScope(ValueError):
    """A scope was named that nobody declared."""


class ScopeCatalogue:
    """The scopes of one app: the built-ins plus those plugins registered."""

    def __init__(self, scopes: Iterable[ScopeLike] = CORE_SCOPES) -> None:
        # The gateway's registry already refuses a scope declared twice.
        self._scopes: dict[str, ScopeLike] = {scope.name: scope for scope in scopes}
        # Asked on every request's token check: worked out once per kind.
        self._by_kind = {
            kind: frozenset(n for n, s in self._scopes.items() if kind in s.kinds)
            for kind in ClientKind
        }

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

    def for_customers(self, names: Iterable[str]) -> list[str]:
        """``names`` without the service-only scopes: what a customer's token may carry."""
        return [n for n in names if not getattr(self._scopes.get(n), "service_only", False)]

    def allowed_for(self, client_kind: str) -> frozenset[str]:
        """Every scope a client of this kind may be allowed at all (ScopeSpec.kinds).

        A kind this gateway does not know gets the narrowest set: a third party's.
        """
        try:
            kind = ClientKind(client_kind)
        except ValueError:
            kind = ClientKind.THIRD_PARTY
        return self._by_kind[kind]


def parse(scope: str | None) -> list[str]:
    """Split a space-separated scope parameter, keeping order and dropping repeats."""
    seen: dict[str, None] = {}
    for name in (scope or "").split():
        seen.setdefault(name, None)
    return list(seen)


def join(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))
