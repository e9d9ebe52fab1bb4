"""Contact details: loaded sealed, shown only under profile.contact:read and the gate, rotatable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.requests import Request

from gateway import ClientKind, Principal
from gateway.cli import cli
from gateway.settings import SettingsError
from graph import Graph
from graph.sealed import key_id_of
from tests.conftest import TEST_DATA_KEYS_TEXT
from tests.gateway.conftest import Serve, codes, gql, grant, settings_for_tests

PEOPLE = [
    {"record": "customer", "id": "kim", "created_at": "2025-01-02T09:00:00Z",
     "email": "kim.novak@example.test", "name": "Kim Novak", "phone": "+44 7700 900123"},
    {"record": "customer", "id": "lou", "created_at": "2025-02-02T09:00:00Z",
     "email": "lou.reed@example.test", "name": "Lou Reed"},
    {"record": "customer", "id": "max", "created_at": "2025-03-02T09:00:00Z"},
]  # fmt: skip
PLAINTEXT = ["kim.novak", "Kim Novak", "7700 900123", "lou.reed", "Lou Reed"]
CONTACT = "{ me { id contact { email name phone } } }"

# The tests' keys: "test-2" seals, "test-1" (older) only opens.
NEW_ONLY = TEST_DATA_KEYS_TEXT.split(",")[0]
OLD_ONLY = TEST_DATA_KEYS_TEXT.split(",")[1]


async def run_cli(args: list[str], **env: str) -> Result:
    """``tightrope ARGS`` as an operator runs it (in a thread: it has its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def load_people(tmp_path: Path, **env: str) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in PEOPLE))
    result = await run_cli(["load", str(path), "--no-progress"], **env)
    assert result.exit_code == 0, result.output


