"""`tightrope serve`: a real uvicorn process answering over a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "TIGHTROPE_DEV_MODE": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # waiting for start-up, not timing it
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_serve_answers_graphql_over_a_socket(demo_graph: Graph, server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        ready = await client.get("/readyz")
        body = (
            await client.post("/graphql", json={"query": '{ product(sku: "sku-002") { name } }'})
        ).json()
        ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert ready.json()["ready"] is True
    assert body == {"data": {"product": {"name": "Trail Runner 2"}}}
    assert "graphiql" not in ide.text.lower()  # dev mode is off
