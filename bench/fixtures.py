"""What the workloads rotate over: 200 customers with purchases, 200 SKUs, and their tokens.

The ids are chosen by Cypher in a fixed order, so a given graph always gives
the same ids. Tokens for the gateway are minted by :func:`mint`, run in a
child process (``python -m bench.fixtures mint``) with ``TIGHTROPE_DEV_MODE=true``:
issuing tokens without a browser is a development tool, and may refuse outside
dev mode, while the gateway the bench measures runs outside it. The child
calls the same code as ``tightrope token`` (``gateway.oauth.devtokens``) once
per customer, which is far quicker than 200 CLI processes. The bench client is
an ordinary ``first_party`` client registered once per graph (found again by
its name).

Tokens for the peer are HS256 JWTs with ``sub`` = the customer id, signed
with the peer's bench secret, as a team's identity provider would issue them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey
from neo4j import GraphDatabase, NotificationMinimumSeverity

ROTATION = 200
BENCH_CLIENT = "tightrope-bench"
BENCH_SCOPES = ("profile:read", "purchases:read", "recommendations:read", "events:write")
# The W1 tokens (a customer's profile and purchases) and the W2 tokens (their
# recommendations) are separate families, as two frontends' would be.
W1_SCOPES = ("profile:read", "purchases:read")
W2_SCOPES = ("profile:read", "recommendations:read")
# Signs the peer's bench tokens only; the bench data is generated.
PEER_JWT_SECRET = "tightrope-bench-peer-secret-not-a-secret-0123456789"  # noqa: S105

# Customers who bought something and, in the demo's consent mix (gateway/demo.py,
# loaded by `tightrope load demo`), granted personalisation: under the default
# opt-in regime only they get personal recommendations (W2).
CUSTOMERS_WITH_PURCHASES = """
MATCH (c:Customer)
WHERE EXISTS { (c)-[:PURCHASED]->() }
  AND EXISTS { (c)-[:CONSENT {purpose: 'personalisation', granted: true}]->(:Purpose) }
RETURN c.id AS id ORDER BY id LIMIT $n
"""
ALL_SKUS = "MATCH (p:Product) RETURN p.sku AS sku ORDER BY sku"
BOUGHT_BY = """
UNWIND $ids AS id
MATCH (:Customer {id: id})-[:PURCHASED]->(p:Product)
RETURN id, collect(DISTINCT p.sku) AS skus
"""


@dataclass(frozen=True)
class Fixtures:
    customers: list[str]
    skus: list[str]
    # Per customer, in the order of ``customers``.
    tokens: list[str]
    families: list[str]
    w2_tokens: list[str]
    w2_families: list[str]
    peer_tokens: list[str]
    # A token of the bench client for no customer, with events:write (W4).
    events_token: str
    events_family: str


def choose_ids(uri: str, user: str, password: str) -> tuple[list[str], list[str]]:
    """200 consenting customers that bought something, and 200 SKUs spread over the catalogue."""
    with GraphDatabase.driver(
        uri, auth=(user, password), notifications_min_severity=NotificationMinimumSeverity.OFF
    ) as driver:
        records, _, _ = driver.execute_query(CUSTOMERS_WITH_PURCHASES, {"n": ROTATION})
        customers = [r["id"] for r in records]
        records, _, _ = driver.execute_query(ALL_SKUS)
        every = [r["sku"] for r in records]
    step = max(1, len(every) // ROTATION)
    skus = every[::step][:ROTATION]
    if len(customers) < ROTATION or len(skus) < ROTATION:
        raise SystemExit(
            f"the bench graph has too few customers with purchases ({len(customers)}) "
            f"or products ({len(skus)}) for a rotation of {ROTATION}"
        )
    return customers, skus


def bought_by(uri: str, user: str, password: str, customers: list[str]) -> dict[str, set[str]]:
    """What each customer bought, read straight from the graph (W2's check)."""
    with GraphDatabase.driver(
        uri, auth=(user, password), notifications_min_severity=NotificationMinimumSeverity.OFF
    ) as driver:
        records, _, _ = driver.execute_query(BOUGHT_BY, {"ids": customers})
    found: dict[str, set[str]] = {c: set() for c in customers}
    for r in records:
        found[r["id"]] = set(r["skus"])
    return found


def peer_token(customer: str, ttl: int = 3600) -> str:
    now = int(time.time())
    claims = {"sub": customer, "iat": now, "exp": now + ttl}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(PEER_JWT_SECRET))


def family_of(token: str) -> str:
    from gateway.oauth.tokens import unverified_claims

    return str(unverified_claims(token)["gid"])


async def _mint(customers: list[str]) -> dict[str, Any]:
    """Register (or find) the bench client and issue its tokens; run in dev mode."""
    from gateway.cli.common import graph_session
    from gateway.graphql.schema import collect_registry
    from gateway.host.manager import load_plugins
    from gateway.oauth.clients import register_client
    from gateway.oauth.devtokens import dev_token
    from gateway.oauth.routes import OAuthService
    from gateway.oauth.scopes import ScopeCatalogue
    from gateway.settings import load_settings
    from graph.oauth import list_clients

    settings = load_settings()
    registry = collect_registry(load_plugins(settings.disabled_plugins, ()), settings)
    catalogue = ScopeCatalogue(registry.scopes)
    service = OAuthService(settings, catalogue)
    async with graph_session() as graph:
        # A graph set up by an older bench has a bench client with fewer scopes:
        # it is left alone, and a client with every scope the bench needs is made.
        existing = [
            c
            for c in await list_clients(graph)
            if c.name == BENCH_CLIENT and set(BENCH_SCOPES) <= set(c.allowed_scopes)
        ]
        if existing:
            client_id = existing[0].client_id
        else:
            record, _ = await register_client(
                graph,
                catalogue,
                name=BENCH_CLIENT,
                kind="first_party",
                scopes=BENCH_SCOPES,
                trusted=True,
            )
            client_id = record.client_id
        # Eight at a time: each token is three round trips, and on a Neo4j just
        # started one after another took 39 s for the 400 of a cold `make bench`.
        gate = asyncio.Semaphore(8)

        async def token(customer: str, scopes: tuple[str, ...]) -> str:
            async with gate:
                return await dev_token(
                    graph, service, client_id=client_id, customer_id=customer, scopes=scopes
                )

        minted = {
            scopes: list(await asyncio.gather(*(token(c, scopes) for c in customers)))
            for scopes in (W1_SCOPES, W2_SCOPES)
        }
        events = await dev_token(
            graph, service, client_id=client_id, customer_id=None, scopes=("events:write",)
        )
    return {
        "client_id": client_id,
        "tokens": minted[W1_SCOPES],
        "w2_tokens": minted[W2_SCOPES],
        "events_token": events,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["mint"]:
    # stdin: a JSON list of customer ids; stdout: the tokens as JSON.
    minted = asyncio.run(_mint(json.load(sys.stdin)))
    json.dump(minted, sys.stdout)
