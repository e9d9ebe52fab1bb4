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
* ``Customer.suggestedDevices`` (``devices:read``, the customer's
  ``cross_device`` consent): guesses too weak to link, each described without
  anyone's browsing ("A tablet (Safari), seen on a network your devices use,
  mostly on weekday evenings"); ``confirmDevice(id)`` makes one theirs by
  their own word, ``rejectDevice(id)`` means it is never suggested or guessed
  again (``devices:write``). A device not suggested to the caller is
  ``NOT_FOUND``.

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
    SuggestedDevice,
    TypeSpec,
    Unauthenticated,
    batch_loader,
    confirm_device,
    decode_time_cursor,
    encode_cursor,
    forget_guesses,
    hookimpl,
    journey_of,
    links_between,
    page_size,
    reject_device,
    suggestions_of_customers,
    unlink_device,
)

Info = strawberry.Info

DEVICES_READ = "devices:read"
DEVICES_WRITE = "devices:write"
BROWSING_READ = "browsing:read"


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE, CROSS_DEVICE}),
        categories=frozenset({DataCategory.DEVICE, DataCategory.BROWSING_HISTORY}),
        description="How the customer's devices were linked, their journey across them, "
        "and unlinking a device; drops guessed links when cross_device consent ends.",
    )


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec(
            DEVICES_WRITE,
            "confirm devices suggested as yours, and remove devices that are not yours",
        )
    ]


@hookimpl
def register_loaders() -> dict[str, Any]:
    return {
        "device_link": batch_loader(links_between),
        "suggested_devices": batch_loader(suggestions_of_customers),
    }


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
        TypeSpec(
            "SuggestedDevice",
            "A device that may be the customer's: confirm it (confirmDevice) or reject it "
            "(rejectDevice).",
        ),
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


KINDS = {"mobile": "phone", "tablet": "tablet", "desktop": "computer"}
PARTS = ((5, "mornings"), (12, "afternoons"), (17, "evenings"), (22, "nights"))
# A pattern is named only when this share of the visits follows it.
MOSTLY = 0.6


def _part(hour: int) -> str:
    """The part of the day an hour falls in (before 5 counts as night)."""
    named = "nights"
    for start, name in PARTS:
        if hour >= start:
            named = name
    return named


def describe(found: SuggestedDevice) -> str:
    """A suggested device in words that say nothing of what anyone did on it.

    The device's kind and browser family, whether it was seen on a network one
    of the customer's own devices uses, and when its visits start (in the
    offset they were sent with): "mostly on weekday evenings".
    """
    what = f"A {KINDS.get(found.kind or '', 'device')}"
    if found.ua_family:
        what += f" ({found.ua_family})"
    parts = [what]
    if found.near_own:
        parts.append("seen on a network your devices use")
    if found.starts:
        counts: dict[str, int] = {}
        for at in found.starts:
            day = "weekend" if at.weekday() >= 5 else "weekday"
            key = f"{day} {_part(at.hour)}"
            counts[key] = counts.get(key, 0) + 1
        common, n = max(counts.items(), key=lambda item: (item[1], item[0]))
        if n >= MOSTLY * len(found.starts):
            parts.append(f"mostly on {common}")
    if found.last_seen is not None:
        parts.append(f"last seen {found.last_seen.day} {found.last_seen:%B %Y}")
    return ", ".join(parts)


async def suggested_devices(root: CustomerRef, info: Info) -> list[SuggestedDevice]:
    found: list[SuggestedDevice] = await info.context.loader("suggested_devices").load(root.id)
    return found


def suggestion_description(root: SuggestedDevice, info: Info) -> str:
    return describe(root)


def _answer(verb: str, answer: Any) -> Any:
    async def resolve(root: Any, info: Info, id: strawberry.ID) -> Device:
        principal: Principal = info.context.principal
        if principal.customer_id is None:
            raise Unauthenticated(f"{verb} needs a token issued for a customer")
        done = await answer(info.context.graph_for(info), principal.customer_id, str(id))
        found: Device | None = await info.context.loader("device").load(str(id))
        if not done or found is None:
            # Whose a device is must not be learnt by guessing ids.
            raise NotFound(f"no device {id!r} is suggested to you", id=str(id))
        return found

    return resolve


@hookimpl
def register_fields() -> list[FieldSpec]:
    device, browsing = DataCategory.DEVICE, DataCategory.BROWSING_HISTORY
    return [
        FieldSpec(
            "Customer",
            "suggestedDevices",
            "[SuggestedDevice!]",
            suggested_devices,
            description="Devices a guess says may be the customer's but is not sure enough "
            "to link: confirm or reject each. Needs their cross_device consent (null "
            "without it, with CONSENT_REQUIRED).",
            data_category=device,
            scopes=frozenset({DEVICES_READ}),
            purpose=CROSS_DEVICE,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec("SuggestedDevice", "id", "ID!", data_category=device),
        FieldSpec("SuggestedDevice", "kind", "String", data_category=device),
        FieldSpec("SuggestedDevice", "uaFamily", "String", attr="ua_family", data_category=device),
        FieldSpec(
            "SuggestedDevice",
            "description",
            "String!",
            suggestion_description,
            description="The device in plain words, without anything anyone did on it.",
            data_category=device,
        ),
        FieldSpec(
            "SuggestedDevice",
            "evidence",
            "[String!]!",
            description="Why it may be yours.",
            data_category=device,
        ),
        FieldSpec("SuggestedDevice", "confidence", "Float!", data_category=device),
        FieldSpec(
            "SuggestedDevice", "suggestedAt", "DateTime", attr="suggested_at", data_category=device
        ),
        FieldSpec(
            "Mutation",
            "confirmDevice",
            "Device",
            _answer("confirmDevice", confirm_device),
            description="Say a suggested device is yours: it counts as yours from now on, as "
            "if you had signed in on it.",
            data_category=device,
            scopes=frozenset({DEVICES_WRITE}),
            purpose=Purpose.SERVICE,
            row=RowRule.SELF,
        ),
        FieldSpec(
            "Mutation",
            "rejectDevice",
            "Device",
            _answer("rejectDevice", reject_device),
            description="Say a suggested device is not yours: it is never suggested or "
            "guessed yours again.",
            data_category=device,
            scopes=frozenset({DEVICES_WRITE}),
            purpose=Purpose.SERVICE,
            row=RowRule.SELF,
        ),
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
            description="login, email, confirmed (the customer said so), probabilistic, or how "
            "an import said it was linked.",
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
    """A customer withdrew ``purpose``: for ``cross_device``, drop their probabilistic links
    and the devices suggested to them, and take them out of their households.

    The links they proved (a sign-in, their verified email, their word) stay:
    those never needed that consent. From the next batch on, the gate refuses
    new guesses too.
    """
    if purpose != CROSS_DEVICE:
        return None
    return _forget(graph, customer_id)


async def _forget(graph: Graph, customer_id: str) -> None:
    await forget_guesses(graph, customer_id)
