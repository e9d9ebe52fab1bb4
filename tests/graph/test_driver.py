"""What callers of the graph hear when Neo4j is slow."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, cast

import pytest
from neo4j import AsyncDriver, AsyncManagedTransaction
from neo4j.exceptions import TransientError

from graph import Graph, GraphTimeout, GraphUnavailable, Neo4jSettings, connect

# Far more work than any machine does in the timeout below.
RUNAWAY = "UNWIND range(1, 500000000) AS x WITH x WHERE x % 7 = 0 RETURN count(*) AS n"


async def test_a_query_past_the_timeout_is_stopped_by_neo4j(
    neo4j_settings: Neo4jSettings,
) -> None:
    graph = connect(replace(neo4j_settings, query_timeout=0.3))
    try:
        with pytest.raises(GraphTimeout):
            await graph.read(RUNAWAY)
        # The gateway maps it like any unavailability, and the graph still serves.
        assert issubclass(GraphTimeout, GraphUnavailable)
        assert await graph.read("RETURN 1 AS ok") == [{"ok": 1}]
    finally:
        await graph.close()


async def test_a_write_transaction_past_the_timeout_is_stopped_too(
    neo4j_settings: Neo4jSettings,
) -> None:
    graph = connect(replace(neo4j_settings, query_timeout=0.3))

    async def work(tx: AsyncManagedTransaction) -> None:
        await (await tx.run(RUNAWAY)).consume()

    try:
        with pytest.raises(GraphTimeout):
            await graph.write_tx(work)
    finally:
        await graph.close()


def test_the_password_stays_out_of_reprs(neo4j_settings: Neo4jSettings) -> None:
    assert neo4j_settings.password not in repr(neo4j_settings)


async def test_one_slow_query_does_not_refuse_the_queries_neo4j_still_answers(
    neo4j_settings: Neo4jSettings,
) -> None:
    # A cold start or a heavy page makes one query miss the deadline while the
    # rest are answered: refusing everyone then would turn slow into down.
    graph = connect(replace(neo4j_settings, deadline=0.3, cooldown=30.0, query_timeout=5.0))

    async def meanwhile() -> list[dict[str, int]]:
        await asyncio.sleep(0.1)
        return await graph.read("RETURN 1 AS ok")

    try:
        slow, quick = await asyncio.gather(graph.read(RUNAWAY), meanwhile(), return_exceptions=True)
        assert isinstance(slow, GraphUnavailable) and "no answer within" in str(slow)
        assert quick == [{"ok": 1}]
        assert await graph.read("RETURN 2 AS ok") == [{"ok": 2}]
    finally:
        await graph.close()


async def test_a_deadline_missed_when_nothing_answered_lately_refuses_at_once(
    neo4j_settings: Neo4jSettings,
) -> None:
    # Nothing answered while a query waited out its deadline: Neo4j looks hung, and the next
    # callers hear so at once instead of each waiting out a deadline.
    graph = connect(replace(neo4j_settings, deadline=0.3, cooldown=30.0, query_timeout=5.0))
    try:
        with pytest.raises(GraphUnavailable, match="no answer within"):
            await graph.read(RUNAWAY)
        with pytest.raises(GraphUnavailable, match="did not answer a moment ago"):
            await graph.read("RETURN 1 AS ok")
    finally:
        await graph.close()


async def test_a_read_past_its_deadline_still_runs_to_its_end(
    neo4j_settings: Neo4jSettings,
) -> None:
    # The caller hears UNAVAILABLE at the deadline, but the read is not
    # cancelled: cancelling also threw away the plan a cold Neo4j was making,
    # and one whose planning took longer than the deadline never warmed up.
    graph = connect(replace(neo4j_settings, deadline=0.3, query_timeout=10.0))
    watcher = connect(neo4j_settings)
    marked = RUNAWAY.replace("AS n", "AS deadline_probe")
    try:
        with pytest.raises(GraphUnavailable, match="no answer within"):
            await graph.read(marked)  # type: ignore[arg-type]
        await asyncio.sleep(0.5)
        running = await watcher.read(
            "SHOW TRANSACTIONS YIELD currentQuery "
            "WHERE currentQuery CONTAINS $mark RETURN count(*) AS n",
            {"mark": "AS deadline_probe"},
        )
        assert running == [{"n": 1}]
    finally:
        await graph.close()
        await watcher.close()


async def test_a_write_past_its_deadline_is_cancelled_not_committed_later(
    neo4j_settings: Neo4jSettings,
) -> None:
    # A caller told that a write failed may try it again; had the first try
    # committed after all, a retried refresh would look like a replayed token.
    # Here the write waits on a lock another transaction holds for a while.
    graph = connect(replace(neo4j_settings, write_deadline=0.3, query_timeout=10.0))
    holder = connect(neo4j_settings)
    try:
        # Set up without a deadline: on a Neo4j started moments ago, planning
        # this MERGE alone took longer than the 0.3 s below.
        await holder.write("MERGE (p:DeadlineProbe {id: 1}) SET p.late = null")
        async with holder.driver.session(database=holder.database) as session:
            tx = await session.begin_transaction()
            await (await tx.run("MATCH (p:DeadlineProbe {id: 1}) SET p.held = true")).consume()
            with pytest.raises(GraphUnavailable, match="no answer within"):
                await graph.write("MATCH (p:DeadlineProbe {id: 1}) SET p.late = 'written'")
            await tx.commit()
        await asyncio.sleep(1.0)
        rows = await holder.read("MATCH (p:DeadlineProbe {id: 1}) RETURN p.late AS late")
        assert rows == [{"late": None}]
    finally:
        await holder.write("MATCH (p:DeadlineProbe) DELETE p")
        await holder.close()
        await graph.close()


async def _hold(graph: Graph, probe: int, seconds: float, held: asyncio.Event) -> None:
    """Hold a write lock on one probe node for ``seconds``, from another transaction."""
    async with graph.driver.session(database=graph.database) as session:
        tx = await session.begin_transaction()
        await (await tx.run("MATCH (p:PaceProbe {id: $id}) SET p.held = true", id=probe)).consume()
        held.set()
        await asyncio.sleep(seconds)
        await tx.commit()


async def _write_each_after_its_lock(
    neo4j_settings: Neo4jSettings, releases: list[float], write_deadline: float
) -> tuple[BaseException | None, float, list[dict[str, Any]], bool]:
    """A write transaction setting probe i, whose lock is held until ``releases[i]`` s.

    Each statement then waits on Neo4j for the gap between two releases: what
    the caller heard, how long it took, what the graph holds afterwards, and
    whether the next query on the same graph (with a cooldown) was sent.
    """
    graph = connect(
        replace(neo4j_settings, write_deadline=write_deadline, query_timeout=30.0, cooldown=30.0)
    )
    holder = connect(neo4j_settings)
    probes = list(range(len(releases)))
    try:
        await holder.write("UNWIND $ids AS id MERGE (p:PaceProbe {id: id})", {"ids": probes})
        events = [asyncio.Event() for _ in probes]
        holders = [
            asyncio.create_task(_hold(holder, i, release, events[i]))
            for i, release in enumerate(releases)
        ]
        for event in events:
            await event.wait()

        async def work(tx: AsyncManagedTransaction) -> None:
            for i in probes:
                await (
                    await tx.run("MATCH (p:PaceProbe {id: $id}) SET p.set = true", id=i)
                ).consume()

        began = time.monotonic()
        try:
            await graph.write_tx(work)
            outcome: BaseException | None = None
        except GraphUnavailable as exc:
            outcome = exc
        took = time.monotonic() - began
        try:
            next_sent = await graph.read("RETURN 1 AS ok") == [{"ok": 1}]
        except GraphUnavailable:
            next_sent = False
        await asyncio.gather(*holders)
        rows = await holder.read("MATCH (p:PaceProbe) RETURN p.id AS id, p.set AS set ORDER BY id")
        return outcome, took, rows, next_sent
    finally:
        await holder.write("MATCH (p:PaceProbe) DELETE p")
        await holder.close()
        await graph.close()


async def test_each_statement_of_a_write_transaction_has_the_whole_deadline(
    neo4j_settings: Neo4jSettings,
) -> None:
    # A dozen statements each answered in time may pass one deadline together
    # (an event batch on a Neo4j just started): Neo4j answered all along, so
    # the batch is written, not refused.
    outcome, took, rows, _ = await _write_each_after_its_lock(neo4j_settings, [1.2, 2.5], 2.0)
    assert outcome is None
    assert took > 2.0  # together past one deadline
    assert rows == [{"id": 0, "set": True}, {"id": 1, "set": True}]


async def test_a_write_transaction_is_cut_off_after_three_deadlines_in_all(
    neo4j_settings: Neo4jSettings,
) -> None:
    # Each statement answered within the deadline, but the whole past three of
    # them: the caller hears UNAVAILABLE and nothing was committed. Neo4j
    # answered all along, so that is slow, not hung: no cooldown refuses the
    # next query.
    releases = [0.6 * (i + 1) for i in range(6)]  # the last at 3.6 s
    outcome, took, rows, next_sent = await _write_each_after_its_lock(neo4j_settings, releases, 1.0)
    assert isinstance(outcome, GraphUnavailable)
    assert took < 3.6
    assert all(row["set"] is None for row in rows)
    assert next_sent


async def test_a_pause_shorter_than_two_deadlines_refuses_nobody(
    neo4j_settings: Neo4jSettings,
) -> None:
    # Neo4j answered just before a query that then missed its deadline: a
    # pause (a garbage collection, a busy machine), not a hang.
    graph = connect(replace(neo4j_settings, deadline=0.3, cooldown=30.0, query_timeout=5.0))
    try:
        assert await graph.read("RETURN 1 AS ok") == [{"ok": 1}]
        with pytest.raises(GraphUnavailable, match="no answer within"):
            await graph.read(RUNAWAY)
        assert await graph.read("RETURN 2 AS ok") == [{"ok": 2}]
    finally:
        await graph.close()


PROBES = "UNWIND [1, 2] AS id MERGE (p:DeadlockProbe {id: id}) SET p.by = []"
LOCK_PROBE = "MATCH (p:DeadlockProbe {id: $id}) SET p.by = p.by + [$me]"


class OppositeLocks:
    """Write transactions that lock probes 1 and 2, each in the order it is given.

    Each takes its first lock, then waits until the other holds its own, then
    asks for the other's: two of them given opposite orders deadlock every
    time, and Neo4j breaks that by failing one with ``DeadlockDetected``. A
    retry finds the other gone and does not wait again.
    """

    def __init__(self) -> None:
        self.holding = 0
        self.both = asyncio.Event()

    async def write(self, graph: Graph, first: int, second: int) -> None:
        async def work(tx: AsyncManagedTransaction) -> None:
            await (await tx.run(LOCK_PROBE, id=first, me=first)).consume()
            if not self.both.is_set():
                self.holding += 1
                if self.holding == 2:
                    self.both.set()
                await self.both.wait()
            await (await tx.run(LOCK_PROBE, id=second, me=first)).consume()

        await graph.write_tx(work)


async def test_two_writers_made_to_deadlock_both_commit(neo4j_settings: Neo4jSettings) -> None:
    # As the gateway runs its graph: a write deadline, a cooldown (the deadline
    # roomier than production's second: a shared test machine is slow at times).
    # Neo4j fails one of two deadlocked writers; the caller must not hear of it.
    graph = connect(replace(neo4j_settings, write_deadline=5.0, cooldown=0.5, query_timeout=10.0))
    retried: list[tuple[str, str]] = []
    graph.retry_observer = lambda kind, reason: retried.append((kind, reason))
    holder = connect(neo4j_settings)
    try:
        await holder.write(PROBES)
        await holder.write(LOCK_PROBE, {"id": 0, "me": 0})  # planned before the deadline holds
        locks = OppositeLocks()
        await asyncio.gather(locks.write(graph, 1, 2), locks.write(graph, 2, 1))
        rows = await holder.read("MATCH (p:DeadlockProbe) RETURN p.by AS by ORDER BY p.id")
    finally:
        await holder.write("MATCH (p:DeadlockProbe) DELETE p")
        await holder.close()
        await graph.close()
    assert retried and set(retried) == {("write", "DeadlockDetected")}
    # Each committed once: the failed try left nothing behind.
    assert [sorted(row["by"]) for row in rows] == [[1, 2], [1, 2]]


async def test_a_transient_error_lasting_past_the_deadline_stands_once_no_time_is_left() -> None:
    # The retry policy alone (Neo4j's own deadlocks are the test above): tried
    # again and again while the deadline leaves time for the next pause, never
    # after it, and then the caller hears the error (as UNAVAILABLE).
    graph = Graph(cast(AsyncDriver, None), "neo4j")
    loop = asyncio.get_running_loop()
    ends = loop.time() + 0.3
    tries: list[float] = []

    async def attempt() -> None:
        tries.append(loop.time())
        raise TransientError("try again")

    with pytest.raises(TransientError):
        await graph._retrying("write", attempt, lambda: ends - loop.time())
    assert len(tries) >= 3
    assert tries[-1] < ends
