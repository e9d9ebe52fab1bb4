"""Values kept across requests, for data that changes rarely and is nobody's personal data.

The catalogue (products, brands, categories) is read on nearly every page and
changes when a catalogue is loaded. A :class:`VersionedCache` keeps what was
read, and drops all of it when a version number kept in the graph changes:
every catalogue write bumps it (graph/ingest), and each process looks at it at
most once per ``check_every`` seconds, however many requests arrive. Entries
also expire after ``max_age`` seconds, so a change made behind the loader's
back (a hand-written Cypher update) shows within that bound.

Never use this for personal data: it is shared by every request of the process,
and consent, grants and erasure must bite on the very next request.
"""

from __future__ import annotations

import asyncio
import time
from asyncio import Future
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import partial
from typing import Any

from strawberry.dataloader import AbstractCache, DataLoader

from graph import Graph

# A batched repository read, as for ``batch_loader``: one value per key, in order.
BatchRead = Callable[[Graph, Sequence[Any]], Awaitable[Sequence[Any]]]
VersionRead = Callable[[Graph], Awaitable[object]]

# What ``VersionedCache.get`` answers for a key it does not hold (None is a value:
# "the graph has no such product" is worth keeping too).
MISSING = object()


class VersionedCache:
    """Values by key, bounded in number and age, dropped together when the version moves."""

    def __init__(
        self,
        version: VersionRead,
        *,
        check_every: float = 1.0,
        max_age: float = 60.0,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_version = version
        self.check_every = check_every
        self.max_age = max_age
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._version: object = MISSING
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        # Counts the times everything was dropped: a read that began before a
        # drop must not put back what it found (it may predate the change).
        self.generation = 0

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    @property
    def fresh(self) -> bool:
        """Whether the version was looked at within ``check_every``: hits need no await."""
        return self.enabled and self._clock() - self._checked_at < self.check_every

    async def refresh(self, graph: Graph) -> None:
        """Look at the graph's version if it is time; concurrent callers share one read."""
        if self._clock() - self._checked_at < self.check_every:
            return
        async with self._lock:
            if self._clock() - self._checked_at < self.check_every:
                return  # another request looked while this one waited
            version = await self._read_version(graph)
            if version != self._version:
                self.clear()
                self._version = version
            self._checked_at = self._clock()

    def get(self, key: Hashable) -> Any:
        """The value kept for ``key``, or ``MISSING``."""
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        stored_at, value = entry
        if self._clock() - stored_at > self.max_age:
            del self._entries[key]
            return MISSING
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)


async def cached_read(
    cache: VersionedCache, read: BatchRead, graph: Graph, keys: Sequence[Any]
) -> list[Any]:
    """``read(graph, keys)``, answering kept keys from ``cache`` and keeping what was read."""
    if not cache.enabled:
        return list(await read(graph, keys))
    await cache.refresh(graph)
    values = [cache.get((read, key)) for key in keys]
    missing = [key for key, value in zip(keys, values, strict=True) if value is MISSING]
    if missing:
        generation = cache.generation
        fetched = dict(zip(missing, await read(graph, missing), strict=True))
        if cache.generation == generation:
            for key, value in fetched.items():
                cache.put((read, key), value)
        values = [
            fetched[key] if value is MISSING else value
            for key, value in zip(keys, values, strict=True)
        ]
    return values


class _SharedValues(AbstractCache[Any, Any]):
    """A DataLoader's per-request map of futures that also answers from the shared cache.

    A key the shared cache holds (and whose version was checked within the
    second) gets a future that is already done: no batch, no task, no read.
    Everything else goes the DataLoader's usual way, through ``cached_read``.
    """

    def __init__(self, cache: VersionedCache, read: BatchRead) -> None:
        self.cache = cache
        self.read = read
        self.futures: dict[Any, Future[Any]] = {}

    def get(self, key: Any) -> Future[Any] | None:
        future = self.futures.get(key)
        if future is None and self.cache.fresh:
            value = self.cache.get((self.read, key))
            if value is not MISSING:
                future = self.futures[key] = asyncio.get_running_loop().create_future()
                future.set_result(value)
        return future

    def set(self, key: Any, value: Future[Any]) -> None:
        self.futures[key] = value

    def delete(self, key: Any) -> None:
        self.futures.pop(key, None)

    def clear(self) -> None:
        self.futures.clear()


def cached_batch_loader(
    read: BatchRead, cache: VersionedCache
) -> Callable[[Graph], DataLoader[Any, Any]]:
    """A loader factory, like ``batch_loader``, whose reads go through ``cache``.

    Each request still gets its own DataLoader (so one request's misses are
    batched into one read); only the values outlive the request.
    """
    return lambda graph: DataLoader(
        load_fn=partial(cached_read, cache, read, graph), cache_map=_SharedValues(cache, read)
    )
