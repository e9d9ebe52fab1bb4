"""Access tokens issued without a browser: for development, tests and benchmarks.

``tightrope token`` uses this. The token is a normal access token of a normal
client, so every rule still holds: only scopes the client is allowed, and
``customers:read`` only for first-party clients, a service-only scope
(``insights:read``) never on a customer's token; and it is about a customer
who exists, or about none. It belongs to a token family
of its own (so ``clients remove`` and ``revokeApp`` end it too) and has no
refresh token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from gateway.oauth.clients import ClientError
from gateway.oauth.routes import OAuthService
from gateway.oauth.scopes import join
from gateway.oauth.tokens import issue
from graph import Graph
from graph.oauth import FamilyRecord, create_family, customer_exists, get_client


async def dev_token(
    graph: Graph,
    service: OAuthService,
    *,
    client_id: str,
    customer_id: str | None,
    scopes: Iterable[str],
) -> str:
    client = await get_client(graph, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r}")
    if customer_id is not None and not await customer_exists(graph, customer_id):
        raise ClientError(f"no customer {customer_id!r}")
    wanted = set(scopes)
    allowed = set(client.allowed_scopes) & service.catalogue.allowed_for(client.kind)
    if not wanted <= allowed:
        raise ClientError(f"client {client_id} may not hold {join(wanted - allowed)}")
    if customer_id is not None:
        # As the authorization server does: a customer's token never carries a
        # service-only scope (ScopeSpec.service_only).
        wanted = set(service.catalogue.for_customers(wanted))
    now = int(time.time())
    family = FamilyRecord(
        id=uuid.uuid4().hex,
        client_id=client_id,
        customer_id=customer_id,
        scopes=tuple(sorted(wanted)),
        expires_at=now + service.config.access_token_ttl,
        revoked_at=None,
    )
    await create_family(graph, family, now)
    return issue(
        service.keys,
        issuer=service.config.issuer,
        audience=service.config.audience,
        client_id=client_id,
        subject=customer_id or client_id,
        scopes=wanted,
        family_id=family.id,
        ttl=service.config.access_token_ttl,
    )
