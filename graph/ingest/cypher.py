"""Every statement ingestion runs: the catalogue and customer MERGEs, the event writes.

Each statement takes its batch as ``$rows`` (one map per record or event), so a
batch of any size is one round trip.

Why the event statements look the way they do (see docs/data.md for the
measurements): one UNWIND statement per event type, all inside one write
transaction per batch; sessions and devices are MERGEd first in their own
statements, so the event statements only MATCH them; an event's own id is
checked through the relationship uniqueness constraint (an index seek) and the
relationship is then CREATEd, which is cheaper than MERGE on a pattern whose
product end is a dense node. The seek locks the id, so two writers sending the
same new event at once store it once (a deadlock between them is retried by the
managed transaction). The seek is forced with an index hint: while a type has
few relationships the planner prefers scanning the whole index, and the cached
plan then stays (measured: 984 db hits per purchase row instead of 8).
"""

from __future__ import annotations

from typing import Final, LiteralString

from graph.model import EventType

# -- catalogue ------------------------------------------------------------------

MERGE_BRANDS: LiteralString = """
UNWIND $rows AS r
MERGE (b:Brand {id: r.id})
SET b.name = r.name
"""

MERGE_CATEGORIES: LiteralString = """
UNWIND $rows AS r
MERGE (c:Category {id: r.id})
SET c.name = r.name
"""

# A category has at most one parent: a re-parented category loses its old link,
# and one given no parent becomes a root. (`other.id <> null` is null, never
# true, hence the explicit test for a root.)
LINK_CATEGORIES: LiteralString = """
UNWIND $rows AS r
MATCH (c:Category {id: r.id})
OPTIONAL MATCH (c)-[old:PARENT]->(other:Category)
  WHERE r.parent_id IS NULL OR other.id <> r.parent_id
DELETE old
WITH DISTINCT c, r WHERE r.parent_id IS NOT NULL
MATCH (p:Category {id: r.parent_id})
MERGE (c)-[:PARENT]->(p)
"""

MERGE_PRODUCTS: LiteralString = """
UNWIND $rows AS r
MATCH (b:Brand {id: r.brand_id})
MATCH (c:Category {id: r.category_id})
MERGE (p:Product {sku: r.sku})
SET p.name = r.name, p.price = r.price, p.in_stock = r.in_stock, p.brand_id = r.brand_id
WITH p, b, c
OPTIONAL MATCH (p)-[old:OF_BRAND|IN_CATEGORY]->(x) WHERE x <> b AND x <> c
DELETE old
WITH DISTINCT p, b, c
MERGE (p)-[:OF_BRAND]->(b)
MERGE (p)-[:IN_CATEGORY]->(c)
"""

# -- customers ------------------------------------------------------------------

# Timestamps arrive as ISO 8601 text (graph.driver.record_params) and
# `datetime()` parses them: the driver's packing of Python datetimes was four
# fifths of the loader's samples while it wrote consents (py-spy, docs/data.md).

# A row with contact details replaces the stored ones as a whole, email hash
# included (a new contact without an email leaves no hash of the old one).
MERGE_CUSTOMERS: LiteralString = """
UNWIND $rows AS r
MERGE (c:Customer {id: r.id})
ON CREATE SET c.created_at = datetime(r.created_at)
SET c.email_hmac = CASE WHEN r.contact_enc IS NULL THEN coalesce(r.email_hmac, c.email_hmac)
                        ELSE r.email_hmac END,
    c.contact_enc = coalesce(r.contact_enc, c.contact_enc)
"""

MERGE_DEVICE_RECORDS: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.first_seen) AS first_seen, datetime(r.last_seen) AS last_seen
MERGE (d:Device {id: r.id})
SET d.kind = coalesce(r.kind, d.kind), d.ua_family = coalesce(r.ua_family, d.ua_family),
    d.first_seen = CASE WHEN d.first_seen IS NULL OR first_seen < d.first_seen
                        THEN first_seen ELSE d.first_seen END,
    d.last_seen = CASE WHEN d.last_seen IS NULL OR last_seen > d.last_seen
                       THEN last_seen ELSE d.last_seen END
"""

MERGE_LINKS: LiteralString = """
UNWIND $rows AS r
MATCH (d:Device {id: r.device_id})
MATCH (c:Customer {id: r.customer_id})
MERGE (d)-[u:USED_BY]->(c)
SET u.method = r.method, u.confidence = r.confidence, u.linked_at = datetime(r.linked_at),
    u.evidence = r.evidence
