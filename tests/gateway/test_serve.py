"""`tightrope serve`: a real uvicorn process answering over a real socket."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.cli.serve import issuer_elsewhere, start_up_warnings
from gateway.settings import load_settings
from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stop the server; what it wrote to stderr."""
        self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        return err.decode()


@contextmanager
def serving(*options: str, issuer: str | None = None, **env: str) -> Iterator[Served]:
    """`tightrope serve` on a free loopback port, outside dev mode."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), *options],
        env={
            **os.environ,
            "TIGHTROPE_DEV_MODE": "false",
            "TIGHTROPE_OAUTH_ISSUER": issuer or url,
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    served = Served(url, process)
    try:
        for _ in range(600):  # waiting for start-up, not timing it
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            served.stop()


@pytest.fixture
def server() -> Iterator[str]:
    with serving() as served:
        yield served.url


async def test_serve_answers_graphql_over_a_socket(demo_graph: Graph, server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        # Ready once its warm-up has run (gateway/web/readiness.py), as a load balancer waits.
        for _ in range(120):
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.5)
        body = (
            await client.post("/graphql", json={"query": '{ product(sku: "sku-002") { name } }'})
        ).json()
        ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert ready.json()["ready"] is True
    assert body == {"data": {"product": {"name": "Trail Runner 2"}}}
    assert "graphiql" not in ide.text.lower()  # dev mode is off


def test_serving_outside_dev_mode_without_an_issuer_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIGHTROPE_OAUTH_ISSUER"}
    result = subprocess.run(
        [str(BIN), "serve", "--port", str(free_port())],
        env={**env, "TIGHTROPE_DEV_MODE": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TIGHTROPE_OAUTH_ISSUER" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_warns_when_the_issuer_points_elsewhere(graph: Graph) -> None:
    with serving(issuer="http://127.0.0.1:8000") as served:
        port = served.url.rsplit(":", 1)[1]
        err = served.stop()
    assert "warning: the OAuth issuer http://127.0.0.1:8000 points at port 8000" in err
    assert f"listens on port {port}" in err


def test_serve_says_nothing_when_the_issuer_points_here(graph: Graph) -> None:
    with serving() as served:
        err = served.stop()
    assert "warning" not in err


# ------------------------------------------------------------------ behind a proxy

JUNK = {"Authorization": "Bearer not.a.token"}
QUERY = {"query": "{ __typename }"}


def bad_token_from(url: str, address: str) -> int:
    """A junk token sent through a "proxy" on loopback for the client at ``address``."""
    headers = JUNK | {"X-Forwarded-For": address}
    return httpx.post(f"{url}/graphql", json=QUERY, headers=headers, timeout=30).status_code


# Two junk tokens empty a client's bad-token bucket (it refills in hours).
STRICT = {"TIGHTROPE_SIGN_IN_BURST": "2", "TIGHTROPE_SIGN_IN_RATE_PER_MINUTE": "0.01"}


@pytest.mark.parametrize(
    ("options", "clients_share_a_bucket"),
    [
        ((), False),  # the proxy on loopback is trusted by default
        (("--forwarded-allow-ips", "127.0.0.1"), False),
        (("--forwarded-allow-ips", "10.9.9.9"), True),  # not this proxy
        (("--no-proxy-headers",), True),
    ],
)
def test_the_forwarded_address_options_decide_whose_bucket_a_bad_token_costs(
    graph: Graph, options: tuple[str, ...], clients_share_a_bucket: bool
) -> None:
    with serving(*options, **STRICT) as served:
        first = [bad_token_from(served.url, "198.51.100.1") for _ in range(3)]
        other = bad_token_from(served.url, "198.51.100.2")
    assert first == [401, 401, 429]
    # Shared, another client behind the same proxy pays for the first one's junk.
    assert other == (429 if clients_share_a_bucket else 401)


# ------------------------------------------------------------------ the warnings themselves


def warnings_for(host: str, port: int = 8000, **options: object) -> list[str]:
    settings = load_settings(oauth_issuer=str(options.pop("issuer", "http://127.0.0.1:8000")))
    return start_up_warnings(
        settings,
        host=host,
        port=port,
        proxy_headers=bool(options.pop("proxy_headers", True)),
        forwarded_allow_ips=options.pop("forwarded_allow_ips", None),  # type: ignore[arg-type]
    )


def test_a_public_address_without_forwarded_settings_is_warned_about() -> None:
    everywhere = "0.0.0.0"  # noqa: S104
    shop = "https://api.shop.example"
    [warning] = warnings_for(everywhere, issuer=shop)
    assert "--forwarded-allow-ips" in warning
    assert warnings_for(everywhere, issuer=shop, forwarded_allow_ips="10.0.0.2") == []
    # Saying there is no proxy is a setting too.
    assert warnings_for(everywhere, issuer=shop, proxy_headers=False) == []
    assert warnings_for("127.0.0.1") == []
    # Both mistakes at once: both are named.
    assert len(warnings_for(everywhere, port=9000)) == 2


@pytest.mark.parametrize(
    ("issuer", "host", "port", "warned"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, False),
        ("http://localhost:8000", "127.0.0.1", 8000, False),
        ("http://127.0.0.1:8000", "0.0.0.0", 8000, False),  # noqa: S104
        ("http://127.0.0.1:8000", "127.0.0.1", 9000, True),
        ("http://127.0.0.1", "127.0.0.1", 8000, True),  # port 80
        ("http://127.0.0.1:8000", "10.0.0.5", 8000, True),
        ("http://10.0.0.5:8000", "127.0.0.1", 8000, True),
        ("http://10.0.0.5:8000", "10.0.0.6", 8000, True),
        ("http://gateway.internal:8000", "10.0.0.6", 8000, False),
        ("https://api.shop.example", "127.0.0.1", 8000, False),  # a TLS proxy in front
    ],
)
def test_an_issuer_that_does_not_point_here_is_warned_about(
    issuer: str, host: str, port: int, warned: bool
) -> None:
    assert (issuer_elsewhere(issuer, host, port) is not None) == warned


def _read_response(conn: socket.socket, buffer: bytearray, *, head_only: bool = False) -> bytes:
    """One whole HTTP/1.1 response from ``conn`` (its head, then Content-Length bytes)."""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed mid-response: {bytes(buffer)!r}"
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = 0 if head_only else int(value)
    while len(buffer) < end + length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed mid-body"
        buffer += chunk
    response = bytes(buffer[: end + length])
    del buffer[: end + length]
    return response


def test_each_response_arrives_whole_and_in_order_on_one_connection(server: str) -> None:
    # The served protocol sends a response's head with its body
    # (gateway/web/protocol.py): pipelined requests, a HEAD (no body to carry its
    # head) and a 100 Continue (which the client waits for) must all still
    # arrive, in order, on a connection that stays usable.
    port = int(server.rsplit(":", 1)[1])
    graphql = b'{"query": "{ __typename }"}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        buffer = bytearray()
        conn.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
            b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        first = _read_response(conn, buffer)
        head = _read_response(conn, buffer, head_only=True)
        missing = _read_response(conn, buffer)
        conn.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(graphql)
        )
        go_on = _read_response(conn, buffer, head_only=True)
        conn.sendall(graphql)
        answer = _read_response(conn, buffer)
    assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b'{"status":"ok"}')
    assert head.startswith(b"HTTP/1.1 200 ")
    assert missing.startswith(b"HTTP/1.1 404 ")
    assert go_on.startswith(b"HTTP/1.1 100 ")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(
        b'{"data":{"__typename":"Query"}}'
    )
