"""Batched reads that share one Bolt exchange: a request's reads of one moment, in one statement.

Every Bolt exchange costs the gateway about a millisecond of CPU and the
request a round trip (docs/performance.md). A request's DataLoaders dispatch
together when their keys are known together (a customer and the purchases
that the same request asks of them), and each used to send its own
statement. A batched read written as a :class:`Part` can instead share one:
within :func:`together`, the parts of a :class:`Shared` set read in one turn
of the event loop go to Neo4j as a single statement, each part a branch of a
``UNION ALL`` subquery, and each caller gets its own part's rows back. The
statement is the same whichever parts are read (a part not read is given no
keys), so Neo4j plans it once, at the warm-up, never on a request's time. Outside it (or
alone in its turn) a part runs as its own statement, as before. A shared
statement that Neo4j refuses for one part's sake is sent again as one
statement per part, so an error stays the read's that caused it, as when
each ran alone; Neo4j unavailable fails every read in it, as it would each.

A part's ``body`` is Cypher that reads its keys from the variable ``keys``
and ends with ``WITH ... AS row``: one map per row. The statements here are
made only by joining such constants with the constants below (no text from
outside), as graph/'s other statements are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, LiteralString

from graph.driver import Graph, GraphUnavailable

# At most this many parts share one statement.
MOST_PARTS = 8
_KEYS: tuple[LiteralString, ...] = (
    "WITH $k0 AS keys",
    "WITH $k1 AS keys",
    "WITH $k2 AS keys",
    "WITH $k3 AS keys",
    "WITH $k4 AS keys",
    "WITH $k5 AS keys",
    "WITH $k6 AS keys",
    "WITH $k7 AS keys",
)
_RETURNS: tuple[LiteralString, ...] = (
    "RETURN 0 AS part, row",
    "RETURN 1 AS part, row",
    "RETURN 2 AS part, row",
    "RETURN 3 AS part, row",
    "RETURN 4 AS part, row",
    "RETURN 5 AS part, row",
    "RETURN 6 AS part, row",
    "RETURN 7 AS part, row",
)
_PARAMS = tuple(f"k{i}" for i in range(MOST_PARTS))


# Neo4j keeps a plan per statement text *and* the types of its parameters: an
# empty list is not typed as a list of strings or of maps, so a part not read
# is given one key of its own kind that matches nothing (no id starts with
# NUL), and every request sends the types the warm-up planned for. With empty
# lists, each combination of parts read was planned anew on a user's time (a
# soak on a freshly started Neo4j, 2026-12-08: 245 of its first 1,500
# requests UNAVAILABLE, none once every combination had been planned).
NOTHING: Final = "\x00"


@dataclass(frozen=True)
class Part:
    """A batched read that can run alone or beside others (see the module).

    ``nothing``: a key of the part's kind that matches nothing, sent for it when
    it is not read (a string by default; a map for parts keyed by maps).
    """

    name: str
    body: LiteralString
    nothing: Any = field(default=NOTHING, hash=False, compare=False)

    @property
    def alone(self) -> LiteralString:
        """The part as a statement of its own: its keys are ``$keys``."""
        return "WITH $keys AS keys\n" + self.body + "\nRETURN row"


class Shared:
    """The parts that may share a statement, and the one statement they share.

    Every part is a branch of it, always: a part not read in a moment is given
    no keys (its branch yields nothing). So there is one text for Neo4j to
    plan, which the warm-up sends before users come (graph/warmup.py), not
    one per combination of parts.
    """

    def __init__(self, parts: Sequence[Part]) -> None:
        if not 1 < len(parts) <= MOST_PARTS:
            raise ValueError(f"a shared statement joins 2 to {MOST_PARTS} parts")
        if len({part.name for part in parts}) != len(parts):
            raise ValueError("each part of a shared statement once")
        self.parts = tuple(parts)
        self._index = {part: i for i, part in enumerate(self.parts)}
        self.statement = statement(self.parts)

    def index(self, part: Part) -> int | None:
        return self._index.get(part)

    def params(self, keys: dict[int, list[Any]]) -> dict[str, list[Any]]:
        """The statement's parameters: each part's keys; for a part not read, its
        key that matches nothing (of the same type: see ``NOTHING``)."""
        return {_PARAMS[i]: keys.get(i) or [part.nothing] for i, part in enumerate(self.parts)}


def statement(parts: Sequence[Part]) -> LiteralString:
    """One statement answering every part: ``part`` (its index) and ``row`` per row."""
    text: LiteralString = "CALL () {\n"
    for index, part in enumerate(parts):
        if index:
            text += "\nUNION ALL\n"
        text += _KEYS[index] + "\n" + part.body + "\n" + _RETURNS[index]
    return text + "\n}\nRETURN part, row"


@dataclass
class _Waiting:
    graph: Graph
    part: Part
    keys: list[Any]
    answer: asyncio.Future[list[dict[str, Any]]]


@dataclass
class _Turn:
    """The parts read on one graph in one turn of the event loop, by their index."""

    graph: Graph
    waiting: dict[int, _Waiting] = field(default_factory=dict)


class Together:
    """One request's shared reads (see :func:`together`)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self._turns: dict[int, _Turn] = {}
        # Statements sent, and parts answered, in this request.
        self.exchanges = 0
        self.parts = 0

    async def read(self, graph: Graph, part: Part, keys: list[Any]) -> list[dict[str, Any]]:
        index = self.shared.index(part)
        if index is None:
            return await _read_alone(graph, part, keys)
        loop = asyncio.get_running_loop()
        turn = self._turns.get(id(graph))
        if turn is None or index in turn.waiting:
            # The same part twice in a moment (two loaders over it): the next statement.
            turn = self._turns[id(graph)] = _Turn(graph)
            loop.call_soon(self._send, turn)
        answer: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        turn.waiting[index] = _Waiting(graph, part, keys, answer)
        return await answer

    def _send(self, turn: _Turn) -> None:
        if self._turns.get(id(turn.graph)) is turn:
            del self._turns[id(turn.graph)]
        task = asyncio.ensure_future(self._exchange(turn))
        task.add_done_callback(_observed)

    async def _exchange(self, turn: _Turn) -> None:
        waiting = list(turn.waiting.values())
        self.exchanges += 1
        self.parts += len(waiting)
        try:
            if len(waiting) == 1:
                await _alone(waiting[0])
                return
            params = self.shared.params({i: w.keys for i, w in turn.waiting.items()})
            try:
                rows = await turn.graph.read(self.shared.statement, params)
            except GraphUnavailable as exc:
                # Neo4j down, busy or past its deadline: each read alone hears the same.
                for w in waiting:
                    _fail(w.answer, exc)
                return
            except Exception:
                # One part's own error (Cypher refusing its keys, say) is that read's
                # alone, as when each was its own statement: each runs again alone.
                self.exchanges += len(waiting)
                await asyncio.gather(*(_alone(w) for w in waiting))
                return
        except asyncio.CancelledError:
            for w in waiting:
                w.answer.cancel()
            raise
        split: dict[int, list[dict[str, Any]]] = {i: [] for i in turn.waiting}
        for r in rows:
            split[r["part"]].append(r["row"])
        for i, w in turn.waiting.items():
            _answer(w.answer, split[i])


