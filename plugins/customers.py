"""Built-in plugin ``tightrope-customers``: customers, their devices, visitors' sessions.

``customer(id)`` is the back office's door (scope ``customers:read``); ``me`` is
the customer the request's token is about. Each field declares the scopes it
needs, which the host's gate enforces, and the data category it reads, which
no gate checks yet: consent policies are still to come.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gateway import (
    DataCategory,
    FieldSpec,
    Forbidden,
    NotFound,
    Principal,
    Unauthenticated,
    batch_loader,
    hookimpl,
)
from graph import (
    Customer,
    CustomerRef,
    Device,
    Session,
    customers_by_id,
    devices_by_id,
    devices_of_customers,
    sessions_by_id,
)

Info = strawberry.Info

CUSTOMERS_READ = "customers:read"
BROWSING_READ = "browsing:read"


@hookimpl
def register_loaders() -> dict[str, Any]:
    return {
        "customer": batch_loader(customers_by_id),
        "session": batch_loader(sessions_by_id),
        "device": batch_loader(devices_by_id),
        "customer_devices": batch_loader(devices_of_customers),
    }


async def _customer(info: Info, customer_id: str) -> Customer:
    found: Customer | None = await info.context.loader("customer").load(customer_id)
    if found is None:
        raise NotFound(f"no customer with id {customer_id!r}", id=customer_id)
    return found


async def customer(root: Any, info: Info, id: strawberry.ID) -> Customer:
    return await _customer(info, id)


async def me(root: Any, info: Info) -> CustomerRef:
    principal: Principal = info.context.principal
    if principal.customer_id is None:
        raise Unauthenticated("me needs a token issued for a customer")
    if principal.customer_exists:
        # The token's check found the customer: no read just to learn that.
        return CustomerRef(principal.customer_id)
    return await _customer(info, principal.customer_id)


async def customer_created_at(root: CustomerRef, info: Info) -> datetime | None:
    found = root if isinstance(root, Customer) else await _customer(info, root.id)
    return found.created_at


async def session(root: Any, info: Info, id: strawberry.ID) -> Session:
    found: Session | None = await info.context.loader("session").load(id)
    if found is None:
        raise NotFound(f"no session with id {id!r}", id=id)
    _may_read_session(info.context.principal, found)
    return found


def _may_read_session(principal: Principal, found: Session) -> None:
    """An anonymous visit is read by whoever holds its id; a signed-in one is personal.

    Once the visitor signed in, the session's views and basket are that customer's
    browsing history: a session id alone (a cookie on a shared computer, say) must
    not show them. Then only a token for that customer with ``browsing:read``, or
    the back office's ``customers:read``, may read it.
    """
    if found.customer_id is None or CUSTOMERS_READ in principal.scopes:
        return
    if principal.customer_id == found.customer_id and BROWSING_READ in principal.scopes:
        return
    needed = [BROWSING_READ] if principal.customer_id == found.customer_id else []
    raise Forbidden(
        f"session {found.id!r} belongs to a signed-in customer: it needs a token for "
        "that customer with browsing:read, or customers:read",
        missingScopes=needed or [CUSTOMERS_READ],
    )


async def customer_devices(root: CustomerRef, info: Info) -> list[Device]:
    found: list[Device] = await info.context.loader("customer_devices").load(root.id)
    return found


async def session_device(root: Session, info: Info) -> Device | None:
    if root.device_id is None:
        return None
    found: Device | None = await info.context.loader("device").load(root.device_id)
    return found


@hookimpl
def register_fields() -> list[FieldSpec]:
    profile, device = DataCategory.PROFILE, DataCategory.DEVICE
    browsing = DataCategory.BROWSING_HISTORY
    return [
        FieldSpec(
            "Query",
            "customer",
            "Customer",
            customer,
            description="Any customer, for the retailer's back office.",
            data_category=profile,
            scopes=frozenset({CUSTOMERS_READ}),
        ),
        FieldSpec(
            "Query",
            "me",
            "Customer",
            me,
            description="The customer the token was issued for.",
            data_category=profile,
        ),
        FieldSpec(
            "Query",
            "session",
            "Session",
            session,
            description="A visit by id; an anonymous visitor's session id is its key.",
            data_category=browsing,
        ),
        FieldSpec("Customer", "id", "ID!", data_category=profile),
        FieldSpec(
            "Customer",
            "createdAt",
            "DateTime",
            customer_created_at,
            data_category=profile,
            scopes=frozenset({"profile:read"}),
        ),
        FieldSpec(
            "Customer",
            "devices",
            "[Device!]!",
            customer_devices,
            description="Devices linked to this customer, most recently seen first.",
            data_category=device,
            scopes=frozenset({"devices:read"}),
        ),
        FieldSpec("Device", "id", "ID!", data_category=device),
        FieldSpec(
            "Device",
            "kind",
            "String",
            description="mobile, desktop, tablet or kiosk; null until a customers file "
            "says (a device first seen in an event has none).",
            data_category=device,
        ),
        FieldSpec("Device", "uaFamily", "String", attr="ua_family", data_category=device),
        FieldSpec("Device", "firstSeen", "DateTime", attr="first_seen", data_category=device),
        FieldSpec("Device", "lastSeen", "DateTime", attr="last_seen", data_category=device),
        FieldSpec("Session", "id", "ID!", data_category=browsing),
        FieldSpec("Session", "startedAt", "DateTime", attr="started_at", data_category=browsing),
        FieldSpec("Session", "channel", "String", data_category=browsing),
        FieldSpec("Session", "device", "Device", session_device, data_category=device),
    ]
