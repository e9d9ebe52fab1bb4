"""The one async Neo4j driver of a process, and the only place queries are sent.

Everything in graph/ talks to Neo4j through a :class:`Graph`. It owns the driver,
names the database, sends read queries to read transactions (so a cluster serves
them from secondaries) and counts Bolt round trips, which the tests use to hold
the no-N+1 promise.

On a request path nothing may wait on Neo4j for long: a server that is down
refuses connections at once, but one that hangs (stopped, swapping, partitioned)
leaves a query waiting forever on an open socket. A Graph can therefore carry a
*deadline* per query, measured here, after which the caller hears
:class:`GraphUnavailable`; and an *observer*, told the seconds each query took
(the gateway's metrics).

Neo4j's transient errors (a deadlock between two writers, a read that raced a
write) are retried here and nowhere else, after a short random pause, for as
long as the query's deadline leaves time: a shop's frontend should not have to
retry what Neo4j itself calls normal. Write transactions are therefore run as
explicit transactions, never through the driver's managed ones, whose back-off
(a first pause of about a second) is longer than the whole deadline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Concatenate, LiteralString, ParamSpec, TypeVar, cast

from neo4j import (
    READ_ACCESS,
    AsyncDriver,
    AsyncGraphDatabase,
    AsyncManagedTransaction,
    AsyncTransaction,
    NotificationMinimumSeverity,
    Query,
)
from neo4j.exceptions import (
    ClientError,
    ConnectionPoolError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("tightrope.graph")

Params = Mapping[str, Any]

# The most write deadlines one write transaction may take in all, each of its
# statements answered within one (see Graph.write_tx).
TX_DEADLINES = 3
# The pause before retrying after a transient error is drawn at random below a
# bound that starts at RETRY_FIRST and doubles with each retry up to
# RETRY_LONGEST (seconds): two writers that deadlocked do not meet again at
# once, and a one-second deadline leaves room for several tries.
RETRY_FIRST = 0.02
RETRY_LONGEST = 0.25
# Statement texts a Graph remembers having sent (see Graph.statements). Ours are
# module constants, a few hundred at most; the bound is for plugins' own.
MAX_STATEMENTS = 10_000


def record_params(record: Any) -> dict[str, Any]:
    """A dataclass record's fields as a statement's row, timestamps as ISO 8601 text.

    The statement turns them back with Cypher's ``datetime()``: the driver packs
    a Python datetime in pure Python, slower than Neo4j's whole write of it
    (docs/data.md). Records are flat, so no ``asdict``: its deep copy of every
    datetime cost more than the conversion.
    """
    row = {}
    for f in fields(record):
        value = getattr(record, f.name)
        row[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return row


class GraphUnavailable(Exception):
    """Neo4j did not answer in time. The gateway reports it as UNAVAILABLE."""


class GraphTimeout(GraphUnavailable):
    """Neo4j stopped a query that ran past ``Neo4jSettings.query_timeout``."""


class GraphBusy(GraphUnavailable):
    """Every connection of the pool is in use and none came free in time.

    Neo4j answers, but slower than requests arrive (a cold server planning
    its first queries, a burst): the caller is told the graph is unavailable,
    and the cooldown is not started (the server is reachable).
    """


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    user: str
    password: str = field(repr=False)  # never in a traceback or a log line
    database: str = "neo4j"
    # How long one query may wait for a connection and be retried before the
    # caller hears that the graph is unavailable. The gateway keeps this near a
    # second; bulk loads can afford more patience.
    timeout: float = 1.0
    # How long a query without a deadline is retried after Neo4j's transient
    # errors; None means ``timeout``. A query with a deadline is retried while
    # its deadline leaves time (see Graph._retrying).
    retry_time: float | None = None
    # Neo4j itself ends a query that runs longer (seconds; None: no limit), so a
    # runaway read can neither hang a request nor keep working after it.
    query_timeout: float | None = None
    # The longest a caller waits for a read's answer (seconds; None: no limit),
    # and for a write's; past it the caller gets GraphUnavailable.
    deadline: float | None = None
    write_deadline: float | None = None
    # After Neo4j refused a connection or let a deadline pass, queries in the
    # next ``cooldown`` seconds are not sent: their callers hear GraphUnavailable
    # at once (0: off). See :meth:`Graph._bounded`.
    cooldown: float = 0.0
    # Connections the driver keeps open at most (the driver's own default). A
    # query that finds them all busy waits up to ``timeout`` for one, then its
    # caller hears GraphBusy.
    pool_size: int = 100


# Told the kind of each query ("read", "write") and the seconds it took.
QueryObserver = Callable[[str, float], None]
# Told the kind of a query retried after a transient error, and why (the last
# part of Neo4j's code, such as "DeadlockDetected").
RetryObserver = Callable[[str, str], None]


class Graph:
    """An async driver bound to one database. Create one per process."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        query_timeout: float | None = None,
        *,
        deadline: float | None = None,
        write_deadline: float | None = None,
        cooldown: float = 0.0,
        retry_time: float = 0.0,
    ) -> None:
        self.driver = driver
        self.database = database
        self.query_timeout = query_timeout
        self.deadline = deadline
        self.write_deadline = write_deadline
        self.cooldown = cooldown
        self.retry_time = retry_time
        self._quiet_until = 0.0
        # When Neo4j last answered a query: a deadline missed while others were
        # answered means slow (cold caches, a heavy query), not hung.
        self._answered_at = 0.0
        # Reads past their deadline, left to finish (see _within).
        self._unwaited: set[asyncio.Future[Any]] = set()
        self.observer: QueryObserver | None = None
        self.retry_observer: RetryObserver | None = None
        self.round_trips = 0
        # Every statement text sent (up to MAX_STATEMENTS): Neo4j plans each
        # text once, so a test can tell whether the warm-up sent a statement
        # before the first request did (graph/warmup.py).
        self.statements: set[str] = set()
        self._epochs: dict[str, int] = {}
        # When each query in flight began (monotonic), by a ticket of its own:
        # see :meth:`slowest_wait`.
        self._in_flight: dict[int, float] = {}
        self._tickets = 0
        _LIVE.add(self)

    def epoch(self, topic: str) -> int:
        """How many writes of a kind (say, revocations) this process made through this Graph.

        Caches elsewhere in the process remember the epoch they read under and
        drop what they hold when it moved, so such a write bites on this
        process's very next request. Other processes' writes are not counted:
        a cache bounds its age for those.
        """
        return self._epochs.get(topic, 0)

    def advance(self, topic: str) -> None:
        """Count one more write of ``topic`` (after it was made)."""
        self._epochs[topic] = self.epoch(topic) + 1

    def patient(self, deadline: float | None) -> Graph:
        """A Graph on this one's driver for work off the request path: its own deadline.

        The access log's writer runs beside the requests, not in them: held to
        the request path's one second, a batch of hundreds of records on a busy
        Neo4j was cut off again and again while the records piled up. It has no
        cooldown either, so its slowness never refuses a request. (Not to be
        closed: the driver is the app's.)
        """
        graph = Graph(
            self.driver,
            self.database,
            self.query_timeout,
            deadline=deadline,
            write_deadline=deadline,
            retry_time=self.retry_time,
        )
        graph.retry_observer = self.retry_observer
        return graph

    def granted(self, categories: frozenset[str], what: str) -> Graph:
        """The graph a repository function marked with :func:`reads` runs its queries on.

        This one serves every category (the host's own graph). The host hands
        plugins a narrower subclass that refuses the categories the plugin did
        not declare (gateway/host/plugin_graph.py).
        """
        return self

    async def read(
        self, query: LiteralString, params: Params | None = None
    ) -> list[dict[str, Any]]:
        """Run a read query and return its records as dicts.

        Reads run as auto-commit transactions in a read session: one Bolt
        exchange (RUN and PULL pipelined) where a managed transaction needs a
        second for COMMIT, and about 40 % less driver CPU per query (measured
        in docs/performance.md). A cluster still routes them to readers. A read
        changes nothing, so it is safe to repeat: Neo4j's transient errors
        (``Neo.TransientError.Transaction.Outdated``, a read that raced a
        write) are retried like a write's.
        """
        self.round_trips += 1
        self._sent(query)

        async def once() -> list[dict[str, Any]]:
            async with self.driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                result = await session.run(
                    Query(query, timeout=self.query_timeout), dict(params or {})
                )
                return [record.data() async for record in result]

        return await self._bounded("read", self.deadline, once, _head(query))

    async def write(
        self, query: LiteralString, params: Params | None = None
    ) -> list[dict[str, Any]]:
        """Run a write query in its own transaction and return its records as dicts."""

        async def one(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
            return [record.data() async for record in await tx.run(query, dict(params or {}))]

        one.__qualname__ = _head(query)  # what a log line names (see _bounded)
        return await self.write_tx(one)

    async def write_tx(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction (it may be retried: keep it idempotent).

        ``work`` is run again, in a new transaction, after Neo4j's transient
        errors (a deadlock), as a managed transaction's would be: it must only
        send statements and compute, and it gets the transaction typed as a
        managed one (it may not commit or roll back itself).

        The write deadline is for Neo4j's answer to one statement: it starts
        again as each statement of ``work`` is sent and for the commit, and the
        transaction as a whole gets at most ``TX_DEADLINES`` of them. A batch of
        events is a dozen statements; on a Neo4j still compiling its code after
        a start, each answered within a few hundred milliseconds while together
        they passed one deadline, and the batch was refused although Neo4j
        never stopped answering (docs/performance.md, the soak). A statement
        not answered within the deadline still cuts the transaction off.
        """
        self.round_trips += 1
        pacer = _Pacer(self._answered)

        async def run() -> T:
            async with self.driver.session(database=self.database) as session:
                pacer.sent(answered=False)
                tx = await session.begin_transaction(timeout=self.query_timeout)
                async with tx:  # committed if work returns, rolled back if it raises
                    watched = _PacedTransaction(tx, pacer, self._sent)
                    answer = await work(cast(AsyncManagedTransaction, watched))
                    pacer.sent(answered=watched.ran)  # the commit
                return answer

        return await self._bounded(
            "write",
            self.write_deadline,
            run,
            getattr(work, "__qualname__", "a transaction"),
            pacer=pacer,
        )

    def _sent(self, query: str) -> None:
        if len(self.statements) < MAX_STATEMENTS:
            self.statements.add(query)

    async def _bounded(
        self,
        kind: str,
        deadline: float | None,
        work: Callable[[], Awaitable[T]],
        what: str,
        *,
        pacer: _Pacer | None = None,
    ) -> T:
        """``work()``'s answer: the driver's errors translated, the deadline kept, the time told.

        With a cooldown: once Neo4j is found down (a refused connection) or hung
        (a deadline passed and nothing was answered for two deadlines),
        nothing is sent to it for ``cooldown`` seconds. A
        request that needs several queries then answers UNAVAILABLE within
        about one deadline rather than one per query, /readyz says 503 at once,
        and a struggling server is not handed more work. The first query after
        the cooldown tries again: recovery needs nobody.
        """
        if self.cooldown and time.monotonic() < self._quiet_until:
            raise GraphUnavailable("the graph did not answer a moment ago")
        began, sent = time.perf_counter(), time.monotonic()
        self._tickets += 1
        ticket = self._tickets
        self._in_flight[ticket] = sent
        loop = asyncio.get_running_loop()
        try:
            with _graph_errors(self.query_timeout):
                if deadline is None:
                    ends = loop.time() + self.retry_time
                    answer = await self._retrying(kind, work, lambda: ends - loop.time())
                elif pacer is not None:  # a write transaction: the pacer moves its deadline
                    answer = await self._cut_off(
                        deadline, lambda: self._retrying(kind, work, pacer.left), pacer
                    )
                else:
                    ends = loop.time() + deadline
                    answer = await self._within(
                        deadline, lambda: self._retrying(kind, work, lambda: ends - loop.time())
                    )
        except GraphUnavailable as exc:
            # Which statement, never its parameters: what an operator needs to
            # tell a slow query from an outage.
            log.warning(
                "graph %s unavailable after %.2fs (%s): %s",
                kind,
                time.perf_counter() - began,
                exc,
                what,
            )
            if self.cooldown and self._looks_down(exc, sent, deadline):
                self._quiet_until = time.monotonic() + self.cooldown
            raise
        else:
            self._answered()
            return answer
        finally:
            del self._in_flight[ticket]
            if self.observer is not None:
                self.observer(kind, time.perf_counter() - began)

    async def _retrying(
        self, kind: str, attempt: Callable[[], Awaitable[T]], left: Callable[[], float]
    ) -> T:
        """``attempt()``'s answer, tried again after Neo4j's transient errors while time is left.

        ``left()`` is the time the query's deadline still leaves. Each pause is
        drawn at random (full jitter) below a bound that doubles from
        ``RETRY_FIRST`` to ``RETRY_LONGEST``; when the pause would take the
        rest of the deadline, the error stands and the caller hears
        UNAVAILABLE. Only :class:`TransientError` is retried: a refused
        connection or a hung server is the cooldown's business (see
        :meth:`_bounded`), and a timeout stopped by Neo4j would only run again.
        """
        bound = RETRY_FIRST
        while True:
            try:
                return await attempt()
            except TransientError as exc:
                pause = random.uniform(0.0, bound)  # noqa: S311 - jitter, not a secret
                if pause >= left():
                    raise
                self.round_trips += 1
                if self.retry_observer is not None:
                    self.retry_observer(kind, _reason(exc))
                log.debug("graph %s retried after %s", kind, exc.code)
                await asyncio.sleep(pause)
                bound = min(2 * bound, RETRY_LONGEST)

    async def _cut_off(
        self, deadline: float, work: Callable[[], Awaitable[T]], pacer: _Pacer | None = None
    ) -> T:
        """A write's answer within ``deadline``, else GraphUnavailable, the write cancelled.

        A write is not left to finish as a read is: the caller was told it
        failed and may well try again (a client retrying with the refresh token
        it still holds would then look like a thief replaying a spent one).
        The warm-up plans the request path's writes before traffic comes
        (graph/warmup.py). A transaction's ``pacer`` moves the deadline on as
        its statements are answered.
        """
        try:
            async with asyncio.timeout(deadline) as timer:
                if pacer is not None:
                    pacer.start(timer, deadline)
                return await work()
        except TimeoutError as exc:
            raise GraphUnavailable(f"no answer within {deadline}s") from exc

    async def _within(self, deadline: float, work: Callable[[], Awaitable[T]]) -> T:
        """A read's answer if it comes within ``deadline``; else GraphUnavailable.

        The caller stops waiting, but the read is not cancelled: it runs to its
        end (Neo4j stops it at ``query_timeout``) and its answer is dropped.
        Cancelling it would also throw away the plan Neo4j was making, so a
        cold server whose planning takes longer than the deadline (seconds, on
        a busy machine) would never warm up: every try cut off, every request
        UNAVAILABLE, for good. A read changes nothing, so finishing it is safe.
        """
        task = asyncio.ensure_future(work())
        try:
            async with asyncio.timeout(deadline):
                return await asyncio.shield(task)
        except TimeoutError as exc:
            self._let_finish(task)
            raise GraphUnavailable(f"no answer within {deadline}s") from exc
        except asyncio.CancelledError:
            self._let_finish(task)  # the caller gave up (a budget, a disconnect)
            raise

    def _let_finish(self, task: asyncio.Future[Any]) -> None:
        self._unwaited.add(task)
        task.add_done_callback(self._dropped)

    def _dropped(self, task: asyncio.Future[Any]) -> None:
        self._unwaited.discard(task)
        if not task.cancelled():
            task.exception()  # nobody waits for it: not an error to report

    def _answered(self) -> None:
        self._answered_at = time.monotonic()

    def _looks_down(self, exc: GraphUnavailable, sent: float, deadline: float | None) -> bool:
        if not _unreachable(exc):
            return False
        if isinstance(exc.__cause__, TimeoutError) and deadline is not None:
            # One slow query while others are answered (a cold start, a heavy
            # page), or a pause of a second (a garbage collection, a busy
            # machine), must not refuse everyone: hung means nothing was
            # answered for two deadlines.
            return self._answered_at < sent - deadline
        return True

    def slowest_wait(self) -> float:
        """Seconds the oldest query now in flight has waited for Neo4j (0: none in flight).

        A plugin whose time budget ran out while this is long was kept waiting
        by the graph, not by its own code: the gateway then answers UNAVAILABLE,
        not INTERNAL (gateway/host/isolation.py). Read only when a budget runs out.
        """
        if not self._in_flight:
            return 0.0
        return time.monotonic() - min(self._in_flight.values())

    async def ping(self) -> bool:
        """True if Neo4j answers a trivial query."""
        try:
            await self.read("RETURN 1 AS ok")
        except GraphUnavailable:
            return False
        return True

    async def close(self) -> None:
        for task in list(self._unwaited):
            task.cancel()
        await self.driver.close()


def reads(
    *categories: str,
) -> Callable[
    [Callable[Concatenate[Graph, P], Awaitable[T]]], Callable[Concatenate[Graph, P], Awaitable[T]]
]:
    """Mark a repository function with the data categories of what it reads or writes.

    Categories are the words of docs/design.md (``purchase_history``, ...); none
    for catalogue and aggregates. The function then runs on
    ``graph.granted(categories, name)``: the host's graph is itself, a plugin's
    graph checks the categories against the plugin's manifest first. A test
    holds every exported repository function to carrying the mark.
    """
    needed = frozenset(categories)

    def mark(
        function: Callable[Concatenate[Graph, P], Awaitable[T]],
    ) -> Callable[Concatenate[Graph, P], Awaitable[T]]:
        what = function.__name__

        @functools.wraps(function)
        async def checked(graph: Graph, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return await function(graph.granted(needed, what), *args, **kwargs)

        checked.categories = needed  # type: ignore[attr-defined]
        return checked

    return mark


# Every Graph of the process (one, outside tests), for :func:`slowest_graph_wait`.
_LIVE: weakref.WeakSet[Graph] = weakref.WeakSet()


def slowest_graph_wait() -> float:
    """Seconds the oldest query in flight on any Graph of this process has waited (0: none)."""
    return max((graph.slowest_wait() for graph in list(_LIVE)), default=0.0)


def _unreachable(exc: GraphUnavailable) -> bool:
    """Neo4j is down or hung, not merely asking for a retry or stopping a long query."""
    return not isinstance(exc, GraphTimeout | GraphBusy) and not isinstance(
        exc.__cause__, TransientError
    )


class _Pacer:
    """A write transaction's deadline, started again as each of its statements is sent.

    A statement is sent once the one before it was answered, so each send also
    tells the graph that Neo4j answers (``answered``): a transaction cut off
    after three deadlines of answers is slow, not hung, and starts no cooldown.
    """

    def __init__(self, answered: Callable[[], None]) -> None:
        self._answered = answered
        self._timer: asyncio.Timeout | None = None  # None: no deadline to keep
        self._deadline = 0.0
        self._last = 0.0  # the loop time past which no statement's deadline reaches

    def start(self, timer: asyncio.Timeout, deadline: float) -> None:
        self._timer, self._deadline = timer, deadline
        self._last = asyncio.get_running_loop().time() + TX_DEADLINES * deadline

    def sent(self, *, answered: bool = True) -> None:
        if answered:
            self._answered()
        if self._timer is not None:
            now = asyncio.get_running_loop().time()
            self._timer.reschedule(min(now + self._deadline, self._last))

    def left(self) -> float:
        """Seconds until the deadline now set (a retry's pause must end before it)."""
        if self._timer is None:
            return float("inf")
        when = self._timer.when()
        return float("inf") if when is None else when - asyncio.get_running_loop().time()


class _PacedTransaction:
    """A transaction whose every statement restarts the write deadline (see write_tx)."""

    def __init__(self, tx: AsyncTransaction, pacer: _Pacer, sent: Callable[[str], None]) -> None:
        self._tx = tx
        self._pacer = pacer
        self._note = sent
        self.ran = False  # whether a statement was sent (and so, later, answered)

    async def run(self, query: Any, parameters: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self._pacer.sent(answered=self.ran)
        self.ran = True
        self._note(query.text if isinstance(query, Query) else str(query))
        return await self._tx.run(query, parameters, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


def _reason(exc: TransientError) -> str:
    """A transient error's kind for a metric label: the last part of Neo4j's code."""
    code = exc.code or ""
    return code.rsplit(".", 1)[-1] if code.startswith("Neo.TransientError.") else "other"


def _head(query: str) -> str:
    """A statement's first words, for a log line (the text is ours; parameters never logged)."""
    return " ".join(query.split())[:80]


@contextmanager
def _graph_errors(query_timeout: float | None) -> Iterator[None]:
    """The driver's errors in the two words callers act on: unavailable, timed out."""
    try:
        yield
    except ConnectionPoolError as exc:
        # No connection came free within the acquisition timeout: an outage for
        # this request, like the others (a driver error, not ServiceUnavailable).
        raise GraphBusy("no connection to the graph came free in time") from exc
    except (ServiceUnavailable, SessionExpired, OSError) as exc:
        raise GraphUnavailable(str(exc)) from exc
    except TransientError as exc:
        # Neo4j's "try again" (a lock, a race, a leader change), still so when the
        # deadline left no time for another try (Graph._retrying): so is the client told.
        raise GraphUnavailable(exc.code or "transient error") from exc
    except ClientError as exc:
        # Neo4j reports its own transaction timeout as a client error.
        if "TransactionTimedOut" in (exc.code or ""):
            raise GraphTimeout(f"query stopped after {query_timeout}s") from exc
        raise


def connect(settings: Neo4jSettings) -> Graph:
    """Create the process's driver. Connections open lazily; see :meth:`Graph.ping`."""
    driver = AsyncGraphDatabase.driver(
        settings.uri,
        auth=(settings.user, settings.password),
        connection_timeout=settings.timeout,
        connection_acquisition_timeout=settings.timeout,
        max_connection_pool_size=settings.pool_size,
        # Graph retries on its own (Graph._retrying); this is for code that runs
        # the driver's managed transactions itself (benches, tests).
        max_transaction_retry_time=(
            settings.timeout if settings.retry_time is None else settings.retry_time
        ),
        # Neo4j's notifications are advice for a person writing a query ("this
        # property key does not exist yet"): on a fresh graph they came back with
        # every request and were logged as warnings, costing CPU and flooding logs.
        notifications_min_severity=NotificationMinimumSeverity.OFF,
    )
    return Graph(
        driver,
        settings.database,
        settings.query_timeout,
        deadline=settings.deadline,
        write_deadline=settings.write_deadline,
        cooldown=settings.cooldown,
        retry_time=settings.timeout if settings.retry_time is None else settings.retry_time,
    )
