"""The one table of scopes: which a kind of client may hold, and which no customer's token may.

Every scope says which kinds of client may ever hold it (``ScopeSpec.kinds``)
and whether it is the back office's (``ScopeSpec.back_office``: it reads or
writes *any* customer, like ``customers:read``). A token issued for a customer
speaks for that customer alone, so it never holds a back-office scope,
whichever client asks and however (the authorization code flow, a refresh,
``tightrope token``): it would make that customer the back office.

The OAuth server (what it issues), the resource server (what a token counts
for) and the gate (what a request may do) all ask this table; it is worked out
once per app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gateway.principal import ClientKind


class ScopeLike(Protocol):
    """Anything with a scope's name, description, client kinds and back-office mark."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def kinds(self) -> frozenset[ClientKind]: ...

    @property
    def back_office(self) -> bool: ...


class ScopeTable:
    """Scopes by client kind, with and without a customer, from one app's scope catalogue."""

    def __init__(self, scopes: Iterable[ScopeLike]) -> None:
        listed = list(scopes)
        self.back_office = frozenset(s.name for s in listed if s.back_office)
        self._by_kind = {
            kind: frozenset(s.name for s in listed if kind in s.kinds) for kind in ClientKind
        }
        self._for_customer = {
            kind: names - self.back_office for kind, names in self._by_kind.items()
        }

    def allowed(self, kind: ClientKind | str | None, *, customer: bool = False) -> frozenset[str]:
        """Every scope a client of ``kind`` may hold; with ``customer``, in a token for one.

        No kind (anonymous) holds none; a kind this gateway does not know gets
        a third party's, the narrowest.
        """
        if kind is None:
            return frozenset()
        try:
            known = ClientKind(kind)
        except ValueError:
            known = ClientKind.THIRD_PARTY
        return (self._for_customer if customer else self._by_kind)[known]
