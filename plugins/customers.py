"""Built-in plugin ``tightrope-customers``: customers, their devices, visitors' sessions.

``customer(id)`` is the back office's door (row rule ``BACK_OFFICE``: scope
``customers:read``); ``me`` is the customer the request's token is about (row
rule ``SELF``); ``session(id)`` is a visit (row rule ``SESSION``: anonymous to
whoever holds its id, signed in only to its customer or the back office).
A customer's ``contact`` (email, name, phone) needs ``profile.contact:read``;
it is stored sealed and opened here with the deployment's data keys. Each
field declares its scopes, row rule, purpose and data category; the host's gate
enforces them all, so the resolvers here only fetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from tightrope import (
    Contact,
    Customer,
    CustomerRef,
    DataCategory,
    Device,
    FieldSpec,
    Manifest,
    NotFound,
    Principal,
    Purpose,
    ReadAhead,
    RowRule,
    Session,
    Settings,
    TypeSpec,
    batch_loader,
    contacts_by_id,
    customers_by_id,
    devices_by_id,
    devices_of_customers,
    hookimpl,
    sessions_by_id,
)

Info = strawberry.Info

CUSTOMERS_READ = "customers:read"
CONTACT_READ = "profile.contact:read"


@hookimpl
def register_types() -> list[TypeSpec]:
    return [TypeSpec("Contact", "How to reach the customer: stored encrypted, shown only here.")]


@hookimpl
def register_loaders() -> dict[str, Any]:
    return {
        "customer": batch_loader(customers_by_id),
        "session": batch_loader(sessions_by_id),
        "device": batch_loader(devices_by_id),
        "customer_devices": batch_loader(devices_of_customers),
    }


# What the resolvers below will load, so that a query run from its plan reads
# a customer and what it asks of them in one exchange (tightrope.ReadAhead).
CUSTOMER_AHEAD = ReadAhead("customer", key=lambda row, arguments, context: row)
# customer(id:): the row is the id asked for.
BACK_OFFICE_AHEAD = ReadAhead(
    "customer",
    key=lambda row, arguments, context: row,
    row=lambda arguments, context: str(arguments["id"]),
)
# me: the token's customer; read only when the token's check did not find it.
ME_AHEAD = ReadAhead(
    "customer",
    key=lambda row, arguments, context: None if context.principal.customer_exists else row,
    row=lambda arguments, context: context.principal.customer_id,
)


async def _customer(info: Info, customer_id: str) -> Customer:
    found: Customer | None = await info.context.loader("customer").load(customer_id)
    if found is None:
        raise NotFound(f"no customer with id {customer_id!r}", id=customer_id)
    return found


async def customer(root: Any, info: Info, id: strawberry.ID) -> Customer:
    return await _customer(info, id)


async def me(root: Any, info: Info) -> CustomerRef:
    # The gate's SELF rule has made sure the token names a customer.
    principal: Principal = info.context.principal
    assert principal.customer_id is not None
    if principal.customer_exists:
        # The token's check found the customer: no read just to learn that.
        return CustomerRef(principal.customer_id)
    return await _customer(info, principal.customer_id)


async def customer_created_at(root: CustomerRef, info: Info) -> datetime | None:
    found = root if isinstance(root, Customer) else await _customer(info, root.id)
    return found.created_at


async def customer_contact(root: CustomerRef, info: Info) -> Contact | None:
    settings: Settings = info.context.settings
    found = await contacts_by_id(
        info.context.graph_for(info), [root.id], settings.data_keys_in_use()
    )
    return found[0]


async def session(root: Any, info: Info, id: strawberry.ID) -> Session:
    # Whether this principal may see the session is the gate's SESSION rule.
    found: Session | None = await info.context.loader("session").load(id)
    if found is None:
        raise NotFound(f"no session with id {id!r}", id=id)
    return found


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
    service = Purpose.SERVICE
    return [
        FieldSpec(
            "Query",
            "customer",
            "Customer",
            customer,
            description="Any customer, for the retailer's back office.",
            data_category=profile,
            scopes=frozenset({CUSTOMERS_READ}),
            purpose=service,
            row=RowRule.BACK_OFFICE,
            ahead=BACK_OFFICE_AHEAD,
        ),
        FieldSpec(
            "Query",
            "me",
            "Customer",
            me,
            description="The customer the token was issued for.",
            data_category=profile,
            purpose=service,
            row=RowRule.SELF,
            ahead=ME_AHEAD,
        ),
        FieldSpec(
            "Query",
            "session",
            "Session",
            session,
            description="A visit by id; an anonymous visitor's session id is its key.",
            data_category=browsing,
            purpose=service,
            row=RowRule.SESSION,
        ),
        # The id of a row the gate let through (me, customer(id)): nothing more.
        FieldSpec("Customer", "id", "ID!", data_category=profile),
        FieldSpec(
            "Customer",
            "createdAt",
            "DateTime",
            customer_created_at,
            data_category=profile,
            scopes=frozenset({"profile:read"}),
            purpose=service,
            row=RowRule.CUSTOMER,
            ahead=CUSTOMER_AHEAD,
        ),
        FieldSpec(
            "Customer",
            "contact",
            "Contact",
            customer_contact,
            description="Email, name and phone, if the retailer holds them.",
            data_category=DataCategory.CONTACT,
            scopes=frozenset({CONTACT_READ}),
            purpose=service,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec("Contact", "email", "String", data_category=DataCategory.CONTACT),
        FieldSpec("Contact", "name", "String", data_category=DataCategory.CONTACT),
        FieldSpec("Contact", "phone", "String", data_category=DataCategory.CONTACT),
        FieldSpec(
            "Customer",
            "devices",
            "[Device!]!",
            customer_devices,
            description="Devices linked to this customer, most recently seen first.",
            data_category=device,
            scopes=frozenset({"devices:read"}),
            purpose=service,
            row=RowRule.CUSTOMER,
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
        FieldSpec(
            "Session",
            "device",
            "Device",
            session_device,
            data_category=device,
            purpose=service,
            row=RowRule.SESSION,
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset(
            {
                DataCategory.PROFILE,
                DataCategory.CONTACT,
                DataCategory.DEVICE,
                DataCategory.BROWSING_HISTORY,
            }
        ),
        description="Customers, their contact details, devices and sessions, to the customer "
        "and the back office.",
    )
