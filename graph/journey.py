"""One customer's journey: what they did, on which device, newest first, across devices.

The journey is the customer's browsing: views, additions to a basket and
sign-ins, in their own sessions (graph/sessions.py: signed in as them, or
anonymous on a device that is theirs alone; a guessed device counts from
``min_confidence``). Purchases are purchase history, read elsewhere under their own
scope.

Pages are keyset-paged on (time, kind, event id), newest first; an event id is
unique per kind, so the three together name one step. Times are compared with
``<`` and ``>`` only (graph/history.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from graph.catalogue import PRODUCT_FIELDS, product_from_row
from graph.customers import to_datetime
from graph.driver import Graph, reads
from graph.model import Device, Product
from graph.sessions import OWN_SESSIONS

# Relationship types of the steps, as the graph names them, and as the API does.
STEP_KINDS: dict[str, str] = {
    "VIEWED": "view",
    "ADDED_TO_CART": "add_to_cart",
    "SIGNED_IN_AS": "login",
}

JOURNEY: LiteralString = (
    """
MATCH (c:Customer {id: $id})
WITH c, $min_confidence AS min_confidence"""
    + OWN_SESSIONS
    + """
CALL (s) {
  MATCH (s)-[r:VIEWED|ADDED_TO_CART|SIGNED_IN_AS]->(x)
  WHERE r.at IS NOT NULL
  RETURN r, x
}
WITH s, r, x, type(r) AS kind
WHERE $after_at IS NULL
   OR r.at < datetime($after_at)
   OR (NOT r.at > datetime($after_at)
       AND (kind < $after_kind OR (kind = $after_kind AND r.event_id < $after_id)))
WITH s, r, x, kind ORDER BY r.at DESC, kind DESC, r.event_id DESC LIMIT $limit
OPTIONAL MATCH (s)-[:ON]->(d:Device)
WITH s, r, x, kind, d, CASE WHEN x:Product THEN x END AS p
RETURN r.at AS at, kind, r.event_id AS event_id, s.id AS session_id,
       d.id AS device_id, d.kind AS device_kind, d.ua_family AS ua_family,
       d.first_seen AS first_seen, d.last_seen AS last_seen,"""
    + PRODUCT_FIELDS
)


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """One thing the customer did: when, what, in which visit, on which device."""

    at: datetime
    kind: str  # view, add_to_cart or login
    event_id: str
    session_id: str
    device: Device | None
    product: Product | None

    @property
    def position(self) -> tuple[str, str, str]:
        """Where the step is in the journey: the key of the next page's ``after``."""
        return self.at.isoformat(), _graph_kind(self.kind), self.event_id


@dataclass(frozen=True, slots=True)
class JourneyPage:
    steps: tuple[JourneyStep, ...]
    has_next: bool


def _graph_kind(kind: str) -> str:
    return next(name for name, api in STEP_KINDS.items() if api == kind)


def _step(row: dict[str, Any]) -> JourneyStep:
    device = None
    if row["device_id"] is not None:
        device = Device(
            row["device_id"],
            row["device_kind"],
            row["ua_family"],
            to_datetime(row["first_seen"]),
            to_datetime(row["last_seen"]),
        )
    at = to_datetime(row["at"])
    assert at is not None  # the query leaves out steps without a time
    return JourneyStep(
        at=at,
        kind=STEP_KINDS[row["kind"]],
        event_id=str(row["event_id"]),
        session_id=str(row["session_id"]),
        device=device,
        product=product_from_row(row) if row["sku"] is not None else None,
    )


@reads("browsing_history", "device")
async def journey_of(
    graph: Graph,
    customer_id: str,
    first: int,
    min_confidence: float,
    after: tuple[datetime, str, str] | None = None,
) -> JourneyPage:
    """A page of the customer's journey, newest first, after the step at ``after``."""
    after_at, after_kind, after_id = after if after is not None else (None, "", "")
    if after_kind and after_kind not in STEP_KINDS:
        raise ValueError(f"not a kind of step: {after_kind!r}")
    rows = await graph.read(
        JOURNEY,
        {
            "id": customer_id,
            "min_confidence": min_confidence,
            "after_at": after_at.isoformat() if after_at is not None else None,
            "after_kind": after_kind,
            "after_id": after_id,
            # One more than asked tells whether another page follows.
            "limit": first + 1,
        },
    )
    steps = tuple(_step(row) for row in rows)
    return JourneyPage(steps[:first], len(steps) > first)
