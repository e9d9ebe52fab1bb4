"""What the graph holds about one customer, per data category: how much, how old.

The categories are the gateway's (``DataCategory``): ``profile`` is the customer
node itself, ``contact`` its keyed email hash, ``purchase_history`` its
purchases, ``browsing_history`` the views and basket adds of their own
sessions (graph/sessions.py: signed in as them, or anonymous on a device that
is theirs alone), and ``device`` the devices linked to them, guesses included
(the links are held, and shown). A category
the graph holds nothing of has a count of 0. Plugins that derive data of their
own (``derived_preferences``) hold it where only they know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import LiteralString

from graph.customers import to_datetime
from graph.driver import Graph, reads
from graph.sessions import OWN_DEVICES, SESSIONS_OF_OWN


@dataclass(frozen=True, slots=True)
class HeldData:
    category: str
    count: int
    oldest: datetime | None
    newest: datetime | None


DATA_HELD: LiteralString = (
    """
MATCH (c:Customer {id: $customer_id})
WITH c, 1.0 AS min_confidence
"""
    + OWN_DEVICES
    + """
CALL (c) {
  OPTIONAL MATCH (c)-[r:PURCHASED]->(:Product)
  RETURN count(r.at) AS purchases, min(r.at) AS purchases_oldest, max(r.at) AS purchases_newest
}
CALL (c) {
  OPTIONAL MATCH (d:Device)-[:USED_BY]->(c)
  RETURN count(d) AS devices, min(d.first_seen) AS devices_oldest,
         max(d.last_seen) AS devices_newest
}
CALL (c, own) {"""
    + SESSIONS_OF_OWN
    + """
  OPTIONAL MATCH (s)-[e:VIEWED|ADDED_TO_CART]->(:Product)
  RETURN count(e.at) AS browsing, min(e.at) AS browsing_oldest, max(e.at) AS browsing_newest
}
RETURN c.created_at AS created_at,
       c.contact_enc IS NOT NULL OR c.email_hmac IS NOT NULL AS has_contact,
       purchases, purchases_oldest, purchases_newest,
       devices, devices_oldest, devices_newest,
       browsing, browsing_oldest, browsing_newest
"""
)


@reads(
    "profile", "contact", "purchase_history", "browsing_history", "device", "derived_preferences"
)
async def data_held(graph: Graph, customer_id: str) -> dict[str, HeldData] | None:
    """Per category, what the graph holds about the customer; None if no such customer."""
    rows = await graph.read(DATA_HELD, {"customer_id": customer_id})
    if not rows:
        return None
    row = rows[0]
    created = to_datetime(row["created_at"])

    def held(category: str, count: int, oldest: object, newest: object) -> HeldData:
        return HeldData(category, count, to_datetime(oldest), to_datetime(newest))

    found = [
        held("profile", 1, created, created),
        held("contact", 1 if row["has_contact"] else 0, None, None),
        held(
            "purchase_history",
            row["purchases"],
            row["purchases_oldest"],
            row["purchases_newest"],
        ),
        held("browsing_history", row["browsing"], row["browsing_oldest"], row["browsing_newest"]),
        held("device", row["devices"], row["devices_oldest"], row["devices_newest"]),
    ]
    return {h.category: h for h in found}
