"""Row rules: whose data a row is, and whether the request's principal may see it.

Each function takes the principal, the scopes it holds (already cut to what its
client kind may hold) and, where the rule looks at one, the row; it returns the
id of the customer whose data the row is (None for an anonymous visit) or
raises the error the client sees (``where`` names the field's path; it is only
worked out for an error, as an allowed read is the common case). The gate
(gateway/gate/field_extensions.py) calls them; no resolver decides who may see a row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.errors import Forbidden, NotFound, Unauthenticated
from gateway.gate.ids import VisitIds, vouches
from gateway.principal import Principal

BACK_OFFICE_SCOPE = "customers:read"
BROWSING_READ = "browsing:read"


def own_customer(principal: Principal, where: Callable[[], str]) -> str:
    """RowRule.SELF: the token's own customer."""
    if principal.customer_id is None:
        raise Unauthenticated(f"{where()} needs a token issued for a customer")
    return principal.customer_id


def back_office(scopes: frozenset[str], where: Callable[[], str]) -> None:
    """RowRule.BACK_OFFICE, before fetching: only the back office reads any customer."""
    if BACK_OFFICE_SCOPE not in scopes:
        raise Forbidden(
            f"{where()} needs scope(s) {BACK_OFFICE_SCOPE}", missingScopes=[BACK_OFFICE_SCOPE]
        )


def customer_row(
    principal: Principal, scopes: frozenset[str], row: Any, where: Callable[[], str]
) -> str:
    """RowRule.CUSTOMER: a customer's field, for that customer or the back office."""
    return customer(principal, scopes, _attribute(row, "id", where), where)


def customer(
    principal: Principal, scopes: frozenset[str], subject: str, where: Callable[[], str]
) -> str:
    """The CUSTOMER rule for a customer known by id (a recommendation's subject)."""
    if subject == principal.customer_id or BACK_OFFICE_SCOPE in scopes:
        return subject
    raise Forbidden(
        f"{where()}: only the customer (or the back office) may read it",
        missingScopes=[BACK_OFFICE_SCOPE],
    )


def session_row(
    principal: Principal,
    scopes: frozenset[str],
    row: Any,
    where: Callable[[], str],
    ids: VisitIds | None = None,
) -> str | None:
    """RowRule.SESSION: an anonymous visit is read by whoever holds its id; a signed-in
    one is that customer's browsing history.

    Holding the id means holding an id the gateway issued (gateway/gate/ids.py):
    ids a shop chose itself, often a counter, would let anyone read every
    anonymous visit in turn, so only the shop's own services (which vouch for
    them) and the back office read those; anyone else hears NOT_FOUND, as for a
    session that does not exist. Once the visitor signed in, a session id alone
    (a cookie left on a shared computer, say) must not show the visit: only a
    token for that customer with ``browsing:read``, or the back office's
    ``customers:read``, may read it.
    """
    subject: str | None = getattr(row, "customer_id", None)
    session_id = _attribute(row, "id", where)
    if BACK_OFFICE_SCOPE in scopes:
        return subject
    if subject is None:
        device_id = getattr(row, "device_id", None)
        if vouches(principal) or (
            ids is not None and device_id is not None and ids.is_session_of(session_id, device_id)
        ):
            return None
        raise NotFound(f"no session with id {session_id!r}", id=session_id)
    if principal.customer_id == subject and BROWSING_READ in scopes:
        return subject
    needed = BROWSING_READ if principal.customer_id == subject else BACK_OFFICE_SCOPE
    raise Forbidden(
        f"session {session_id!r} belongs to a signed-in customer: it needs a token for "
        "that customer with browsing:read, or customers:read",
        missingScopes=[needed],
    )


def _attribute(row: Any, name: str, where: Callable[[], str]) -> str:
    value = getattr(row, name, None)
    if not isinstance(value, str):
        # A plugin declared a row rule on a field whose row has no such id: a bug
        # to see (masked as INTERNAL), never a read let through.
        raise TypeError(f"{where()}: the row {type(row).__name__} has no {name!r}")
    return value


def written_for(principal: Principal, given: str | None) -> str | None:
    """The customer a write (an event) in the principal's name is about.

    A token issued for a customer speaks for that customer only: a write that
    names nobody is theirs, one that names someone else is refused
    (PermissionError with the reason). Other tokens (the retailer's services)
    write for whom they name.
    """
    if principal.customer_id is None:
        return given or None
    if given and given != principal.customer_id:
        raise PermissionError("is not the customer of this token")
    return principal.customer_id
