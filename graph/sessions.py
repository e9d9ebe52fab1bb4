"""The one definition of a customer's own devices and sessions, as Cypher fragments.

Every read and write that asks "is this visit this customer's?" (history,
journey, the recommendations' profile, the export, the erasure and the privacy
summary) splices in these fragments; no other module writes the rule.

A device is **the customer's own** when

* they proved it theirs: a session on it is signed in as them, or it is
  linked to them with full confidence (a sign-in or a verified email the
  linkers turned into a link, or a link the shop loaded as certain), or,
  where the caller allows guesses, linked with at least ``min_confidence``;
* and nobody else is on it: no other customer signed in on it and no other
  customer linked to it (by proof or by guess), and it is not a household's
  (graph/households.py).

A device more than one customer signed in on, or is linked to, is **shared**
(a family's tablet, a shop's kiosk, an id someone else obtained): its
anonymous visits are nobody's personal history, and each customer sees only
the sessions signed in as them there.

A customer's **own sessions** are those signed in as them, and the anonymous
sessions (signed in as nobody) on their own devices.

The fragments expect the customer bound as ``c`` and the least confidence a
guessed link needs to count as ``min_confidence`` (1.0: proofs only, which
is what the export, the erasure and the privacy summary use), and carry every
variable bound before them along with them.
"""

from __future__ import annotations

from typing import LiteralString

# Binds `proved`, the devices c proved theirs (or, when min_confidence is below
# 1.0, guessed theirs at least that surely), shared or not; and `own`, those of
# them that are c's alone.
OWN_DEVICES: LiteralString = """
WITH *, COLLECT {
  MATCH (d:Device)-[u:USED_BY]->(c) WHERE coalesce(u.confidence, 1.0) >= min_confidence
  RETURN d
  UNION
  MATCH (signed:Session)-[:SIGNED_IN_AS]->(c)
  MATCH (signed)-[:ON]->(d:Device) RETURN d
} AS proved
WITH *, [d IN proved WHERE NOT EXISTS { (d)-[:USED_BY]->(o:Customer) WHERE o <> c }
  AND NOT EXISTS { (d)-[:SHARED_BY]->(:Household) }
  AND NOT EXISTS {
    MATCH (x:Session)-[:ON]->(d)
    MATCH (x)-[:SIGNED_IN_AS]->(o:Customer) WHERE o <> c
  }] AS own
"""

# Binds `s`, one row per own session of c (after OWN_DEVICES has bound `own`).
SESSIONS_OF_OWN: LiteralString = """
CALL (c, own) {
  MATCH (s:Session)-[:SIGNED_IN_AS]->(c)
  RETURN s
  UNION
  UNWIND own AS d
  MATCH (s:Session)-[:ON]->(d)
  WHERE NOT EXISTS { (s)-[:SIGNED_IN_AS]->() }
  RETURN s
}
"""

# Binds `own` and then `s`, one row per own session of c.
OWN_SESSIONS: LiteralString = OWN_DEVICES + SESSIONS_OF_OWN

# For a bound session `s`, binds `owner`: the customer it is an own session of
# (signed in as them, or anonymous on a device that is theirs alone), or null.
# The rule above, read from the session's side.
SESSION_OWNER: LiteralString = """
WITH *, head(COLLECT { MATCH (s)-[:SIGNED_IN_AS]->(x:Customer) RETURN x }) AS signed
WITH *, CASE WHEN signed IS NOT NULL THEN signed ELSE head(COLLECT {
  MATCH (s)-[:ON]->(d:Device)
  WHERE NOT EXISTS { (d)-[:SHARED_BY]->(:Household) }
  WITH d, COLLECT {
    MATCH (d)-[:USED_BY]->(x:Customer) RETURN x
    UNION
    MATCH (d)<-[:ON]-(:Session)-[:SIGNED_IN_AS]->(x:Customer) RETURN x
  } AS users
  WHERE size(users) = 1
  WITH d, users[0] AS x
  WHERE EXISTS { (d)<-[:ON]-(:Session)-[:SIGNED_IN_AS]->(x) }
     OR EXISTS { (d)-[u:USED_BY]->(x) WHERE coalesce(u.confidence, 1.0) >= min_confidence }
  RETURN x
}) END AS owner
"""
