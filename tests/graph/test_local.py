"""The local Neo4j manager: what a developer sees when something is missing or wrong."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from graph.local import LocalNeo4jError, LocalServer


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def only_java_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = shutil.which("java")
    assert java is not None
    (bin_dir / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(bin_dir))
    yield bin_dir


def test_start_again_reuses_the_running_server() -> None:
    server = LocalServer(port=int(os.environ["TIGHTROPE_NEO4J_PORT"]))
    pid = server.pid()
    assert pid is not None, "make test starts the test server first"
    conn = server.start()
    assert server.pid() == pid
    assert conn.uri == server.uri


def test_port_taken_by_another_process_is_named(tmp_path: Path, free_port: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port))
        sock.listen()
        with pytest.raises(LocalNeo4jError, match=f"port {free_port} is already in use"):
            LocalServer(port=free_port, root=tmp_path).start()


def test_missing_java_is_named(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalNeo4jError, match="`java` was not found"):
        LocalServer(port=free_port, root=tmp_path).start()


def test_missing_maven_is_named(tmp_path: Path, free_port: int, only_java_on_path: Path) -> None:
    with pytest.raises(LocalNeo4jError, match="`mvn` was not found"):
        LocalServer(port=free_port, root=tmp_path).start()


def test_a_server_that_dies_shows_its_log(tmp_path: Path, free_port: int) -> None:
    # A server set up before, then started with an impossible heap: the JVM exits at
    # once, and the error must carry its words.
    server = LocalServer(port=free_port, root=tmp_path, heap="not-a-size")
    (server.home / "data" / "dbms").mkdir(parents=True)
    (server.home / "password").write_text("unused")
    with pytest.raises(LocalNeo4jError) as failure:
        server.start(timeout=60)
    message = str(failure.value)
    assert "exited with status" in message
    assert "Invalid" in message and "heap" in message
    assert server.pid() is None


def test_status_of_a_stopped_server_exits_3(free_port: int) -> None:
    result = CliRunner().invoke(cli, ["neo4j", "status", "--port", str(free_port)])
    assert result.exit_code == 3
    assert "not running" in result.output
