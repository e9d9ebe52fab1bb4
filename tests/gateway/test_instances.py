"""Several gateways on one Neo4j: what one does, the other honours on its next request.

Two real ``tightrope serve`` processes share one graph, one signing key and one
issuer, as replicas behind a load balancer do; one of them reaches Neo4j
through a ``neo4j://`` (routing) URI. And a gateway killed mid-stream loses
nothing it acknowledged (docs/operations.md, "Running several").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import assemble
from gateway.oauth import OAuthService
from gateway.oauth.clients import register_client
from gateway.oauth.devtokens import dev_token
from gateway.oauth.scopes import ScopeCatalogue
from gateway.settings import load_settings
from graph import Graph, Neo4jSettings, connect
from graph.oauth import merge_grant
from graph.operations import PersistedOperation, add_operations
from tests.gateway.conftest import ANA, grant, settings_for_tests
from tests.gateway.oauth.helpers import bearer
from tests.gateway.test_serve import Served, serving

ISSUER = "http://gateway.test"
# How long a revocation made by another process may take to bite (the default
# of oauth_liveness_cache_seconds), and a margin for a busy machine.
LIVENESS = load_settings().oauth_liveness_cache_seconds
MARGIN = 0.5
ME = "{ me { id } }"
SHOP_SCOPES = ["apps:write", "browsing:read", "consent:write", "privacy:erase", "profile:read"]


async def gql(url: str, query: str, token: str, **variables: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        return await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
        )


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def ready(*served: Served) -> None:
    """Wait (not time) until each gateway says it is ready, as a load balancer does."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        for one in served:
            for _ in range(240):
                if (await client.get(f"{one.url}/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"{one.url} never became ready")


@contextmanager
def two_gateways(keys: Path, neo4j: Neo4jSettings) -> Iterator[tuple[Served, Served]]:
    """Gateway A on the usual bolt:// URI, B on neo4j:// (routing): one graph, one key."""
    shared = {"TIGHTROPE_OAUTH_KEYS_DIR": str(keys)}
    routed = {
        "NEO4J_URI": neo4j.uri.replace("bolt://", "neo4j://"),
        "NEO4J_USER": neo4j.user,
        "NEO4J_PASSWORD": neo4j.password,
    }
    with ExitStack() as stack:
        a = stack.enter_context(serving(issuer=ISSUER, **shared))
        b = stack.enter_context(serving(issuer=ISSUER, **shared, **routed))
        yield a, b


def token_service(keys: Path) -> OAuthService:
    """The same issuer and keys as the served gateways, to issue tokens in the test."""
    settings = settings_for_tests(oauth_issuer=ISSUER, oauth_keys_dir=str(keys))
    service = OAuthService(settings, ScopeCatalogue(assemble(settings).registry.scopes))
    service.keys.signing_key()  # made now, before two processes could race to make it
    return service


async def test_what_one_gateway_changes_the_other_honours_on_its_next_request(
    ana: Graph, neo4j_settings: Neo4jSettings, tmp_path: Path
) -> None:
    service = token_service(tmp_path / "keys")
    shop, _ = await register_client(
        ana, service.catalogue, name="Shop", kind="first_party", scopes=SHOP_SCOPES
    )
    buddy, _ = await register_client(
        ana,
        service.catalogue,
        name="Budget Buddy",
        kind="third_party",
        scopes=["profile:read"],
        redirect_uris=["https://buddy.example/cb"],
    )
    await merge_grant(ana, ANA, buddy.client_id, ["profile:read"], 0)
    # A third party runs only what it registered (outside dev mode).
    me = PersistedOperation(hashlib.sha256(ME.encode()).hexdigest(), ME)
    await add_operations(ana, buddy.client_id, [me], 0)
    await grant(ana, ANA, "personalisation", "third_party_sharing")
    as_shop = await dev_token(
        ana, service, client_id=shop.client_id, customer_id=ANA, scopes=SHOP_SCOPES
    )
    as_buddy = await dev_token(
        ana, service, client_id=buddy.client_id, customer_id=ANA, scopes=["profile:read"]
    )

    with two_gateways(tmp_path / "keys", neo4j_settings) as (a, b):
        await ready(a, b)

        # A revocation through A: B refuses the app's token within the documented second.
        first = await gql(b.url, ME, as_buddy)
        assert first.json()["data"] == {"me": {"id": ANA}}, first.text
        revoked = await gql(
            a.url, "mutation($c: ID!) { revokeApp(clientId: $c) }", as_shop, c=buddy.client_id
        )
        assert revoked.json()["data"] == {"revokeApp": True}
        await asyncio.sleep(LIVENESS + MARGIN)
        assert (await gql(b.url, ME, as_buddy)).status_code == 401

        # A consent withdrawn through A bites on B's very next request (nothing is kept).
        viewed = "{ me { recentlyViewed { product { sku } } } }"
        before = await gql(b.url, viewed, as_shop)
        assert before.json()["data"]["me"]["recentlyViewed"], before.text
        withdrawn = await gql(
            a.url,
            'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }',
            as_shop,
        )
        assert withdrawn.json()["data"] == {"setConsent": {"granted": False}}
        after = await gql(b.url, viewed, as_shop)
        assert after.json()["data"]["me"]["recentlyViewed"] is None
        assert codes(after) == ["CONSENT_REQUIRED"]

        # An erasure asked on B and confirmed on A: B refuses her token afterwards.
        asked = await gql(b.url, "mutation { forgetMe { confirmation } }", as_shop)
        code = asked.json()["data"]["forgetMe"]["confirmation"]
        done = await gql(
            a.url,
            "mutation($c: String!) { forgetMe(confirmation: $c) { erased } }",
            as_shop,
            c=code,
        )
        assert done.json()["data"] == {"forgetMe": {"erased": True}}
        await asyncio.sleep(LIVENESS + MARGIN)
        assert (await gql(b.url, ME, as_shop)).status_code == 401
    rows = await ana.read("MATCH (c:Customer {id: $id}) RETURN count(c) AS n", {"id": ANA})
    assert rows[0]["n"] == 0


async def test_reads_go_to_neo4j_as_reads_over_a_routing_uri(
    neo4j_settings: Neo4jSettings,
) -> None:
    # What lets a cluster serve them from its secondaries: sent in read mode, a
    # write is refused by Neo4j itself; writes go as writes.
    routed = connect(replace(neo4j_settings, uri=neo4j_settings.uri.replace("bolt://", "neo4j://")))
    try:
        assert await routed.read("RETURN 1 AS one") == [{"one": 1}]
        with pytest.raises(Exception, match="read access mode"):
            await routed.read("CREATE (n:ReadModeProbe) RETURN count(n) AS n")
        written = await routed.write("MERGE (n:ReadModeProbe) RETURN count(n) AS n")
        assert written == [{"n": 1}]
        await routed.write("MATCH (n:ReadModeProbe) DELETE n")
    finally:
        await routed.close()


async def test_a_gateway_killed_mid_stream_loses_nothing_it_acknowledged(
    ana: Graph, tmp_path: Path
) -> None:
    # Access records wait in memory (docs/operations.md): here they are written
    # every 10 reads, so what waits at the kill is plain to see.
    service = token_service(tmp_path / "keys")
    shop, _ = await register_client(
        ana,
        service.catalogue,
        name="Shop",
        kind="first_party",
        scopes=["events:write", *SHOP_SCOPES],
    )
    token = await dev_token(
        ana,
        service,
        client_id=shop.client_id,
        customer_id=ANA,
        scopes=["events:write", "profile:read"],
    )
    settings = {
        "TIGHTROPE_OAUTH_KEYS_DIR": str(tmp_path / "keys"),
        "TIGHTROPE_ACCESS_LOG_BATCH": "10",
        "TIGHTROPE_ACCESS_LOG_FLUSH_SECONDS": "300",
    }
    track = "mutation($events: [EventInput!]!) { trackEvents(events: $events) { accepted } }"
    acknowledged: list[str] = []
    with serving(issuer=ISSUER, **settings) as gateway:
        await ready(gateway)
        for _ in range(10):  # a batch: written at once
            assert (await gql(gateway.url, ME, token)).status_code == 200
        for _ in range(600):  # waiting for the batch's write, not timing it
            if await metric(gateway, "tightrope_access_log_buffer_depth") == 0:
                break
            await asyncio.sleep(0.1)
        for _ in range(3):  # waiting in memory, as the metric shows
            assert (await gql(gateway.url, ME, token)).status_code == 200
        assert await metric(gateway, "tightrope_access_log_buffer_depth") == 3

        start = "mutation($d: ID) { startVisit(deviceId: $d) { deviceId sessionId } }"
        # Ana's phone, as her app got its ids (her token names only issued ones).
        visits = [(await gql(gateway.url, start, token, d=None)).json()["data"]["startVisit"]]
        phone = visits[0]["deviceId"]
        for _ in range(5):
            started = await gql(gateway.url, start, token, d=phone)
            visits.append(started.json()["data"]["startVisit"])

        async def send(n: int) -> None:
            events = [
                {"eventId": f"kill-{n}-{i}", "type": "VIEW", "at": "2026-12-01T10:00:00Z",
                 "sessionId": visits[n]["sessionId"], "deviceId": phone, "sku": "sku-001"}
                for i in range(20)
            ]  # fmt: skip
            answer = await gql(gateway.url, track, token, events=events)
            if answer.json()["data"]["trackEvents"]["accepted"] == 20:
                acknowledged.append(visits[n]["sessionId"])

        for n in range(5):
            await send(n)
        # One more batch on its way when the process dies without a word: it is
        # acknowledged (and then stored) or it is not (and may be sent again).
        in_flight = asyncio.ensure_future(send(5))
        await asyncio.sleep(0.01)
        os.kill(gateway.process.pid, signal.SIGKILL)
        gateway.process.wait(timeout=30)
        with contextlib.suppress(httpx.TransportError):
            await in_flight
    assert acknowledged[:5] == [visit["sessionId"] for visit in visits[:5]]
    stored = await ana.read(
        "MATCH (s:Session)-[v:VIEWED]->() WHERE s.id IN $ids "
        "RETURN s.id AS id, count(v) AS n ORDER BY id",
        {"ids": acknowledged},
    )
    assert [(r["id"], r["n"]) for r in stored] == [(s, 20) for s in sorted(acknowledged)]
    records = await ana.read(
        "MATCH (r:AccessRecord)-[:ABOUT]->(:Customer {id: $id}) RETURN count(r) AS n", {"id": ANA}
    )
    # The batch written is there; lost are at most the three the buffer showed waiting.
    assert records[0]["n"] == 10


async def metric(served: Served, name: str) -> float:
    async with httpx.AsyncClient(base_url=served.url) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")
