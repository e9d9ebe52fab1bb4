"""Linking off the request path: stored events wait in a queue that one task drains.

``trackEvents`` stores its events (that is the request's work and its answer)
and then hands them here with :meth:`LinkQueue.submit`, which returns at once
unless the queue is full (then it waits for room: under overload a request
slows down rather than lose its events' linking). One background task per app
takes what is waiting, several batches at a time, and asks the
:class:`~gateway.linking.runner.LinkingService` to link them.

What a failure costs:

* the events themselves never: they were stored before the hand-off;
* a batch whose linking fails because Neo4j is unavailable is tried again,
  three times over about six seconds, then logged and dropped; any other
  error is logged and the batch dropped: its links are made by the next
  evidence (the next sign-in on the device, the next visit on the network);
* on shutdown the queue is drained (for at most ``flush_seconds``) before the
  graph closes; a crash loses what was still queued (at most
  ``linking_queue_size`` batches), with the same consequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.linking.types import Arrival, LinkReport
from graph import GraphUnavailable

if TYPE_CHECKING:
    from gateway.linking.runner import LinkingService
    from graph import Graph

log = logging.getLogger("tightrope.linking")

# Batches linked in one call when several are waiting: fewer, larger decisions.
COALESCE = 20
RETRY_DELAYS = (0.2, 1.0, 5.0)


@dataclass(frozen=True, slots=True)
class Job:
    arrivals: tuple[Arrival, ...]
    as_customer: str | None


class LinkQueue:
    """One app's linking queue and the task that drains it."""

    def __init__(
        self, service: LinkingService, graph: Graph, size: int, flush_seconds: float = 10.0
    ) -> None:
        self.service = service
        self.graph = graph
        self.flush_seconds = flush_seconds
        self._queue: asyncio.Queue[Job] = asyncio.Queue(size)
        self._worker: asyncio.Task[None] | None = None
        # For /metrics (gateway/web/metrics.py) and tests: how many proposals the
        # background task linked, refused..., by verdict, how many times a
        # linker failed on a batch, and how many batches were given up. Counts
        # only: the queue lives as long as the process, and a batch's outcomes
        # name customers (who may since have been erased).
        self.verdicts: Counter[str] = Counter()
        self.linker_failures = 0
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Batches queued and not yet taken by the task."""
        return self._queue.qsize()

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="tightrope-linking")

    async def submit(self, arrivals: Sequence[Arrival], as_customer: str | None = None) -> None:
        """Queue stored events for linking; only events that can link anything are kept."""
        evidence = tuple(arrivals) if any(a.is_evidence for a in arrivals) else ()
        if not evidence or not self.service.linkers:
            return
        await self._queue.put(Job(evidence, as_customer))

    async def drain(self) -> None:
        """Wait until everything queued so far is linked (or given up)."""
        await self._queue.join()

    async def close(self) -> None:
        """Drain for at most ``flush_seconds``, then stop the task."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), self.flush_seconds)
        except TimeoutError:
            log.warning("shutting down with %d batches not linked yet", self._queue.qsize())
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    async def _run(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < COALESCE and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            try:
                by_sender: dict[str | None, list[Arrival]] = {}
                for job in jobs:
                    by_sender.setdefault(job.as_customer, []).extend(job.arrivals)
                for as_customer, arrivals in by_sender.items():
                    await self._link(arrivals, as_customer)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _link(self, arrivals: list[Arrival], as_customer: str | None) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                self._count(await self.service.link(self.graph, arrivals, as_customer))
                return
            except GraphUnavailable as exc:
                if delay is None:
                    log.error(
                        "linking %d events gave up: Neo4j unavailable (%s)", len(arrivals), exc
                    )
                    break
                log.warning("linking will be tried again (attempt %d): %s", attempt + 1, exc)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("linking %d events failed", len(arrivals))
                break
        self.dropped += 1

    def _count(self, report: LinkReport) -> None:
        self.verdicts.update(outcome.verdict.value for outcome in report.outcomes)
        self.linker_failures += len(report.failures)
