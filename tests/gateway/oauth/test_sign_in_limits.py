"""How many passwords may be tried, from where, and what a refusal gives away.

Password guesses are counted per customer *and* source address: a guesser
locks out only themself, never the customer signing in from elsewhere; each
address gets a few tries per customer per quarter hour, however many it sends
at once; and a refused (locked) try costs the same Argon2 verification as a
wrong password, so its speed does not tell that the account exists and is
locked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette

from gateway.oauth import login
from gateway.oauth.passwords import hash_password, verify_password

from .conftest import PASSWORD, add_client
from .helpers import BASE, authorize_url_for, forms, sign_in

SCOPES = "profile:read"
ATTACKER = "203.0.113.9"
CUSTOMER_HOME = "198.51.100.7"


@asynccontextmanager
async def browser_at(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies) connecting from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def guesses(http: httpx.AsyncClient, url: str, customer: str, passwords: list[str]) -> None:
    for password in passwords:
        answer = await sign_in(http, url, customer, password)
        assert answer.status_code == 401, answer.text


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every Argon2 verification sign-in runs: True where it was against the customer's hash."""
    seen: list[bool] = []

    def spy(stored_hash: str | None, password: str) -> bool:
        seen.append(stored_hash is not None)
        return verify_password(stored_hash, password)

    monkeypatch.setattr(login, "verify_password", spy)
    return seen


async def test_a_guesser_locks_out_only_their_own_address(app: Starlette, customer: str) -> None:
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    async with browser_at(app, ATTACKER) as attacker:
        await guesses(attacker, url, customer, [f"guess {i}" for i in range(login.MAX_FAILURES)])
        # Bounded: from this address even the right password is refused now.
        assert (await sign_in(attacker, url, customer, PASSWORD)).status_code == 401
    async with browser_at(app, CUSTOMER_HOME) as own:
        signed_in = await sign_in(own, url, customer, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text


async def test_simultaneous_guesses_get_no_more_tries_than_the_limit(
    app: Starlette, customer: str, checks: list[bool]
) -> None:
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    async with browser_at(app, ATTACKER) as attacker:
        page = await attacker.get(url)
        form = forms(page.text)[0].fields

        async def guess(i: int) -> int:
            data = form | {"customer": customer, "password": f"guess {i}"}
            return (await attacker.post(url, data=data)).status_code

        answers = await asyncio.gather(*(guess(i) for i in range(3 * login.MAX_FAILURES)))
    assert set(answers) == {401}
    # Every attempt was answered after one Argon2 verification, but only the
    # allowed number were checked against the customer's password.
    assert len(checks) == 3 * login.MAX_FAILURES
    assert sum(checks) == login.MAX_FAILURES


async def test_a_locked_account_answers_as_slowly_as_a_wrong_password(
    app: Starlette, customer: str
) -> None:
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    async with browser_at(app, ATTACKER) as attacker:
        await guesses(attacker, url, customer, [f"guess {i}" for i in range(login.MAX_FAILURES)])
        page = await attacker.get(url)
        form = forms(page.text)[0].fields
        locked = await _fastest(
            lambda: attacker.post(url, data=form | {"customer": customer, "password": PASSWORD})
        )
    stored = hash_password("a password to be wrong about")
    argon2 = await _fastest(lambda: asyncio.to_thread(verify_password, stored, "wrong"))
    # Minimums, so that a busy machine slows neither side's best case. Without
    # the verification a locked answer is a few graph reads: a tenth of this.
    assert locked >= 0.5 * argon2, (locked, argon2)


async def test_many_addresses_together_still_meet_a_limit_per_customer(
    app: Starlette, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real ceiling is 100 failures per customer (NIST SP 800-63B); a smaller
    # one keeps the test short.
    monkeypatch.setattr(login, "MAX_FAILURES_PER_CUSTOMER", login.MAX_FAILURES + 1)
    client = await add_client(app, "first_party", SCOPES, trusted=True)
    url = authorize_url_for(client, SCOPES)
    async with browser_at(app, ATTACKER) as first:
        await guesses(first, url, customer, [f"guess {i}" for i in range(login.MAX_FAILURES)])
    async with browser_at(app, "203.0.113.10") as second:
        await guesses(second, url, customer, ["one more guess"])
    async with browser_at(app, CUSTOMER_HOME) as own:
        assert (await sign_in(own, url, customer, PASSWORD)).status_code == 401


async def _fastest(attempt: Callable[[], Awaitable[object]], times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        await attempt()
        best = min(best, time.perf_counter() - started)
    return best
