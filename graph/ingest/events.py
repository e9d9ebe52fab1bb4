"""Parsing behavioural events: a JSON object or a CSV row in, an :class:`Event` out.

The bulk loader and the gateway's ``trackEvents`` both parse with
:func:`parse_event`, so a file import and the API accept exactly the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graph.ingest.rows import RowError, integer, number, required_text, required_timestamp, text
from graph.model import EVENT_TYPES, Event, EventType
from graph.pii import SENDER_MARK

# Which fields each event type needs beyond event_id, type and at.
NEEDS: Final[dict[EventType, tuple[str, ...]]] = {
    "view": ("session_id", "sku"),
    "add_to_cart": ("session_id", "sku"),
    "purchase": ("sku", "customer_id"),  # offline orders have no session
    "login": ("session_id", "customer_id"),
}


def parse_event(row: Mapping[str, Any]) -> Event:
    """Validate one event; raise :class:`RowError` naming the first bad field."""
    event_id = required_text(row, "event_id")
    if event_id.startswith(SENDER_MARK):
        raise RowError("event_id", "may not start with ~ (the form of ids scoped to a customer)")
    kind = required_text(row, "type")
    if kind not in EVENT_TYPES:
        raise RowError("type", f"{kind!r} is not one of {', '.join(EVENT_TYPES)}")
    event_type: EventType = kind
    at = required_timestamp(row, "at")
    for name in NEEDS[event_type]:
        text(row, name)  # raises when required and missing
    purchase = event_type == "purchase"
    qty = integer(row, "qty", minimum=1) if purchase else None
    return Event(
        event_id=event_id,
        type=event_type,
        at=at,
        session_id=text(row, "session_id", required=False),
        device_id=text(row, "device_id", required=False),
        channel=text(row, "channel", required=False),
        sku=text(row, "sku", required=False) if event_type != "login" else None,
        customer_id=text(row, "customer_id", required=False),
        qty=(qty or 1) if purchase else None,
        price=number(row, "price", minimum=0) if purchase else None,
        # A one-line order needs no separate id: the event is the order line.
        order_id=(text(row, "order_id", required=False) or event_id) if purchase else None,
    )
