"""The OAuth commands, run as an operator runs them, against the test Neo4j."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.cli import cli
from gateway.oauth import OAuthService
from gateway.oauth.clients import new_client_id
from gateway.settings import load_settings
from graph import Graph, connect
from graph.oauth import get_password_hash


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "keys"
    monkeypatch.setenv("TIGHTROPE_OAUTH_KEYS_DIR", str(directory))
    monkeypatch.setenv("TIGHTROPE_OAUTH_ISSUER", "http://127.0.0.1")
    return directory


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def clients_add(name: str, kind: str, scopes: str, *options: str) -> list[str]:
    """The arguments of `clients add`; ``options`` are what a test adds, such as a redirect."""
    return ["clients", "add", name, "--kind", kind, "--scopes", scopes, *options]


def test_clients_add_list_remove(clean_graph: Graph, keys_dir: Path) -> None:
    out = run(
        *clients_add(
            "Shop app",
            "third_party",
            "profile:read purchases:read",
            "--redirect-uri",
            "https://a.example/cb",
        )
    )
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines.keys() == {"client_id", "client_secret"}
    listed = run("clients", "list")
    assert lines["client_id"] in listed
    assert lines["client_secret"] not in listed
    assert "https://a.example/cb" in listed
    run("clients", "remove", lines["client_id"])
    assert lines["client_id"] not in run("clients", "list")


def test_client_ids_can_be_typed_into_a_command_as_they_are() -> None:
    # A URL-safe id starting with "-" was read as an option by `clients remove`
    # (one CI run in 64 failed that way); ids are hex, so none can.
    ids = {new_client_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


def test_public_clients_get_no_secret(clean_graph: Graph, keys_dir: Path) -> None:
    out = run(
        *clients_add("SPA", "public", "profile:read", "--redirect-uri", "http://localhost:5173/cb")
    )
    assert "client_secret" not in out


def test_third_party_cannot_hold_customers_read(clean_graph: Graph, keys_dir: Path) -> None:
    result = CliRunner().invoke(cli, clients_add("Spy", "third_party", "customers:read"))
    assert result.exit_code != 0
    assert "customers:read" in result.output
    result = CliRunner().invoke(cli, clients_add("X", "third_party", "profile:read", "--trusted"))
    assert result.exit_code != 0


def test_token_prints_only_a_token_limited_to_the_client(
    clean_graph: Graph, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTROPE_DEV_MODE", "true")
    asyncio.run(_make_customer(clean_graph, "c-9"))
    out = run(*clients_add("Web", "first_party", "profile:read customers:read"))
    client_id = out.splitlines()[0].split(": ")[1]
    token = run("token", "--customer", "c-9", "--client", client_id, "--scopes", "profile:read")
    assert token.count("\n") == 1 and token.count(".") == 2
    service = OAuthService(load_settings())
    claims = jwt.decode(token.strip(), KeySet.import_key_set(service.keys.jwks())).claims
    assert (claims["sub"], claims["scope"]) == ("c-9", "profile:read")

    result = CliRunner().invoke(
        cli, ["token", "--customer", "c-9", "--client", client_id, "--scopes", "purchases:read"]
    )
    assert result.exit_code != 0
    assert "may not hold purchases:read" in result.output


def _families(_: Graph) -> int:
    async def count() -> int:
        graph = connect(load_settings().neo4j(timeout=30))
        try:
            rows = await graph.read("MATCH (f:TokenFamily) RETURN count(f) AS n")
            return int(rows[0]["n"])
        finally:
            await graph.close()

    return asyncio.run(count())


def test_token_outside_dev_mode_needs_to_be_asked_for_explicitly(
    clean_graph: Graph, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token for any customer, without their sign-in or consent, is a
    # development tool; on a real deployment it is an impersonation.
    monkeypatch.setenv("TIGHTROPE_DEV_MODE", "false")
    asyncio.run(_make_customer(clean_graph, "c-9"))
    client_id = run(*clients_add("Web", "first_party", "profile:read")).split()[1]
    ask = ["token", "--customer", "c-9", "--client", client_id, "--scopes", "profile:read"]
    refused = CliRunner().invoke(cli, ask)
    assert refused.exit_code != 0
    assert "--allow-outside-dev-mode" in refused.output
    assert refused.stdout == ""
    assert _families(clean_graph) == 0
    token = run(*ask, "--allow-outside-dev-mode")
    assert token.count(".") == 2
    assert _families(clean_graph) == 1


def test_token_for_a_customer_who_does_not_exist_is_refused(
    clean_graph: Graph, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTROPE_DEV_MODE", "true")
    client_id = run(*clients_add("Web", "first_party", "profile:read")).split()[1]
    refused = CliRunner().invoke(
        cli, ["token", "--customer", "nobody", "--client", client_id, "--scopes", "profile:read"]
    )
    assert refused.exit_code != 0
    assert "no customer 'nobody'" in refused.output
    assert refused.stdout == ""
    assert _families(clean_graph) == 0


def test_set_password_stores_only_a_hash(clean_graph: Graph, keys_dir: Path) -> None:
    asyncio.run(_make_customer(clean_graph))
    run("customers", "set-password", "c-7", "--password-stdin", stdin="a long passphrase\n")
    stored = asyncio.run(_password_of(clean_graph))
    assert stored and stored.startswith("$argon2id$")
    assert "a long passphrase" not in stored


# These run in asyncio.run's own loop, so they open their own connection.
async def _make_customer(_: Graph, customer_id: str = "c-7") -> None:
    graph = connect(load_settings().neo4j(timeout=30))
    try:
        await graph.write("CREATE (:Customer {id: $id})", {"id": customer_id})
    finally:
        await graph.close()


async def _password_of(_: Graph) -> str | None:
    graph = connect(load_settings().neo4j(timeout=30))
    try:
        return await get_password_hash(graph, "c-7")
    finally:
        await graph.close()


def test_keys_rotate_keeps_old_key_published_and_files_private(
    clean_graph: Graph, keys_dir: Path
) -> None:
    run("keys", "rotate")
    service = OAuthService(load_settings())
    first = service.keys.signing_key().kid
    run("keys", "rotate")
    service = OAuthService(load_settings())
    second = service.keys.signing_key().kid
    assert first != second
    assert {k["kid"] for k in service.keys.jwks()["keys"]} == {first, second}
    assert all("d" not in k for k in service.keys.jwks()["keys"])
    assert stat.S_IMODE(os.stat(keys_dir).st_mode) == 0o700
    for path in keys_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
