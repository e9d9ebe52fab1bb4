"""Single use holds under concurrency: of many simultaneous redemptions, one wins.

Neo4j runs transactions at read committed: two that read a flag before either
writes it both see it unset. These tests send the same code and the same
refresh token many times at once, over HTTP, against the real Neo4j, and check
that the one-time things stay one-time.

Left to the scheduler, the redemptions overlap more or less on each run. So
the tests also make the worst case certain: a transaction of the test holds
the write lock of the code (or token) while every redemption arrives, and lets
go only when all of them are waiting for it. That is a real Neo4j lock, not a
stand-in: it only decides the order, and Neo4j decides the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import LiteralString

import httpx
import pytest
from starlette.applications import Starlette

from graph import Graph

from .conftest import add_client
from .helpers import (
    authorized_code,
    bearer,
    exchange_code,
    pkce_pair,
    refresh,
    tokens_for,
)

SCOPES = "profile:read purchases:read"
AT_ONCE = 16

BLOCKED: LiteralString = (
    "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n"
)


@asynccontextmanager
async def all_arriving_together(graph: Graph, lock: LiteralString) -> AsyncIterator[None]:
    """Hold the write lock ``lock`` takes until ``AT_ONCE`` transactions wait for it."""
    async with graph.driver.session(database=graph.database) as session:
        tx = await session.begin_transaction()
        try:
            await (await tx.run(lock)).consume()
            yield
            deadline = time.monotonic() + 30
            while (await graph.read(BLOCKED))[0]["n"] < AT_ONCE:
                assert time.monotonic() < deadline, "the redemptions never all arrived"
                await asyncio.sleep(0.05)
        finally:
            await tx.rollback()


async def at_once(
    graph: Graph, lock: LiteralString | None, attempts: list[Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    """Run the attempts together, optionally all arriving at ``lock`` together."""
    if lock is None:
        return list(await asyncio.gather(*attempts))
    async with all_arriving_together(graph, lock):
        pending = asyncio.gather(*attempts)
    return list(await pending)


async def still_works(http: httpx.AsyncClient, access_token: str) -> bool:
    answer = await http.get("/whoami", headers=bearer(access_token))
    return answer.status_code == 200


@pytest.mark.parametrize(
    "lock", [None, "MATCH (c:AuthCode) SET c.held = true"], ids=["as-scheduled", "held-lock"]
)
async def test_of_many_simultaneous_exchanges_of_one_code_exactly_one_gets_tokens(
    app: Starlette, http: httpx.AsyncClient, customer: str, lock: LiteralString | None
) -> None:
    client = await add_client(app, "public", SCOPES)
    verifier, challenge = pkce_pair()
    code = await authorized_code(http, client, SCOPES, customer, challenge)

    answers = await at_once(
        app.state.graph,
        lock,
        [exchange_code(http, client, code, verifier) for _ in range(AT_ONCE)],
    )

    won = [a for a in answers if a.status_code == 200]
    lost = [a for a in answers if a.status_code != 200]
    assert len(won) == 1, [a.status_code for a in answers]
    assert {a.json()["error"] for a in lost} == {"invalid_grant"}
    # The other exchanges were replays of a used code: whoever holds the winning
    # tokens may be a thief, so they are revoked too (RFC 6749 §4.1.2).
    issued = won[0].json()
    assert not await still_works(http, issued["access_token"])
    again = await refresh(http, client, issued["refresh_token"])
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "lock", [None, "MATCH (r:RefreshToken) SET r.held = true"], ids=["as-scheduled", "held-lock"]
)
async def test_of_many_simultaneous_uses_of_one_refresh_token_exactly_one_rotates(
    app: Starlette, http: httpx.AsyncClient, customer: str, lock: LiteralString | None
) -> None:
    client = await add_client(app, "third_party", SCOPES)
    first = await tokens_for(http, client, SCOPES, customer)
    assert await still_works(http, first.access_token)

    answers = await at_once(
        app.state.graph,
        lock,
        [refresh(http, client, first.refresh_token) for _ in range(AT_ONCE)],
    )

    won = [a for a in answers if a.status_code == 200]
    lost = [a for a in answers if a.status_code != 200]
    assert len(won) == 1, [a.status_code for a in answers]
    assert {a.json()["error"] for a in lost} == {"invalid_grant"}
    # A spent refresh token came back: the whole family ends, the winner's new
    # tokens included.
    rotated = won[0].json()
    assert not await still_works(http, first.access_token)
    assert not await still_works(http, rotated["access_token"])
    after = await refresh(http, client, rotated["refresh_token"])
    assert after.json()["error"] == "invalid_grant"


async def test_a_code_replayed_after_its_exchange_still_revokes_the_family(
    app: Starlette, http: httpx.AsyncClient, customer: str
) -> None:
    client = await add_client(app, "public", SCOPES)
    verifier, challenge = pkce_pair()
    code = await authorized_code(http, client, SCOPES, customer, challenge)
    first = await exchange_code(http, client, code, verifier)
    assert first.status_code == 200
    assert await still_works(http, first.json()["access_token"])
    replays = await asyncio.gather(*(exchange_code(http, client, code, verifier) for _ in range(4)))
    assert {r.json()["error"] for r in replays} == {"invalid_grant"}
    assert not await still_works(http, first.json()["access_token"])
