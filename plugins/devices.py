"""Built-in plugin ``tightrope-devices``: how devices are linked, the journey, unlinking.

* ``Device.link`` (``devices:read``): how a device came to count as the
  customer's: method, confidence, the evidence in the customer's words, when.
  Under ``me { devices }`` it is the link to that customer; elsewhere (a
  session's device) the link to the customer of the token, if any.
* ``Customer.journey(first, after)`` (``browsing:read``): what the customer
  did, newest first, on every device that counts as theirs, with the device.
  Devices linked with less than ``TIGHTROPE_HISTORY_MIN_LINK_CONFIDENCE``
  count no more here than in the history.
* ``unlinkDevice(id)`` (``devices:write``): "this device is not mine". The
  link goes, the device's data stops counting at once, and the evidence that
  linked it never links it again; a device that is not linked to the caller is
  ``NOT_FOUND``, whoever's it is.

:func:`consent_withdrawn` (the gate's hook) drops a customer's probabilistic
links when they withdraw ``cross_device``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from tightrope import (
    CROSS_DEVICE,
    BadUserInput,
    CustomerRef,
    DataCategory,
    Device,
    FieldSpec,
    Graph,
    JourneyPage,
    JourneyStep,
    Link,
    LinkedDevice,
    Manifest,
    NotFound,
    Principal,
    Purpose,
    RowRule,
    ScopeSpec,
    Settings,
    TypeSpec,
    Unauthenticated,
    batch_loader,
    decode_time_cursor,
    encode_cursor,
    forget_guesses,
    hookimpl,
    journey_of,
    links_between,
    page_size,
    unlink_device,
)

Info = strawberry.Info

DEVICES_READ = "devices:read"
DEVICES_WRITE = "devices:write"
BROWSING_READ = "browsing:read"


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset({DataCategory.DEVICE, DataCategory.BROWSING_HISTORY}),
        description="How the customer's devices were linked, their journey across them, "
        "and unlinking a device; drops guessed links when cross_device consent ends.",
    )


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [ScopeSpec(DEVICES_WRITE, "remove devices that are not yours from your account")]


@hookimpl
def register_loaders() -> dict[str, Any]:
    return {"device_link": batch_loader(links_between)}


@strawberry.enum(name="JourneyStepType", description="What the customer did.")
class StepType(Enum):
    VIEW = "view"
    ADD_TO_CART = "add_to_cart"
    LOGIN = "login"


@hookimpl
def register_types() -> list[TypeSpec]:
    return [
        TypeSpec("DeviceLink", "How a device came to count as a customer's, and why."),
        TypeSpec("JourneyStep", "One thing a customer did, on which device."),
    ]


# -- resolvers ----------------------------------------------------------------


async def device_link(root: Device, info: Info) -> Link | None:
    if isinstance(root, LinkedDevice):
        return root.link
    principal: Principal = info.context.principal
    if principal.customer_id is None:
        return None
    found: Link | None = await info.context.loader("device_link").load(
        (root.id, principal.customer_id)
    )
    return found


def _after(after: str | None) -> tuple[datetime, str, str] | None:
    position = decode_time_cursor(after, "k", "id")
    if position is not None and position[1] not in ("VIEWED", "ADDED_TO_CART", "SIGNED_IN_AS"):
        raise BadUserInput("after: not a cursor of this list", argument="after")
    return position


async def customer_journey(
    root: CustomerRef, info: Info, first: int | None = None, after: str | None = None
) -> list[JourneyStep]:
    settings: Settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    page: JourneyPage = await journey_of(
        info.context.graph_for(info),
        root.id,
        size,
        settings.history_min_link_confidence,
        _after(after),
    )
    return list(page.steps)


def step_type(root: JourneyStep, info: Info) -> StepType:
    return StepType(root.kind)


def step_cursor(root: JourneyStep, info: Info) -> str:
    at, kind, event_id = root.position
    return encode_cursor({"at": at, "k": kind, "id": event_id})


async def unlink(root: Any, info: Info, id: strawberry.ID) -> Device:
    principal: Principal = info.context.principal
    if principal.customer_id is None:
        raise Unauthenticated("unlinkDevice needs a token issued for a customer")
    removed = await unlink_device(info.context.graph_for(info), principal.customer_id, str(id))
    if removed is None:
        # The same answer whether the device exists, is someone else's or not:
        # whose a device is must not be learnt by guessing ids.
        raise NotFound(f"no device {id!r} is linked to you", id=str(id))
    found: Device | None = await info.context.loader("device").load(str(id))
    if found is None:
        raise NotFound(f"no device {id!r} is linked to you", id=str(id))
    return found


@hookimpl
def register_fields() -> list[FieldSpec]:
    device, browsing = DataCategory.DEVICE, DataCategory.BROWSING_HISTORY
    return [
        FieldSpec(
            "Device",
            "link",
            "DeviceLink",
            device_link,
            description="How this device came to count as the customer's (under `me`, or "
            "the customer of the token): null when it does not.",
            data_category=device,
            scopes=frozenset({DEVICES_READ}),
        ),
        FieldSpec(
            "DeviceLink",
            "method",
            "String",
            description="login, email, probabilistic, or how an import said it was linked.",
            data_category=device,
        ),
        FieldSpec(
            "DeviceLink",
            "confidence",
            "Float",
            description="1 for a sign-in or an email; a calibrated guess otherwise.",
            data_category=device,
        ),
        FieldSpec(
            "DeviceLink",
            "evidence",
            "[String!]!",
            description="Why, in plain words.",
            data_category=device,
        ),
        FieldSpec("DeviceLink", "linkedAt", "DateTime", attr="linked_at", data_category=device),
        FieldSpec(
            "Customer",
            "journey",
            "[JourneyStep!]!",
            customer_journey,
            description="What the customer did on every device that counts as theirs, newest "
            "first; `after` takes a step's cursor. Purchases are in `purchases`.",
            data_category=browsing,
            scopes=frozenset({BROWSING_READ}),
            purpose=Purpose.SERVICE,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec("JourneyStep", "at", "DateTime!", data_category=browsing),
        FieldSpec("JourneyStep", "type", StepType, step_type, data_category=browsing),
        FieldSpec("JourneyStep", "device", "Device", data_category=device),
        FieldSpec("JourneyStep", "product", "Product", data_category=browsing),
        FieldSpec("JourneyStep", "sessionId", "ID!", attr="session_id", data_category=browsing),
        FieldSpec("JourneyStep", "cursor", "String!", step_cursor, data_category=browsing),
        FieldSpec(
            "Mutation",
            "unlinkDevice",
            "Device",
            unlink,
            description="Remove a device from the caller's: its data stops counting at once, "
            "and only a new sign-in on it links it again.",
            data_category=device,
            scopes=frozenset({DEVICES_WRITE}),
            purpose=Purpose.SERVICE,
            row=RowRule.SELF,
        ),
    ]


@hookimpl
def consent_withdrawn(customer_id: str, purpose: str, graph: Graph) -> Awaitable[None] | None:
    """A customer withdrew ``purpose``: for ``cross_device``, drop their probabilistic links.

    The links they proved (a sign-in, their email) stay: those never needed
    that consent. From the next batch on, the gate refuses new guesses too.
    """
    if purpose != CROSS_DEVICE:
        return None
    return _forget(graph, customer_id)


async def _forget(graph: Graph, customer_id: str) -> None:
    await forget_guesses(graph, customer_id)
