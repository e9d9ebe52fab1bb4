"""Built-in plugin ``tightrope-events``: the ``trackEvents`` mutation.

Events go through the same code as the bulk loader (``parse_event`` and
``write_events``), so the API and a file import store exactly the same thing.
Each event carries an id its sender chose: sending a batch again stores nothing
twice. A bad event is reported as a ``BAD_USER_INPUT`` error with its index and
does not stop the good ones. Checks that need the graph (unknown products, an
event id taken by a different event, a session signed in as someone else) are
``write_events``'s; whom the token may write for is the gate's rule
(``written_for``): a customer's token speaks for that customer, in the events'
``customerId`` and in the sessions it may write to (anonymous ones, or the
customer's own).

An event may carry linking signals: the shopper's ``userAgent`` and
``network`` (an IP address), and an ``email`` given on the device. They are
turned into keyed hashes at once (``info.context.read_signals``); the strings
themselves are never stored. A malformed one is ignored, the event still
stored, and ``ignoredSignals`` names it. Stored events are then handed to the
linking queue, which links devices after the response (gateway/linking).

A view, add-to-cart or purchase that follows from a recommendation list
carries the list's ``listId`` (and the item's ``position``): it counts for
that list's placement, strategy and blend (docs/insights.md). A malformed one
is ignored like a signal: the event is stored and ``ignoredSignals`` says so.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tightrope import (
    Arrival,
    BadUserInput,
    Context,
    DataCategory,
    Event,
    EventSignals,
    FieldSpec,
    Manifest,
    Principal,
    RequestGate,
    RowError,
    Settings,
    flat_input,
    hookimpl,
    parse_event,
    write_events,
)

Info = strawberry.Info

# An id longer than this is not one this gateway issued.
MAX_ID = 200


class EventsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_EVENTS_", extra="ignore")

    # One request may carry at most this many events; more is BAD_USER_INPUT.
    max_batch: int = Field(default=500, ge=1, le=10_000)


@hookimpl
def register_settings() -> type[BaseSettings]:
    return EventsSettings


@strawberry.enum(name="EventType", description="What a visitor or customer did.")
class EventKind(Enum):
    VIEW = "view"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    LOGIN = "login"


@flat_input
@strawberry.input(description="One behavioural event.")
class EventInput:
    event_id: strawberry.ID = strawberry.field(
        description="Chosen by the sender, unique per event type: sending an event again "
        "is harmless; another event under a taken id is rejected."
    )
    type: EventKind
    at: datetime = strawberry.field(
        description="When it happened: ISO 8601 with a timezone (Z or an offset)."
    )
    session_id: strawberry.ID | None = None
    device_id: strawberry.ID | None = None
    channel: str | None = None
    sku: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    qty: int | None = None
    price: float | None = None
    order_id: strawberry.ID | None = None
    user_agent: str | None = strawberry.field(
        default=None,
        description="The shopper's User-Agent. Only a keyed hash of its browser family "
        '("Mobile Safari on iOS") is kept, to link devices.',
    )
    network: str | None = strawberry.field(
        default=None,
        description="The shopper's IP address (or network in CIDR notation). Only a keyed "
        "hash of its network prefix is kept, to link devices.",
    )
    email: str | None = strawberry.field(
        default=None,
        description="An email address the shopper gave on this device (a guest checkout, a "
        "newsletter form). Only compared, as a keyed hash, with customers' own: never stored.",
    )
    email_verified: bool = strawberry.field(
        default=False,
        description="The shop verified this email address (a confirmed checkout, a link "
        "clicked in a mail): then it proves whose device this is. Taken only from the shop's "
        "own services (a first-party token for no customer); from anyone else an email is "
        "only typed, a hint for a suggestion.",
    )
    list_id: str | None = strawberry.field(
        default=None,
        description="The `listId` of the recommendation list this view, add-to-cart or "
        "purchase came from, so that the list is credited with it.",
    )
    position: int | None = strawberry.field(
        default=None, description="The item's `position` in that list (1 for the first)."
    )


@strawberry.type
class RejectedEvent:
    index: int
    event_id: str | None
    field: str
    message: str


@strawberry.type(description="A signal of a stored event that was not used, and why.")
class IgnoredSignal:
    index: int
    event_id: str
    field: str = strawberry.field(description="userAgent, network, email, emailVerified or listId.")
    message: str


@strawberry.type(description="What trackEvents did with a batch.")
class TrackEventsResult:
    accepted: int = strawberry.field(description="Events stored by this call.")
    duplicates: int = strawberry.field(description="Events stored before (a retry).")
    rejected: list[RejectedEvent]
    ignored_signals: list[IgnoredSignal] = strawberry.field(
        description="Malformed userAgent, network or email values: the event was stored "
        "without them."
    )


def _request_signals(info: Info) -> tuple[str | None, str | None]:
    """The calling browser's User-Agent and address, for signalsFromRequest."""
    request = info.context.request
    if request is None:
        return None, None
    address = request.client.host if request.client is not None else None
    return request.headers.get("user-agent"), address


