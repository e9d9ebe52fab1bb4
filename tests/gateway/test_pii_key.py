"""The PII key comes from the validated settings, wherever the operator put it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from graph import Graph
from graph.pii import DEV_PII_KEY, email_hmac

BIN = Path(sys.executable).parent / "tightrope"
CUSTOMERS = (
    '{"record": "customer", "id": "K1", "created_at": "2025-01-01T00:00:00Z",'
    ' "email": "kim@example.test"}\n'
)


def load(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in ("TIGHTROPE_PII_KEY", "TIGHTROPE_DEV_MODE")
    }
    return subprocess.run(
        [str(BIN), "load", str(path), "--no-progress"],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
    )


async def stored_hash(graph: Graph) -> str | None:
    rows = await graph.read("MATCH (c:Customer {id: 'K1'}) RETURN c.email_hmac AS h")
    return rows[0]["h"] if rows else None


async def test_a_key_given_in_the_settings_file_keys_the_email_hashes(
    clean_graph: Graph, tmp_path: Path
) -> None:
    settings_file = tmp_path / "tightrope.env"
    settings_file.write_text("TIGHTROPE_PII_KEY=key-from-the-settings-file\n")
    customers = tmp_path / "customers.jsonl"
    customers.write_text(CUSTOMERS)
    result = load(customers, TIGHTROPE_SETTINGS_FILE=str(settings_file))
    assert result.returncode == 0, result.stderr
    stored = await stored_hash(clean_graph)
    assert stored == email_hmac("kim@example.test", "key-from-the-settings-file")
    assert stored != email_hmac("kim@example.test", DEV_PII_KEY)


async def test_loading_emails_outside_dev_mode_without_a_key_is_refused(
    clean_graph: Graph, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.jsonl"
    customers.write_text(CUSTOMERS)
    result = load(customers)
    assert result.returncode != 0
    assert "TIGHTROPE_PII_KEY" in result.stderr and "Traceback" not in result.stderr
    assert await stored_hash(clean_graph) is None
