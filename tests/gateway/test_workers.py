"""`tightrope serve --workers N`: every worker takes connections, and a dead one is replaced."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.gateway.test_serve import serving


def children(pid: int) -> set[int]:
    """The worker processes of the server ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            if parent == pid and b"spawn_main" in command:
                found.add(int(entry.name))
    return found


def socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the sockets on local ``port`` in ``state`` (01 established, 0A listening)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def listening(pids: set[int], port: int) -> bool:
    """Whether every one of ``pids`` has bound its own socket on ``port`` yet."""
    inodes = socket_inodes(port, "0A")
    return len(pids) > 0 and all(sockets_of(pid, inodes) for pid in pids)


def sockets_of(pid: int, inodes: set[str]) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


def wait_for(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.1)


def keep_alive_connections(port: int, count: int) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert b"200 OK" in conn.recv(4096)
        opened.append(conn)
    return opened


def test_connections_opened_at_once_are_spread_over_the_workers() -> None:
    with serving("--workers", "2", TIGHTROPE_DEV_MODE="true") as served:
        port = int(served.url.rsplit(":", 1)[1])
        workers: set[int] = set()
        wait_for(lambda: len(workers.update(children(served.process.pid)) or workers) == 2)
        wait_for(lambda: listening(workers, port))
        opened = keep_alive_connections(port, 16)
        try:
            inodes = socket_inodes(port, "01")
            per_worker = [sockets_of(pid, inodes) for pid in sorted(workers)]
        finally:
            for conn in opened:
                conn.close()
        log = served.stop()
    assert sum(per_worker) == 16, log
    # The kernel hashes connections over the workers' sockets: both get some
    # (all 16 on one would happen about once in 30,000 runs).
    assert min(per_worker) > 0, per_worker


def test_a_worker_that_dies_is_replaced() -> None:
    with serving("--workers", "2", TIGHTROPE_DEV_MODE="true") as served:
        port = int(served.url.rsplit(":", 1)[1])
        wait_for(lambda: len(children(served.process.pid)) == 2)
        time.sleep(5.5)  # the supervisor leaves alone a worker that dies at start
        first = sorted(children(served.process.pid))
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: (now := children(served.process.pid)) != set(first) and len(now) == 2)
        answered = keep_alive_connections(port, 4)
        for conn in answered:
            conn.close()
        served.stop()
    assert served.process.returncode is not None
    assert not children(served.process.pid)