async def track_events(
    root: Any, info: Info, events: list[EventInput], signals_from_request: bool = False
) -> TrackEventsResult:
    limit = info.context.plugin_settings(EventsSettings).max_batch
    if len(events) > limit:
        raise BadUserInput(f"at most {limit} events per call", argument="events")
    principal: Principal = info.context.principal
    gate: RequestGate = info.context.gate
    rejected: list[RejectedEvent] = []
    ignored: list[IgnoredSignal] = []
    signals: list[EventSignals] = []
    parsed: list[Event] = []
    # parsed[i] came from events[input_index[i]]: write_events names positions in
    # what it was given, which skips the events rejected here.
    input_index: list[int] = []
    for index, item in enumerate(events):
        # parse_event reads rows as a file holds them (the type's name); the time
        # graphql-core already parsed is taken as it is.
        row = {**vars(item), "type": item.type.value}
        try:
            # Whom the token may write for is the gate's rule.
            try:
                row["customer_id"] = gate.written_for(row["customer_id"])
            except PermissionError as exc:
                raise RowError("customer_id", str(exc)) from None
            # Only ids the gateway issued, unless the shop's own back end vouches.
            unissued = gate.unissued(row["session_id"], row["device_id"])
            if unissued is not None:
                raise RowError(*unissued)
            event = parse_event(row)
        except RowError as exc:
            rejected.append(
                RejectedEvent(
                    index=index, event_id=row.get("event_id"), field=exc.field, message=exc.reason
                )
            )
            continue
        parsed.append(event)
        input_index.append(index)
        signals.append(_signals(info, item, index, signals_from_request, ignored))
    # write_events also rejects an event id reused for a different event, and a
    # customer's events for a session signed in as someone else.
    settings: Settings = info.context.settings
    result = await write_events(
        info.context.graph_for(info),
        parsed,
        pii_key=settings.pii_secret(),
        as_customer=principal.customer_id,
    )
    for problem in result.rejected:
        index = input_index[problem.index]
        rejected.append(
            RejectedEvent(
                index=index, event_id=problem.event_id, field=problem.field, message=problem.reason
            )
        )
    rejected.sort(key=lambda r: r.index)
    refused = {r.index for r in result.rejected}
    await info.context.link_later(
        [Arrival(e, s) for i, (e, s) in enumerate(zip(parsed, signals, strict=True))
         if i not in refused]
    )  # fmt: skip
    await _from_lists(info, events, parsed, input_index, refused, ignored)
    for r in rejected:
        info.context.report(
            BadUserInput(
                f"events[{r.index}].{r.field}: {r.message}",
                index=r.index,
                eventId=r.event_id,
                field=r.field,
            ),
            info,
        )
    return TrackEventsResult(
        accepted=sum(result.created.values()),
        duplicates=sum(result.already_stored.values()),
        rejected=rejected,
        ignored_signals=[i for i in ignored if i.index not in {r.index for r in rejected}],
    )


