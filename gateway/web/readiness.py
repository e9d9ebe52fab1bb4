"""Whether the gateway may take traffic: the graph's schema checked, the graph warmed up.

At start-up (the app's lifespan) :meth:`Readiness.check_schema` asks Neo4j for
the constraints and indexes the migrations create. A graph lacking some (an
upgrade without ``tightrope graph migrate``) would make every MERGE on those
labels scan the label, miss the graph deadline, trip the cooldown and starve
the access log, so the gateway refuses to start and names what is missing and
the command to run, unless ``graph_migrate_on_start`` (on in dev mode) says to
migrate there and then.

Then a task (:meth:`Readiness.start`) sends the request path's statements once
(graph/warmup.py), so that a Neo4j that has just started plans them before the
first users come. ``/readyz`` says 503 until both are done. When Neo4j is down
at start-up, neither can be done yet: the gateway starts all the same (it
recovers on its own when Neo4j comes back), and the task tries again every
``RETRY_SECONDS``; a schema found incomplete then is logged as an error and
keeps ``/readyz`` at 503 until someone migrates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, LiteralString

from graph import Graph, GraphUnavailable, Neo4jSettings, connect
from graph.schema import migrate, missing_schema
from graph.warmup import warm_up

log = logging.getLogger("tightrope.readiness")

RETRY_SECONDS = 2.0
WARM_UP_SECONDS = 60.0  # the patience of each warm-up statement
# After the pass that plans, passes on the request path's own driver for this
# long: its pool had no connection open when traffic came (each first request
# opened one on a cold server), and Neo4j's JVM compiles what runs often (after
# a cold start a pass took 0.9 s, the eighth 0.4 s, the twentieth 0.35 s;
# 2026-11-30). The soak's first window, with the production deadlines,
# answered 26 of 600 requests UNAVAILABLE after one pass on a driver of its own.
AGAIN_SECONDS = 5.0
POOL_AT_ONCE = 8


class SchemaMissing(RuntimeError):
    """The graph lacks constraints or indexes the gateway needs: it does not start."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            f"the graph lacks {len(missing)} constraints/indexes the gateway needs "
            f"({', '.join(missing)}): run `tightrope graph migrate` against it, then start "
            "the gateway again (or set TIGHTROPE_GRAPH_MIGRATE_ON_START=true)"
        )
        self.missing = tuple(missing)


class Readiness:
    """The schema check and the warm-up of one app, and what /readyz reports of them."""

    def __init__(
        self,
        graph: Graph,
        neo4j: Neo4jSettings,
        pii_key: str,
        *,
        extra: Sequence[LiteralString] = (),
        migrate_on_start: bool = False,
        warm: bool = True,
    ) -> None:
        self.graph = graph
        # The warm-up has a driver of its own, without the request path's
        # deadlines: a cold Neo4j took 7 s to plan one statement (2026-11-30),
        # and a statement given up on mid-planning is planned again next time.
        self.neo4j = replace(
            neo4j, timeout=WARM_UP_SECONDS, deadline=None, write_deadline=None, cooldown=0.0
        )
        self.pii_key = pii_key
        self.extra = tuple(extra)
        self.migrate_on_start = migrate_on_start
        self.schema_checked = False
        self.missing: tuple[str, ...] = ()
        self.warmed = not warm
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.schema_checked and not self.missing and self.warmed

    def report(self) -> dict[str, Any]:
        """What /readyz adds to Neo4j's own state (names only, nothing personal)."""
        schema = "missing" if self.missing else "ok" if self.schema_checked else "unchecked"
        answer: dict[str, Any] = {"schema": schema, "warm": self.warmed}
        if self.missing:
            answer["missing"] = list(self.missing)
            answer["fix"] = "tightrope graph migrate"
        return answer

    async def check_schema(self, *, at_start: bool = True) -> None:
        """Check (or, if allowed, migrate) the schema; at start, refuse a graph lacking some.

        A graph that does not answer is left unchecked (the task tries again).
        """
        try:
            missing = await missing_schema(self.graph, self.extra)
            if missing and self.migrate_on_start:
                log.warning("the graph lacks %s: migrating (graph_migrate_on_start)", missing)
                await migrate(self.graph, self.extra)
                missing = await missing_schema(self.graph, self.extra)
        except GraphUnavailable:
            log.warning("schema check: the graph is unavailable; trying again shortly")
            return
        self.schema_checked = True
        self.missing = tuple(missing)
        if missing:
            if at_start:
                raise SchemaMissing(missing)
            log.error("%s", SchemaMissing(missing))

    def start(self) -> None:
        if not self.ready:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="readiness")

    async def _run(self) -> None:
        while not self.ready:
            if not self.schema_checked or self.missing:
                await self.check_schema(at_start=False)
            if self.schema_checked and not self.missing and not self.warmed:
                try:
                    took = await self._warm_up()
                except GraphUnavailable as exc:
                    log.warning("warm-up: the graph is unavailable (%s); trying again shortly", exc)
                except Exception:
                    # A bug in the warm-up must not keep the gateway out of service.
                    log.exception("warm-up failed; the gateway is ready without it")
                    self.warmed = True
                else:
                    self.warmed = True
                    log.info("warm-up done in %.1fs", took)
            if not self.ready:
                await asyncio.sleep(RETRY_SECONDS)

    async def _warm_up(self) -> float:
        patient = connect(self.neo4j)
        try:
            async with asyncio.timeout(WARM_UP_SECONDS):
                took = await warm_up(patient, self.pii_key)
        except TimeoutError as exc:
            raise GraphUnavailable(f"the warm-up took over {WARM_UP_SECONDS}s") from exc
        finally:
            await patient.close()
        # Planned now: the request path's own deadlines hold.
        until = time.monotonic() + AGAIN_SECONDS
        while True:
            took += await warm_up(self.graph, self.pii_key, at_once=POOL_AT_ONCE)
            if time.monotonic() >= until:
                return took

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
