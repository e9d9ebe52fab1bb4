"""The scope catalogue: every OAuth scope the gateway knows, in plain language.

The catalogue itself is the gateway's (``gateway.fields.CORE_SCOPES`` plus what
plugins add through ``register_scopes``); this module adds what OAuth needs on
top: which scopes only first-party clients may hold, and checks of requested
scope lists. The consent page shows customers the descriptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gateway.fields import CORE_SCOPES


class ScopeLike(Protocol):
    """Anything with a scope's name and plain-language description (gateway.ScopeSpec)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...


# Scopes a third-party or public client may never hold, whatever it asks for:
# reading any customer (the back office), and seeing or changing which apps a
# customer authorised (the retailer's own privacy dashboard; scopes declared by
# the built-in tightrope-authorised-apps plugin).
FIRST_PARTY_ONLY: frozenset[str] = frozenset({"customers:read", "apps:read", "apps:write"})

# Scopes the retailer's own public frontends (the web shop, the app) need but a
# third party may not hold: recording views, carts, purchases and logins in the
# customer's name would let another company shape their history and profile.
NOT_FOR_THIRD_PARTIES: frozenset[str] = frozenset({"events:write"})


class UnknownScope(ValueError):
    """A scope was named that nobody declared."""


class ScopeCatalogue:
    """The scopes of one app: the built-ins plus those plugins registered."""

    def __init__(self, scopes: Iterable[ScopeLike] = CORE_SCOPES) -> None:
        # The gateway's registry already refuses a scope declared twice.
        self._scopes: dict[str, ScopeLike] = {scope.name: scope for scope in scopes}

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

    def allowed_for(self, client_kind: str) -> frozenset[str]:
        """Every scope a client of this kind may be allowed at all."""
        if client_kind == "first_party":
            return self.names
        if client_kind == "public":
            return self.names - FIRST_PARTY_ONLY
        # third_party, and any kind this module does not know: the narrowest set.
        return self.names - FIRST_PARTY_ONLY - NOT_FOR_THIRD_PARTIES


def parse(scope: str | None) -> list[str]:
    """Split a space-separated scope parameter, keeping order and dropping repeats."""
    seen: dict[str, None] = {}
    for name in (scope or "").split():
        seen.setdefault(name, None)
    return list(seen)


def join(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))