async def _from_lists(
    info: Info,
    events: list[EventInput],
    parsed: list[Event],
    input_index: list[int],
    refused: set[int],
    ignored: list[IgnoredSignal],
) -> None:
    """Note the stored events sent from a recommendation list; a bad listId is ignored."""
    stored = [
        (input_index[i], e) for i, e in enumerate(parsed)
        if i not in refused and events[input_index[i]].list_id is not None
    ]  # fmt: skip
    if not stored:
        return
    context: Context = info.context
    problems = await context.from_lists(
        [(e, events[index].list_id, events[index].position) for index, e in stored]
    )
    for (index, e), problem in zip(stored, problems, strict=True):
        if problem is not None:
            ignored.append(
                IgnoredSignal(index=index, event_id=e.event_id, field="listId", message=problem)
            )


def _signals(
    info: Info, item: EventInput, index: int, from_request: bool, ignored: list[IgnoredSignal]
) -> EventSignals:
    """The event's signals as keyed hashes; malformed ones are noted in ``ignored``."""
    user_agent, network = item.user_agent, item.network
    if from_request and (user_agent is None or network is None):
        header, address = _request_signals(info)
        user_agent = header if user_agent is None else user_agent
        network = address if network is None else network
    if user_agent is None and network is None and item.email is None:
        return EventSignals()
    context: Context = info.context
    hashed, problems = context.read_signals(
        user_agent=user_agent, network=network, email=item.email, email_verified=item.email_verified
    )
    if item.email_verified and item.email is not None and not context.gate.vouches:
        ignored.append(
            IgnoredSignal(
                index=index,
                event_id=str(item.event_id),
                field="emailVerified",
                message="only the shop's own services may say an email was verified: "
                "it counts as typed",
            )
        )
    for problem in problems:
        ignored.append(
            IgnoredSignal(
                index=index,
                event_id=str(item.event_id),
                field=problem.field,
                message=problem.reason,
            )
        )
    return hashed


@strawberry.type(description="The ids a shopper's browser or app keeps for this visit.")
class Visit:
    device_id: strawberry.ID = strawberry.field(
        description="Keep it on the device (a first-party cookie, the app's storage) and send "
        "it to startVisit next time."
    )
    session_id: strawberry.ID = strawberry.field(description="This visit's session.")
    new_device: bool = strawberry.field(
        description="True when the deviceId sent was missing or not one this gateway issued, "
        "so a new one was issued: a device's ids cannot be chosen by the device."
    )


async def start_visit(root: Any, info: Info, device_id: strawberry.ID | None = None) -> Visit:
    if device_id is not None and len(device_id) > MAX_ID:
        raise BadUserInput(f"deviceId is longer than {MAX_ID} characters", argument="deviceId")
    gate: RequestGate = info.context.gate
    device, session, fresh = gate.start_visit(device_id)
    return Visit(
        device_id=strawberry.ID(device), session_id=strawberry.ID(session), new_device=fresh
    )


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [
        FieldSpec(
            "Mutation",
            "startVisit",
            Visit,
            start_visit,
            description="Ids for a shopper's visit: a new session of the device whose id is "
            "given (when this gateway issued it), else of a new device. Events sent with a "
            "customer's token name only ids issued here. Stores nothing.",
        ),
        FieldSpec(
            "Mutation",
            "trackEvents",
            TrackEventsResult,
            track_events,
            description="Record views, add-to-carts, purchases and logins; idempotent by eventId. "
            "`signalsFromRequest` takes a missing userAgent and network from this request (for "
            "a shopper's own browser calling directly, not for a server forwarding events).",
            scopes=frozenset({"events:write"}),
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        categories=frozenset(
            {DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY, DataCategory.DEVICE}
        ),
        description=(
            "Writes the views, baskets, purchases and sign-ins the shop sends (trackEvents)."
        ),
    )
