"""The access log's buffer: records wait in memory and are written in batches.

A request only appends its records to a list (no graph write on its path). A
task of the app writes them every ``access_log_flush_seconds``, or as soon as
``access_log_batch`` records wait, in batches of that size; the app's shutdown
stops the task and writes what is left. What a crash costs: the records that
waited, at most about one flush interval's worth. While the graph is down
records keep waiting (a failed batch is written again later: records are
merged on their id, so nothing is stored twice); beyond
``access_log_max_pending`` the oldest are dropped, the log says how many and
the metric ``tightrope_access_log_dropped_total`` counts them.

Records of reads of personal data are part of what a customer has a right to
see, so the shutdown does not give up after one failed write: it tries again
until ``access_log_shutdown_seconds`` have passed (Neo4j restarting beside the
gateway comes back within them), and only what still waits then is lost,
logged at ERROR as a count (never the records themselves).

The same buffer writes the lists recommendations served (gateway/insights/
recorder.py), with its own write function and name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from graph import Graph, GraphUnavailable, write_access_records

log = logging.getLogger("tightrope.access_log")

# Between two tries of the shutdown's last writes (the graph's cooldown is 0.5 s).
RETRY_SECONDS = 0.5


# How a buffer's batch is written: the graph and the batch, in order.
WriteBatch = Callable[[Graph, Sequence[Any]], Awaitable[Any]]


class AccessLog:
    def __init__(
        self,
        graph: Graph,
        *,
        interval: float = 1.0,
        batch: int = 500,
        max_pending: int = 100_000,
        shutdown_seconds: float = 10.0,
        write: WriteBatch = write_access_records,
        what: str = "access log",
    ) -> None:
        self.graph = graph
        self.write = write
        # In the log's messages: what is buffered, and its records' name.
        self.what = what
        self.interval = interval
        self.batch = batch
        self.max_pending = max_pending
        self.shutdown_seconds = shutdown_seconds
        self.dropped = 0
        self._pending: list[Any] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, records: Iterable[Any]) -> None:
        """Keep records for the next flush (called on the request path: no I/O)."""
        self._pending.extend(records)
        excess = len(self._pending) - self.max_pending
        if excess > 0:
            del self._pending[:excess]
            self.dropped += excess
            log.error("%s: %d records dropped (the graph is not taking them)", self.what, excess)
        if len(self._pending) >= self.batch:
            self._wake.set()

    def start(self) -> None:
        name = self.what.replace(" ", "-")
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("%s: a flush failed; its records wait for the next", self.what)

    async def flush(self) -> int:
        """Write what waits, in batches; return how many were written.

        A batch the graph does not take stays first in line for the next flush.
        """
        written = 0
        async with self._lock:
            while self._pending:
                batch = self._pending[: self.batch]
                try:
                    await self.write(self.graph, batch)
                except GraphUnavailable:
                    log.warning("%s: graph unavailable, %d records wait", self.what, self.pending)
                    break
                # Only now: a batch that failed (or was cancelled) is written again.
                del self._pending[: len(batch)]
                written += len(batch)
        return written

    async def close(self) -> None:
        """Stop the task and write everything that waits (the app's clean shutdown).

        While the graph refuses, the writes are tried again (every
        ``RETRY_SECONDS``) until ``shutdown_seconds`` have passed.
        """
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        give_up = time.monotonic() + self.shutdown_seconds
        while True:
            try:
                await self.flush()
            except Exception:
                log.exception("%s: a flush at shutdown failed", self.what)
            left = give_up - time.monotonic()
            if not self._pending or left <= 0:
                break
            await asyncio.sleep(min(RETRY_SECONDS, left))
        if self._pending:
            self.dropped += len(self._pending)
            log.error(
                "%s: %d records could not be written within %ss of shutdown",
                self.what,
                self.pending,
                self.shutdown_seconds,
            )
            self._pending.clear()


def hand_over_reads(request_context: object) -> None:
    """At the end of an operation, give the request's allowed reads to the access log."""
    gate = getattr(request_context, "gate", None)
    if gate is not None:
        gate.finish()
