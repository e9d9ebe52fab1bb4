"""Several worker processes on one port, with the connections spread between them.

uvicorn's own ``--workers`` binds one socket in the parent and hands it to every
worker: the worker whose event loop wakes first accepts a whole burst of new
connections, and keep-alive connections stay where they landed (measured: with
16 connections opened at once, one worker at 90 % of a core and the other
idle). Here every worker binds its own socket with ``SO_REUSEPORT`` and the
kernel spreads new connections across them by a hash of the address pair. The
parent only starts the workers, restarts one that dies, and passes a stop
signal on.

Linux (and the BSDs) let only processes of the same user join a port this way.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("tightrope.workers")

# A worker that dies within this many seconds of its start is not restarted
# (a broken setting or plugin would otherwise restart forever).
MIN_LIFETIME = 5.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other processes of this user may bind too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket on the shared port, its own app."""
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config("gateway.app:app_from_environment", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(count: int, host: str, port: int, options: dict[str, Any]) -> None:
    """Run ``count`` workers until SIGINT or SIGTERM; ``options`` go to ``uvicorn.Config``."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(host, port, options), daemon=False)
        process.start()
        return process, time.monotonic()

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = [start() for _ in range(count)]
    try:
        while not stopping:
            time.sleep(0.5)
            for index, (process, started) in enumerate(workers):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < MIN_LIFETIME:
                    log.error(
                        "worker %s exited at start (code %s); stopping",
                        process.pid,
                        process.exitcode,
                    )
                    stopping = True
                    break
                log.warning(
                    "worker %s exited (code %s); starting another", process.pid, process.exitcode
                )
                workers[index] = start()
    finally:
        for process, _ in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process, _ in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
