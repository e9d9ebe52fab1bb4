"""Reads of customers, their devices and visitors' sessions, batched by id.

Timestamps come back as timezone-aware Python datetimes (the driver's own time
types stay inside graph/). A property the graph does not hold comes back as
None: a device first seen in an event has no kind, and is not called a desktop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, LiteralString

from graph.batch import many_per_key, one_per_key
from graph.driver import Graph, reads
from graph.model import Customer, Device, Link, LinkedDevice, Session
from graph.together import Part, read_part

# A part (graph/together.py): a request's customer read can share its exchange.
CUSTOMERS_BY_ID = Part(
    "customers_by_id",
    """UNWIND keys AS id
MATCH (c:Customer {id: id})
WITH {id: c.id, created_at: c.created_at} AS row""",
)

SESSIONS_BY_ID: LiteralString = """
UNWIND $ids AS id
MATCH (s:Session {id: id})
RETURN s.id AS id, s.started_at AS started_at, s.channel AS channel,
       head([(s)-[:ON]->(d:Device) | d.id]) AS device_id,
       head([(s)-[:SIGNED_IN_AS]->(c:Customer) | c.id]) AS customer_id
"""

DEVICES_BY_ID: LiteralString = """
UNWIND $ids AS id
MATCH (d:Device {id: id})
RETURN d.id AS id, d.kind AS kind, d.ua_family AS ua_family,
       d.first_seen AS first_seen, d.last_seen AS last_seen
"""

DEVICES_OF_CUSTOMERS: LiteralString = """
UNWIND $ids AS id
MATCH (d:Device)-[u:USED_BY]->(:Customer {id: id})
RETURN id AS of, d.id AS id, d.kind AS kind, d.ua_family AS ua_family,
       d.first_seen AS first_seen, d.last_seen AS last_seen,
       u.method AS method, u.confidence AS confidence, u.linked_at AS linked_at,
       u.evidence AS evidence, u.codes AS codes, u.linker AS linker
ORDER BY d.last_seen DESC, d.id
"""


LINKS_BETWEEN: LiteralString = """
UNWIND $keys AS k
MATCH (:Device {id: k.device})-[u:USED_BY]->(:Customer {id: k.customer})
RETURN k.key AS id, u.method AS method, u.confidence AS confidence, u.linked_at AS linked_at,
       u.evidence AS evidence, u.codes AS codes, u.linker AS linker
"""


def to_datetime(value: Any) -> datetime | None:
    """A driver ``DateTime`` as a Python datetime; None stays None (not 1970)."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    assert isinstance(native, datetime)
    return native


def device_from_row(row: dict[str, Any]) -> Device:
    """A device from a row with its id, kind, ua_family, first_seen and last_seen."""
    return Device(
        id=row["id"],
        kind=row["kind"],
        ua_family=row["ua_family"],
        first_seen=to_datetime(row["first_seen"]),
        last_seen=to_datetime(row["last_seen"]),
    )


def _session(row: dict[str, Any]) -> Session:
    return Session(
        row["id"],
        to_datetime(row["started_at"]),
        row["channel"],
        row["device_id"],
        row["customer_id"],
    )


@reads("profile")
async def customers_by_id(graph: Graph, ids: Sequence[str]) -> list[Customer | None]:
    rows = await read_part(graph, CUSTOMERS_BY_ID, list(ids))
    return one_per_key(ids, rows, lambda row: Customer(row["id"], to_datetime(row["created_at"])))


@reads("browsing_history")
async def sessions_by_id(graph: Graph, ids: Sequence[str]) -> list[Session | None]:
    rows = await graph.read(SESSIONS_BY_ID, {"ids": list(ids)})
    return one_per_key(ids, rows, _session)


@reads("device")
async def devices_by_id(graph: Graph, ids: Sequence[str]) -> list[Device | None]:
    rows = await graph.read(DEVICES_BY_ID, {"ids": list(ids)})
    return one_per_key(ids, rows, device_from_row)


def _texts(value: Any) -> tuple[str, ...]:
    """Evidence as stored: a list of sentences, or one string (links a file imported)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _link(row: dict[str, Any]) -> Link:
    confidence = row["confidence"]
    return Link(
        method=row["method"],
        confidence=None if confidence is None else float(confidence),
        linked_at=to_datetime(row["linked_at"]),
        evidence=_texts(row["evidence"]),
        codes=_texts(row["codes"]),
        linker=row["linker"],
    )


def _linked_device(row: dict[str, Any]) -> LinkedDevice:
    device = device_from_row(row)
    return LinkedDevice(
        device.id, device.kind, device.ua_family, device.first_seen, device.last_seen, _link(row)
    )


@reads("device")
async def devices_of_customers(graph: Graph, ids: Sequence[str]) -> list[list[LinkedDevice]]:
    """Each customer's linked devices with how each was linked, most recently seen first."""
    rows = await graph.read(DEVICES_OF_CUSTOMERS, {"ids": list(ids)})
    return many_per_key(ids, rows, _linked_device)


@reads("device")
async def links_between(graph: Graph, keys: Sequence[tuple[str, str]]) -> list[Link | None]:
    """For each (device id, customer id), the link between them, or None."""
    params = [{"key": i, "device": d, "customer": c} for i, (d, c) in enumerate(keys)]
    rows = await graph.read(LINKS_BETWEEN, {"keys": params})
    return one_per_key(list(range(len(keys))), rows, _link)
