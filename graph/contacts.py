"""Customers' contact details: read them opened, and re-seal them under a new key.

The sealing itself is graph/sealed.py; this module is what reads and writes
the sealed values. Re-sealing (``tightrope keys rotate-data``) walks the
customers in id order, a batch at a time, and writes a value back only if it
is still the one it read: a load that replaced a contact meanwhile wins, and
the gateway keeps serving throughout (every process opens old and new keys).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import LiteralString

from graph.batch import one_per_key
from graph.driver import Graph, reads
from graph.model import Contact
from graph.sealed import DataKeys, SealError, open_contact, reseal

CONTACTS_BY_ID: LiteralString = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
WHERE c.contact_enc IS NOT NULL
RETURN c.id AS id, c.contact_enc AS sealed
"""

# Customers after ``$after`` (by id) with a contact not sealed under ``$prefix``.
TO_RESEAL: LiteralString = """
MATCH (c:Customer)
WHERE c.id > $after AND c.contact_enc IS NOT NULL
WITH c ORDER BY c.id
LIMIT $batch
RETURN c.id AS id, c.contact_enc AS sealed
"""

# Compare and set: a value replaced since it was read is left as it now is.
WRITE_RESEALED: LiteralString = """
UNWIND $rows AS r
MATCH (c:Customer {id: r.id})
WHERE c.contact_enc = r.old
SET c.contact_enc = r.new
RETURN count(c) AS written
"""


@reads("contact")
async def contacts_by_id(graph: Graph, ids: Sequence[str], keys: DataKeys) -> list[Contact | None]:
    """Each customer's contact details, opened; None for a customer without any.

    A value that cannot be opened (its key is no longer configured, or it was
    tampered with) raises :class:`graph.sealed.SealError`: never a guess.
    """
    rows = await graph.read(CONTACTS_BY_ID, {"ids": list(ids)})
    return one_per_key(ids, rows, lambda row: open_contact(row["sealed"], row["id"], keys))


@dataclass
class ResealReport:
    """What ``reseal_contacts`` did: counts, and the ids whose value did not open."""

    resealed: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    failed: list[str] = field(default_factory=list)


async def reseal_contacts(
    graph: Graph,
    keys: DataKeys,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ResealReport:
    """Seal every contact under ``keys.current``; values that do not open are listed, kept."""
    report = ResealReport()
    after = ""
    while True:
        rows = await graph.read(TO_RESEAL, {"after": after, "batch": batch})
        if not rows:
            return report
        after = rows[-1]["id"]
        changes = []
        for row in rows:
            try:
                new = reseal(row["sealed"], row["id"], keys)
            except SealError:
                report.failed.append(row["id"])
                continue
            if new is None:
                report.current += 1
            else:
                changes.append({"id": row["id"], "old": row["sealed"], "new": new})
        if changes:
            written = await graph.write(WRITE_RESEALED, {"rows": changes})
            done = int(written[0]["written"]) if written else 0
            report.resealed += done
            report.changed_meanwhile += len(changes) - done
        if progress is not None:
            progress(len(rows))
