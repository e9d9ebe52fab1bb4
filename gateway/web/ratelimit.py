"""Token-bucket rate limits, held in this process.

Two tables of buckets:

- ``/graphql``: one bucket per authenticated client and customer (the Principal that
  ``BearerTokens`` left in the request's state, so no token is verified twice),
  else per client IP. Over the limit: 429, a GraphQL-shaped ``RATE_LIMITED``
  error and ``Retry-After``.
- ``POST /oauth/token``, ``POST /oauth/authorize`` and ``POST /privacy`` (passwords and client
  secrets are tried there): a stricter bucket per client IP. Over the limit:
  429 with an OAuth-style JSON error on the token endpoint, plain text on the
  sign-in form.

The limits are per process: with N workers or N replicas a client gets N times
the rate. A fleet that needs one limit needs a shared limiter (at the load
balancer); the gateway keeps no other state between requests. Behind a proxy
the client IP is the one uvicorn takes from ``X-Forwarded-For`` when the proxy
is trusted (``--forwarded-allow-ips``); otherwise every anonymous caller shares
the proxy's bucket.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ErrorCode
from gateway.principal import Principal


class Buckets:
    """A token bucket per key: ``burst`` tokens at most, refilled at ``rate`` per second.

    Memory is bounded: a bucket idle long enough to be full again holds nothing
    a new bucket would not, so it is dropped; beyond ``max_keys`` the least
    recently used bucket is dropped even if not full (which only ever errs on
    the lenient side).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._refill_time = burst / rate
        # key -> (tokens, time of last update); least recently used first.
        self._table: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def __bool__(self) -> bool:
        # A limit with no buckets yet is still a limit (len() alone would make it falsy).
        return True

    def take(self, key: str) -> float:
        """Spend one token of ``key``'s bucket: 0.0 if there was one, else the
        seconds until there will be."""
        now = self.clock()
        self._evict(now)
        tokens = self._level(key, now)
        self._table.pop(key, None)  # re-inserted last: most recently used
        if tokens >= 1.0:
            self._table[key] = (tokens - 1.0, now)
            return 0.0
        self._table[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """Like :meth:`take`, but spends nothing: 0.0 if a token is there."""
        tokens = self._level(key, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _level(self, key: str, now: float) -> float:
        tokens, last = self._table.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def _evict(self, now: float) -> None:
        # The oldest entries come first: stop at the first one still refilling.
        while self._table:
            key, (_, last) = next(iter(self._table.items()))
            if now - last < self._refill_time and len(self._table) < self.max_keys:
                break
            del self._table[key]


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimit:
    """Plain ASGI middleware; inside ``BearerTokens`` so the Principal is known."""

    def __init__(self, app: ASGIApp, *, graphql: Buckets | None, sign_in: Buckets | None) -> None:
        self.app = app
        self.graphql = graphql
        self.sign_in = sign_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/graphql" and self.graphql is not None:
                wait = self.graphql.take(_graphql_key(scope))
                if wait:
                    await _answer(send, wait, _graphql_refusal(), "application/json")
                    return
            elif (
                path in ("/oauth/token", "/oauth/authorize", "/privacy")
                and method == "POST"
                and self.sign_in is not None
            ):
                wait = self.sign_in.take(client_ip(scope))
                if wait:
                    if path == "/oauth/token":
                        await _answer(send, wait, _oauth_refusal(), "application/json")
                    else:
                        text = b"Too many sign-in attempts; try again later.\n"
                        await _answer(send, wait, text, "text/plain; charset=utf-8")
                    return
        await self.app(scope, receive, send)


class BadTokenLimit:
    """Refused bearer tokens cost the caller's IP, as wrong passwords do.

    ``BearerTokens`` answers a bad token with 401 before :class:`RateLimit`
    (which needs the Principal) runs, and checking a token may read the graph;
    so without this a flood of junk tokens would never be limited. This sits
    outside ``BearerTokens``: each 401 spends a token of the IP's bucket, and
    once it is empty that IP's bearer requests get 429 until it refills.
    Requests without a token are left to :class:`RateLimit`.
    """

    def __init__(self, app: ASGIApp, *, buckets: Buckets | None, paths: tuple[str, ...]) -> None:
        self.app = app
        self.buckets = buckets
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        buckets = self.buckets
        if (
            buckets is None
            or scope["type"] != "http"
            or not str(scope["path"]).startswith(self.paths)
            or not any(name == b"authorization" for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope)
        wait = buckets.wait(ip)
        if wait:
            await _answer(send, wait, _graphql_refusal(), "application/json")
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                buckets.take(ip)
            await send(message)

        await self.app(scope, receive, watch)


def _graphql_key(scope: Scope) -> str:
    principal = scope.get("state", {}).get("principal")
    if isinstance(principal, Principal) and principal.client_id is not None:
        # Every shopper of the web shop uses the same client: a bucket per
        # client alone would let one of them throttle all the others.
        return f"client:{principal.client_id}:{principal.customer_id or ''}"
    return f"ip:{client_ip(scope)}"


def _graphql_refusal() -> bytes:
    error = {"message": "Too many requests.", "extensions": {"code": ErrorCode.RATE_LIMITED.value}}
    # No "data": the operation never started (GraphQL over HTTP, request errors).
    return json.dumps({"errors": [error]}).encode()


def _oauth_refusal() -> bytes:
    # RFC 6749 defines no error for this at the token endpoint; this code is the
    # registered one closest in meaning, and the status says the rest.
    error = {"error": "temporarily_unavailable", "error_description": "too many requests"}
    return json.dumps(error).encode()


async def _answer(send: Send, wait: float, body: bytes, content_type: str) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", retry_after(wait).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
