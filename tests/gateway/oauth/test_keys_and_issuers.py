"""Key rotation keeps old tokens valid until they expire; external issuers are trusted by JWKS."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette

from gateway.graphql.operations import OperationStore
from gateway.oauth import InvalidToken, OAuthService
from gateway.oauth.clients import register_client
from gateway.oauth.keys import KEYS_FILE, UNKNOWN_KID_INTERVAL, KeyStore
from gateway.oauth.resource import ResourceServer
from gateway.oauth.scopes import ScopeCatalogue
from gateway.principal import ClientKind, Principal
from gateway.settings import ExternalIssuer
from graph import Graph
from graph.operations import PersistedOperation, add_operations, set_operations_mode

from .conftest import add_client
from .helpers import bearer, tokens_for


async def test_tokens_signed_before_a_rotation_still_work(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "public", "profile:read")
    before = await tokens_for(http, client, "profile:read", customer)
    service: OAuthService = app.state.oauth
    old_kid = service.keys.signing_key().kid
    # Another process (the CLI) rotates; this one notices through the file.
    KeyStore(service.keys.directory, retention=600).rotate()
    assert service.keys.signing_key().kid != old_kid
    published = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid in published
    answer = await http.get("/whoami", headers=bearer(before.access_token))
    assert answer.status_code == 200
    after = await tokens_for(http, client, "profile:read", customer)
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    decoded = jwt.decode(after.access_token, keys, algorithms=["ES256"])
    assert decoded.header["kid"] != old_kid


def test_a_retired_key_stops_verifying_after_its_retention(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, retention=300)
    old = store.rotate()
    store.rotate()
    assert store.verification_key(old.kid) is not None
    # Pretend the rotation happened long ago.
    data = json.loads((tmp_path / KEYS_FILE).read_text())
    for item in data["keys"]:
        if item["kid"] == old.kid:
            item["retired_at"] = int(time.time()) - 301
    (tmp_path / KEYS_FILE).write_text(json.dumps(data))
    fresh = KeyStore(tmp_path, retention=300)
    assert fresh.verification_key(old.kid) is None
    assert old.kid not in {k["kid"] for k in fresh.jwks()["keys"]}
    assert '"d"' not in json.dumps(fresh.jwks())  # public parts only


class FrozenClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_verifying_creates_nothing_while_there_are_no_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", retention=300)
    assert store.verification_key("nobody") is None
    # No directory, no lock file: the bearer-token path only reads.
    assert not (tmp_path / "keys").exists()


def test_verifying_looks_at_the_key_file_about_once_a_second(tmp_path: Path) -> None:
    clock = FrozenClock()
    verifier = KeyStore(tmp_path, retention=300, clock=clock)
    assert verifier.verification_key("nobody") is None
    fresh = KeyStore(tmp_path, retention=300).rotate()  # another process makes a key
    assert verifier.verification_key(fresh.kid) is None  # not looked again yet
    clock.now += UNKNOWN_KID_INTERVAL
    assert verifier.verification_key(fresh.kid) is not None


def test_processes_starting_together_agree_on_one_first_key(tmp_path: Path) -> None:
    clock = FrozenClock()
    first, second = (KeyStore(tmp_path, retention=300, clock=clock) for _ in range(2))
    # Both have looked and seen no key file before either creates one.
    assert first.verification_key("x") is None and second.verification_key("x") is None
    made = first.signing_key()
    # second's view is stale, but it checks again under the lock before creating.
    second._refresh = lambda max_age: False  # type: ignore[method-assign]
    assert second.signing_key().kid == made.kid
    assert len(json.loads((tmp_path / KEYS_FILE).read_text())["keys"]) == 1


# ------------------------------------------------------------------ external issuers

ISSUER = "https://login.retailer.example"
AUDIENCE = "https://api.retailer.example"


@pytest.fixture
def idp_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "idp-1", "alg": "RS256"}, private=True)


def external_server(idp_key: RSAKey) -> ResourceServer:
    jwks = {"keys": [idp_key.as_dict(private=False)]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
    issuer = ExternalIssuer(
        issuer=ISSUER,
        jwks_uri=f"{ISSUER}/jwks",
        audience=AUDIENCE,
        scope_claim="scp",
        client_kind="third_party",
    )
    return ResourceServer(
        KeyStore("/nonexistent-not-used", retention=60),
        ScopeCatalogue(),
        issuer="http://127.0.0.1",
        audience="http://127.0.0.1",
        external=[issuer],
        http=httpx.AsyncClient(transport=transport),
    )


def idp_token(key: RSAKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "c1",
        "azp": "partner-app",
        "scp": ["profile:read", "customers:read"],
        "iat": now,
        "exp": now + 300,
    } | claims
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


async def test_an_external_issuers_token_becomes_a_principal(
    clean_graph: Graph, idp_key: RSAKey
) -> None:
    server = external_server(idp_key)
    principal = await server.verify(idp_token(idp_key), clean_graph)
    # Named by its issuer: never one of our own clients (gateway/oauth/resource.py).
    assert principal.client_id == f"{ISSUER}#partner-app"
    assert principal.issuer == ISSUER
    assert principal.client_kind == ClientKind.THIRD_PARTY
    assert principal.customer_id == "c1"
    # customers:read is never a third party's, whoever issued the token.
    assert principal.scopes == frozenset({"profile:read"})


async def test_external_tokens_are_checked_like_ours(clean_graph: Graph, idp_key: RSAKey) -> None:
    server = external_server(idp_key)
    for bad in (
        idp_token(idp_key, aud="https://elsewhere.example"),
        idp_token(idp_key, exp=int(time.time()) - 60),
        idp_token(RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)),
    ):
        with pytest.raises(InvalidToken):
            await server.verify(bad, clean_graph)


def test_a_token_verified_before_stops_working_when_its_key_goes(tmp_path: Path) -> None:
    from gateway.oauth.tokens import VerifiedTokens, issue

    store = KeyStore(tmp_path, retention=300)
    store.rotate()
    token = issue(
        store,
        issuer="https://id.example",
        audience="https://id.example",
        client_id="c",
        subject="s",
        scopes={"profile:read"},
        family_id="f",
        ttl=300,
    )
    verified = VerifiedTokens()
    first = verified.verify(
        store, token, issuer="https://id.example", audience="https://id.example"
    )
    again = verified.verify(
        store, token, issuer="https://id.example", audience="https://id.example"
    )
    assert again is first  # kept: the same claims, not a second signature check
    # The operator throws the key away (say it leaked): its tokens end with it.
    (tmp_path / KEYS_FILE).unlink()
    KeyStore(tmp_path, retention=300).rotate()
    time.sleep(1.1)  # the key file is looked at about once a second
    with pytest.raises(InvalidToken):
        verified.verify(store, token, issuer="https://id.example", audience="https://id.example")


async def test_an_external_token_naming_a_local_client_gets_nothing_of_it(
    clean_graph: Graph, idp_key: RSAKey
) -> None:
    # The retailer's web shop may run its one registered query and nothing else.
    shop, _ = await register_client(
        clean_graph, ScopeCatalogue(), name="Web shop", kind="first_party", scopes=["profile:read"]
    )
    text = "{ me { id } }"
    digest = hashlib.sha256(text.encode()).hexdigest()
    await add_operations(clean_graph, shop.client_id, [PersistedOperation(digest, text)], 0)
    assert await set_operations_mode(clean_graph, shop.client_id, "allowlist")
    # A partner's identity provider, trusted for its own third parties, signs a
    # token whose client is named like the web shop.
    principal = await external_server(idp_key).verify(
        idp_token(idp_key, azp=shop.client_id), clean_graph
    )
    assert principal.client_id == f"{ISSUER}#{shop.client_id}"
    store = OperationStore(dev_mode=True, max_age=60)
    own = await store.for_principal(
        Principal(shop.client_id, ClientKind.FIRST_PARTY, None, frozenset()), clean_graph
    )
    theirs = await store.for_principal(principal, clean_graph)
    assert own is not None and own.texts == {digest: text}
    # Not the web shop's allowlist, nor its texts: its kind's default.
    assert theirs is not None and theirs.texts == {} and not theirs.restricted
