"""A consent withdrawn in a loaded file is a withdrawal: the plugins drop what they derived.

A retailer's own systems (a call centre, a store's till) record a customer's
answers too, and `tightrope load` brings them in. A customer who withdrew
cross-device consent at the till must lose the devices the gateway guessed
were theirs, exactly as if they had withdrawn it through the API; a file
loaded again, or an older record, withdraws nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"

CUSTOMER: dict[str, object] = {
    "record": "customer",
    "id": "K1",
    "created_at": "2026-01-01T09:00:00Z",
}
GUESSED = {
    "record": "device",
    "id": "tablet",
    "kind": "tablet",
    "customer_id": "K1",
    "method": "probabilistic",
    "confidence": 0.93,
    "first_seen": "2026-01-02T09:00:00Z",
}
SIGNED_IN: dict[str, object] = {
    "record": "device",
    "id": "phone",
    "kind": "mobile",
    "customer_id": "K1",
    "method": "login",
    "first_seen": "2026-01-01T09:00:00Z",
}


def consent(granted: bool, at: str) -> dict[str, object]:
    return {"record": "consent", "customer_id": "K1", "purpose": "cross_device",
            "granted": granted, "at": at, "source": "till"}  # fmt: skip


def load(tmp_path: Path, name: str, rows: list[dict[str, object]]) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = subprocess.run(
        [str(BIN), "load", str(path), "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "TIGHTROPE_DEV_MODE": "true"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def links(graph: Graph) -> dict[str, str]:
    rows = await graph.read(
        "MATCH (d:Device)-[u:USED_BY]->(:Customer {id: 'K1'}) RETURN d.id AS d, u.method AS m"
    )
    return {row["d"]: row["m"] for row in rows}


async def test_a_loaded_withdrawal_drops_the_guessed_links_and_nothing_else(
    clean_graph: Graph, tmp_path: Path
) -> None:
    load(tmp_path, "base", [CUSTOMER, GUESSED, SIGNED_IN, consent(True, "2026-01-01T09:00:00Z")])
    assert await links(clean_graph) == {"tablet": "probabilistic", "phone": "login"}

    # An answer older than the one the graph holds changes nothing.
    stale = load(tmp_path, "stale", [consent(False, "2025-12-01T09:00:00Z")])
    assert "withdrawn" not in stale
    assert await links(clean_graph) == {"tablet": "probabilistic", "phone": "login"}

    withdrawn = load(tmp_path, "till", [consent(False, "2026-02-01T09:00:00Z")])
    assert "1 consents withdrawn" in withdrawn
    # The guess went; the device the customer signed in on did not need that consent.
    assert await links(clean_graph) == {"phone": "login"}

    # Loading the same file again withdraws nothing more.
    again = load(tmp_path, "till", [consent(False, "2026-02-01T09:00:00Z")])
    assert "withdrawn" not in again
    history = await clean_graph.read(
        "MATCH (:Customer {id: 'K1'})-[h:CONSENT_CHANGE]->() RETURN h.granted AS g ORDER BY h.at"
    )
    assert [row["g"] for row in history] == [False, True, False]
