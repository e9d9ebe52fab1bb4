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
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tightrope import (
    BadUserInput,
    DataCategory,
    Event,
    FieldSpec,
    Manifest,
    Principal,
    RequestGate,
    RowError,
    flat_input,
    hookimpl,
    parse_event,
    write_events,
)

Info = strawberry.Info


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


@strawberry.type
class RejectedEvent:
    index: int
    event_id: str | None
    field: str
    message: str


@strawberry.type(description="What trackEvents did with a batch.")
class TrackEventsResult:
    accepted: int = strawberry.field(description="Events stored by this call.")
    duplicates: int = strawberry.field(description="Events stored before (a retry).")
    rejected: list[RejectedEvent]


async def track_events(root: Any, info: Info, events: list[EventInput]) -> TrackEventsResult:
    limit = info.context.plugin_settings(EventsSettings).max_batch
    if len(events) > limit:
        raise BadUserInput(f"at most {limit} events per call", argument="events")
    principal: Principal = info.context.principal
    gate: RequestGate = info.context.consent
    rejected: list[RejectedEvent] = []
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
    # write_events also rejects an event id reused for a different event, and a
    # customer's events for a session signed in as someone else.
    result = await write_events(
        info.context.graph_for(info), parsed, as_customer=principal.customer_id
    )
    for problem in result.rejected:
        index = input_index[problem.index]
        rejected.append(
            RejectedEvent(
                index=index, event_id=problem.event_id, field=problem.field, message=problem.reason
            )
        )
    rejected.sort(key=lambda r: r.index)
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
    )


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [
        FieldSpec(
            "Mutation",
            "trackEvents",
            TrackEventsResult,
            track_events,
            description="Record views, add-to-carts, purchases and logins; idempotent by eventId.",
            scopes=frozenset({"events:write"}),
        )
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
