"""Everything the graph holds about one customer, as plain JSON-ready data (``exportMyData``).

The export is built to be complete by construction rather than by a list that
falls behind the model: besides the customer's own properties it takes *every*
relationship of the customer node, whatever its type (purchases, consents and
their history, authorised apps, device links with their evidence, derived
preferences, access records, and whatever a plugin hangs there tomorrow),
then the sessions that are theirs (signed in as them, or anonymous on their
own devices: proved theirs and nobody else's, as the erasure counts them)
with every event in them, those own devices themselves (kind, first and last
seen, and when each was seen on each network), and their token families. The sealed
contact is opened by the caller (graph/contacts.py); the keyed email hash and
the sealed value themselves are left out: they mean nothing to a person.

Values are JSON-ready: temporal values become ISO 8601 strings.
"""

from __future__ import annotations

from typing import Any, LiteralString

from graph.driver import Graph
from graph.sessions import OWN_DEVICES, SESSIONS_OF_OWN

# Properties that are internal bookkeeping or only ciphertext and hashes.
HIDDEN = ("contact_enc", "email_hmac", "ua_hmac", "_lock", "_erasing", "consent_seq")

CUSTOMER: LiteralString = """
MATCH (c:Customer {id: $customer_id})
RETURN properties(c) AS props
"""

RELATIONSHIPS: LiteralString = """
MATCH (c:Customer {id: $customer_id})-[r]-(other)
RETURN type(r) AS type, startNode(r) = c AS outgoing, labels(other) AS labels,
       coalesce(other.id, other.sku, other.client_id, other.name) AS other_id,
       CASE WHEN 'AccessRecord' IN labels(other) THEN properties(other) ELSE NULL END AS record,
       properties(r) AS props
ORDER BY type, coalesce(r.at, r.linked_at), other_id
"""

# The customer's own devices (graph/sessions.py OWN_DEVICES: not one only
# guessed theirs, nor one another customer uses too), with where they were
# seen: a network is a keyed hash of an address prefix, which means nothing to
# a person, so each sighting says only when (first and last); the erasure
# deletes them with the device.
DEVICES: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
WITH c, 1.0 AS min_confidence
"""
    + OWN_DEVICES
    + """
UNWIND own AS d
RETURN d.id AS id, properties(d) AS props, COLLECT {
  MATCH (d)-[s:SEEN_ON]->(:Network)
  RETURN {first_seen: s.first_at, last_seen: s.last_at} AS seen ORDER BY s.first_at
} AS networks
ORDER BY d.id
"""
)

# Their own sessions (graph/sessions.py), from the own devices DEVICES found
# ($own, their ids): the rule is run once per export.
SESSIONS: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
WITH c, COLLECT { UNWIND $own AS id MATCH (d:Device {id: id}) RETURN d } AS own
"""
    + SESSIONS_OF_OWN
    + """
OPTIONAL MATCH (s)-[:ON]->(d:Device)
RETURN properties(s) AS props, d.id AS device_id,
       [(s)-[e:VIEWED|ADDED_TO_CART]->(p:Product) |
        {type: type(e), sku: p.sku, at: e.at, event_id: e.event_id}] AS events
ORDER BY s.started_at, s.id
"""
)

FAMILIES: LiteralString = """
MATCH (f:TokenFamily {customer_id: $customer_id})
RETURN f.client_id AS client_id, f.scopes AS scopes,
       datetime({epochSeconds: f.created_at}) AS created_at,
       datetime({epochSeconds: f.expires_at}) AS expires_at,
       CASE WHEN f.revoked_at IS NULL THEN NULL
            ELSE datetime({epochSeconds: f.revoked_at}) END AS revoked_at
ORDER BY created_at
"""


def plain(value: Any) -> Any:
    """A driver value as JSON-ready data (temporal values as ISO 8601 text)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k not in HIDDEN}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def export_customer(graph: Graph, customer_id: str) -> dict[str, Any] | None:
    """What the graph holds about the customer (see the module); None if no such customer."""
    params = {"customer_id": customer_id}
    found = await graph.read(CUSTOMER, params)
    if not found:
        return None
    relationships: dict[str, list[dict[str, Any]]] = {}
    for row in await graph.read(RELATIONSHIPS, params):
        entry: dict[str, Any] = {
            "direction": "from customer" if row["outgoing"] else "to customer",
            "other": {"labels": row["labels"], "id": row["other_id"]},
            **plain(row["props"]),
        }
        if row["record"] is not None:
            entry["record"] = plain(row["record"])
        relationships.setdefault(row["type"], []).append(entry)
    own = await graph.read(DEVICES, params)
    devices = [{**plain(d["props"]), "networks": plain(d["networks"])} for d in own]
    on_own = {**params, "own": [d["id"] for d in own]}
    sessions = [
        {**plain(row["props"]), "device_id": row["device_id"], "events": plain(row["events"])}
        for row in await graph.read(SESSIONS, on_own)
    ]
    families = [plain(row) for row in await graph.read(FAMILIES, params)]
    return {
        "profile": plain(found[0]["props"]),
        "relationships": relationships,
        "sessions": sessions,
        "devices": devices,
        "app_sessions": families,
    }