"""

# One consent edge per (customer, purpose) holds the current state; an older
# record never overwrites a newer one. Every record is also kept as a change in
# the customer's consent history (graph/consent.py), merged on all it says so
# that loading a file again adds nothing. It returns the withdrawals: a
# purpose granted until this record said no, whose derived data the plugins
# must now drop (the loader tells them, as the API does).
MERGE_CONSENTS: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.at) AS at
MATCH (c:Customer {id: r.customer_id})
MERGE (p:Purpose {name: r.purpose})
MERGE (c)-[:CONSENT_CHANGE {purpose: r.purpose, granted: r.granted, at: at,
                            version: r.version, source: r.source}]->(p)
MERGE (c)-[k:CONSENT {purpose: r.purpose}]->(p)
WITH k, r, at, k.granted AS was WHERE k.at IS NULL OR k.at <= at
SET k.granted = r.granted, k.at = at, k.version = r.version, k.source = r.source
WITH r, was WHERE was = true AND NOT r.granted
RETURN r.customer_id AS customer_id, r.purpose AS purpose
"""

# -- references: which of these ids the graph does not hold ---------------------

MISSING: Final[dict[str, LiteralString]] = {
    "brand": "UNWIND $ids AS id OPTIONAL MATCH (n:Brand {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "category": "UNWIND $ids AS id OPTIONAL MATCH (n:Category {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "customer": "UNWIND $ids AS id OPTIONAL MATCH (n:Customer {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "device": "UNWIND $ids AS id OPTIONAL MATCH (n:Device {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "product": "UNWIND $ids AS id OPTIONAL MATCH (n:Product {sku: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
}

# Each count comes from Neo4j's counts store, so this stays cheap on big graphs.
GRAPH_COUNTS: LiteralString = """
CALL () { MATCH (n:Brand) RETURN count(n) AS brands }
CALL () { MATCH (n:Category) RETURN count(n) AS categories }
CALL () { MATCH (n:Product) RETURN count(n) AS products }
CALL () { MATCH (n:Customer) RETURN count(n) AS customers }
CALL () { MATCH (n:Device) RETURN count(n) AS devices }
CALL () { MATCH (n:Session) RETURN count(n) AS sessions }
CALL () { MATCH ()-[r:USED_BY]->() RETURN count(r) AS device_links }
CALL () { MATCH ()-[r:CONSENT]->() RETURN count(r) AS consents }
CALL () { MATCH ()-[r:VIEWED]->() RETURN count(r) AS views }
CALL () { MATCH ()-[r:ADDED_TO_CART]->() RETURN count(r) AS carts }
CALL () { MATCH ()-[r:PURCHASED]->() RETURN count(r) AS purchases }
CALL () { MATCH ()-[r:SIGNED_IN_AS]->() RETURN count(r) AS logins }
RETURN brands, categories, products, customers, devices, sessions, device_links, consents,
       views, carts, purchases, logins
"""

# -- events ---------------------------------------------------------------------

# The sessions whose owner decides whether an event may be written (those of
# logins, and all of a customer's), created if new and write-locked before their
# owners are read: a plain read would let two concurrent batches both find a
# session free and both sign it in. A second writer waits here for the first to
# commit and then reads its login. Sorted ids keep the lock order the same in
# every transaction, so two batches do not deadlock over them. The property set
# and removed is only the way Cypher takes a node's write lock.
LOCK_SESSIONS: LiteralString = """
UNWIND $rows AS r
MERGE (s:Session {id: r.id})
ON CREATE SET s.started_at = datetime(r.started_at)
SET s._lock = true
REMOVE s._lock
WITH s
OPTIONAL MATCH (s)-[:SIGNED_IN_AS]->(c:Customer)
WITH s, collect(DISTINCT c.id) AS customers
RETURN collect({session_id: s.id, customers: customers}) AS sessions
"""

# first_seen/last_seen widen to cover every event seen on the device, whatever
# order the events arrive in.
MERGE_DEVICES: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.first_seen) AS first, datetime(r.last_seen) AS last
MERGE (d:Device {id: r.id})
ON CREATE SET d.first_seen = first, d.last_seen = last
ON MATCH SET
  d.first_seen = CASE WHEN d.first_seen IS NULL OR first < d.first_seen
                      THEN first ELSE d.first_seen END,
  d.last_seen = CASE WHEN d.last_seen IS NULL OR last > d.last_seen
                     THEN last ELSE d.last_seen END
"""

MERGE_SESSIONS: LiteralString = """
UNWIND $rows AS r
WITH r, datetime(r.started_at) AS started
MERGE (s:Session {id: r.id})
ON CREATE SET s.started_at = started, s.channel = r.channel
ON MATCH SET
  s.started_at = CASE WHEN s.started_at IS NULL OR started < s.started_at
                      THEN started ELSE s.started_at END,
  s.channel = coalesce(s.channel, r.channel)
WITH s, r WHERE r.device_id IS NOT NULL
MATCH (d:Device {id: r.device_id})
MERGE (s)-[:ON]->(d)
"""

CREATE_VIEWS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:VIEWED {event_id: r.event_id}]->()
  USING INDEX seen:VIEWED(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (p:Product {sku: r.sku})
CREATE (s)-[:VIEWED {event_id: r.event_id, at: datetime(r.at)}]->(p)
RETURN count(*) AS created
"""

CREATE_CARTS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:ADDED_TO_CART {event_id: r.event_id}]->()
  USING INDEX seen:ADDED_TO_CART(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (p:Product {sku: r.sku})
CREATE (s)-[:ADDED_TO_CART {event_id: r.event_id, at: datetime(r.at)}]->(p)
RETURN count(*) AS created
"""

CREATE_PURCHASES: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:PURCHASED {event_id: r.event_id}]->()
  USING INDEX seen:PURCHASED(event_id)
WITH r WHERE seen IS NULL
MATCH (c:Customer {id: r.customer_id})
MATCH (p:Product {sku: r.sku})
CREATE (c)-[:PURCHASED {event_id: r.event_id, at: datetime(r.at), order_id: r.order_id,
                        qty: r.qty, price: coalesce(r.price, p.price)}]->(p)
RETURN count(*) AS created
"""

# A login signs the session in. Whether that makes the session's device the
# customer's is decided by the identity linkers, after the events are stored
# (gateway/linking): the writer records what happened, nothing more.
CREATE_LOGINS: LiteralString = """
UNWIND $rows AS r
OPTIONAL MATCH ()-[seen:SIGNED_IN_AS {event_id: r.event_id}]->()
  USING INDEX seen:SIGNED_IN_AS(event_id)
WITH r WHERE seen IS NULL
MATCH (s:Session {id: r.session_id})
MATCH (c:Customer {id: r.customer_id})
CREATE (s)-[:SIGNED_IN_AS {event_id: r.event_id, at: datetime(r.at)}]->(c)
RETURN count(*) AS created
"""

EVENT_STATEMENTS: Final[dict[EventType, LiteralString]] = {
    "view": CREATE_VIEWS,
    "add_to_cart": CREATE_CARTS,
    "purchase": CREATE_PURCHASES,
    "login": CREATE_LOGINS,
}

# What is stored under each of a batch's event ids, to tell a resend (the same
# event: a duplicate) from another event that reuses its id (a conflict). Run
# only when an event statement found some of its ids already taken.
STORED_VIEWS: LiteralString = """
UNWIND $ids AS id
MATCH (s)-[e:VIEWED {event_id: id}]->(p)
  USING INDEX e:VIEWED(event_id)
RETURN id AS event_id, e.at AS at, s.id AS session_id, p.sku AS sku
"""

STORED_CARTS: LiteralString = """
UNWIND $ids AS id
MATCH (s)-[e:ADDED_TO_CART {event_id: id}]->(p)
  USING INDEX e:ADDED_TO_CART(event_id)
RETURN id AS event_id, e.at AS at, s.id AS session_id, p.sku AS sku
"""

STORED_PURCHASES: LiteralString = """
UNWIND $ids AS id
MATCH (c)-[e:PURCHASED {event_id: id}]->(p)
  USING INDEX e:PURCHASED(event_id)
RETURN id AS event_id, e.at AS at, c.id AS customer_id, p.sku AS sku, e.qty AS qty,
       e.price AS price, e.order_id AS order_id
"""

STORED_LOGINS: LiteralString = """
UNWIND $ids AS id
MATCH (s)-[e:SIGNED_IN_AS {event_id: id}]->(c)
  USING INDEX e:SIGNED_IN_AS(event_id)
RETURN id AS event_id, e.at AS at, s.id AS session_id, c.id AS customer_id
"""

STORED_EVENTS: Final[dict[EventType, LiteralString]] = {
    "view": STORED_VIEWS,
    "add_to_cart": STORED_CARTS,
    "purchase": STORED_PURCHASES,
    "login": STORED_LOGINS,
}