async def _read_alone(graph: Graph, part: Part, keys: list[Any]) -> list[dict[str, Any]]:
    rows = await graph.read(part.alone, {"keys": keys})
    return [r["row"] for r in rows]


async def _alone(waiting: _Waiting) -> None:
    try:
        rows = await _read_alone(waiting.graph, waiting.part, waiting.keys)
    except Exception as exc:
        _fail(waiting.answer, exc)
        return
    _answer(waiting.answer, rows)


def _fail(future: asyncio.Future[list[dict[str, Any]]], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)


def _answer(future: asyncio.Future[list[dict[str, Any]]], rows: list[dict[str, Any]]) -> None:
    if not future.done():
        future.set_result(rows)


def _observed(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


_current: ContextVar[Together | None] = ContextVar("tightrope_together", default=None)


@contextmanager
def together(shared: Shared) -> Iterator[Together]:
    """Within this block (and the tasks it starts), the ``shared`` parts read in one
    turn share a statement."""
    reads = Together(shared)
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


async def read_part(graph: Graph, part: Part, keys: list[Any]) -> list[dict[str, Any]]:
    """``part``'s rows for ``keys``: in a shared statement within :func:`together`, else alone."""
    shared = _current.get()
    if shared is None:
        return await _read_alone(graph, part, keys)
    return await shared.read(graph, part, keys)