async def dump(graph: Graph) -> str:
    """Every property of every node and relationship, as one text."""
    nodes = await graph.read("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels = await graph.read("MATCH ()-[r]->() RETURN type(r) AS l, properties(r) AS p")
    return json.dumps([(row["l"], row["p"]) for row in nodes + rels], default=str)


def principal(customer: str | None, *scopes: str, kind: ClientKind = ClientKind.FIRST_PARTY):  # type: ignore[no-untyped-def]
    async def authenticate(request: Request) -> Principal:
        return Principal("app", kind, customer, frozenset(scopes))

    return authenticate


async def test_a_dump_of_the_graph_holds_no_plaintext_contact_detail(
    clean_graph: Graph, tmp_path: Path
) -> None:
    await load_people(tmp_path)
    text = await dump(clean_graph)
    for plain in PLAINTEXT:
        assert plain not in text
    rows = await clean_graph.read(
        "MATCH (c:Customer) RETURN c.id AS id, c.contact_enc AS sealed, c.email_hmac AS hmac "
        "ORDER BY id"
    )
    assert [key_id_of(r["sealed"]) if r["sealed"] else None for r in rows] == [
        "test-2",
        "test-2",
        None,
    ]
    # Sign-in by email still finds Kim: through the keyed hash, never the address.
    assert rows[0]["hmac"] and rows[2]["hmac"] is None


async def test_me_shows_the_contact_under_its_scope_only(
    clean_graph: Graph, tmp_path: Path, served: Serve
) -> None:
    await load_people(tmp_path)
    answers: dict[str, dict[str, Any]] = {}
    for name, who in {
        "with the scope": principal("kim", "profile:read", "profile.contact:read"),
        "without it": principal("kim", "profile:read"),
        "no contact held": principal("max", "profile.contact:read"),
    }.items():
        async with served(authenticate=who) as (_, client):
            answers[name] = await gql(client, CONTACT)
    assert answers["with the scope"] == {
        "data": {
            "me": {
                "id": "kim",
                "contact": {
                    "email": "kim.novak@example.test",
                    "name": "Kim Novak",
                    "phone": "+44 7700 900123",
                },
            }
        }
    }
    assert answers["without it"]["data"]["me"] == {"id": "kim", "contact": None}
    assert codes(answers["without it"]) == ["FORBIDDEN"]
    assert answers["without it"]["errors"][0]["extensions"]["missingScopes"] == [
        "profile.contact:read"
    ]
    assert answers["no contact held"]["data"]["me"] == {"id": "max", "contact": None}
    assert "errors" not in answers["no contact held"]


async def test_a_third_party_app_needs_the_customers_sharing_consent(
    clean_graph: Graph, tmp_path: Path, served: Serve
) -> None:
    await load_people(tmp_path)
    app = principal("kim", "profile.contact:read", kind=ClientKind.THIRD_PARTY)
    async with served(authenticate=app) as (_, client):
        before = await gql(client, CONTACT)
        await grant(clean_graph, "kim", "third_party_sharing")
        after = await gql(client, CONTACT)
    assert before["data"]["me"] is None
    assert set(codes(before)) == {"CONSENT_REQUIRED"}
    assert after["data"]["me"]["contact"]["email"] == "kim.novak@example.test"


async def test_rotate_data_leaves_every_contact_readable_under_the_new_key_alone(
    clean_graph: Graph, tmp_path: Path, served: Serve
) -> None:
    # Loaded while the old key was the only one ...
    await load_people(tmp_path, TIGHTROPE_DATA_KEYS=OLD_ONLY)
    # ... then the new key is put first and the stored values are re-sealed.
    rotated = await run_cli(["keys", "rotate-data", "--no-progress"])
    assert rotated.exit_code == 0, rotated.output
    assert "2 re-sealed" in rotated.output
    again = await run_cli(["keys", "rotate-data", "--no-progress"])
    assert "0 re-sealed, 2 already were" in again.output

    rows = await clean_graph.read(
        "MATCH (c:Customer) WHERE c.contact_enc IS NOT NULL RETURN c.contact_enc AS sealed"
    )
    assert {key_id_of(r["sealed"]) for r in rows} == {"test-2"}
    for plain in PLAINTEXT:
        assert plain not in await dump(clean_graph)
    # The old key can now go: a gateway with the new key alone reads every contact.
    settings = settings_for_tests(data_keys=NEW_ONLY)
    seen = {}
    for customer in ("kim", "lou"):
        who = principal(customer, "profile.contact:read")
        async with served(settings, authenticate=who) as (_, client):
            seen[customer] = (await gql(client, CONTACT))["data"]["me"]["contact"]
    assert seen == {
        "kim": {"email": "kim.novak@example.test", "name": "Kim Novak", "phone": "+44 7700 900123"},
        "lou": {"email": "lou.reed@example.test", "name": "Lou Reed", "phone": None},
    }


async def test_rotate_data_names_contacts_no_configured_key_opens(
    clean_graph: Graph, tmp_path: Path
) -> None:
    await load_people(tmp_path, TIGHTROPE_DATA_KEYS=OLD_ONLY)
    # The old key was dropped before rotating: nothing is lost, the command says so.
    result = await run_cli(["keys", "rotate-data", "--no-progress"], TIGHTROPE_DATA_KEYS=NEW_ONLY)
    assert result.exit_code == 1
    assert "2 contact(s) did not open" in result.output and "kim" in result.output
    rows = await clean_graph.read("MATCH (c:Customer {id: 'kim'}) RETURN c.contact_enc AS s")
    assert key_id_of(rows[0]["s"]) == "test-1"


async def test_new_data_key_prints_an_entry_the_settings_accept() -> None:
    result = await run_cli(["keys", "new-data-key"])
    assert result.exit_code == 0
    entry = result.stdout.strip()
    assert settings_for_tests(data_keys=entry).data_keys_in_use().current.id == entry.split(":")[0]


def test_serving_outside_dev_mode_needs_data_keys() -> None:
    config = settings_for_tests(dev_mode=False, data_keys="")
    with pytest.raises(SettingsError, match="TIGHTROPE_DATA_KEYS"):
        config.require_serving_secrets()
