"""Whether a token's grant is alive, without a graph read per request.

Every request with one of our tokens needs to know that its token family is
not revoked, its client not removed and its customer not erased: that check is
what makes a revocation bite before the token expires. Asked of the graph on
every request, it was about a fifth of the CPU of a request that reads a
customer's purchases; kept per family for a second, it still cost a read for
nearly every request of a shop with many customers (each comes back rarely).

So the answers are kept in a :class:`~gateway.graphql.cache.VersionedCache` whose
version is the graph's revocation clock (graph/oauth/families.py), which every
revoking write ticks in its own transaction:

- a revocation made through this process (``revokeApp``, ``/oauth/revoke``, a
  replayed refresh token or code, a removed client, an erasure) advances the
  graph's ``revocations`` epoch, which empties the cache: it bites on the
  next request;
- one made by another process (another worker, ``tightrope clients remove``)
  ticks the clock, which each process reads at most once per ``ttl`` seconds
  (``oauth_liveness_cache_seconds``, 1 s by default) for all its families: it
  bites within ``ttl`` seconds.

Only live answers are kept, each until its family's end and at most
``max_age`` seconds (so even a change made behind the clock's back, by hand in
Cypher, shows within that bound). A dead family is asked about again each time
(and such requests are rate limited as bad tokens anyway). ``ttl`` 0 turns the
cache off: every request asks the graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.graphql.cache import MISSING, VersionedCache
from graph import Graph
from graph.oauth import LiveFamily, live_family, revocation_clock
from graph.oauth.families import REVOCATIONS

MAX_FAMILIES = 100_000
MAX_AGE = 60.0


class Liveness:
    def __init__(
        self,
        ttl: float,
        *,
        max_families: int = MAX_FAMILIES,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._alive = VersionedCache(
            revocation_clock,
            check_every=ttl,
            max_age=max_age,
            max_entries=max_families,
            clock=clock,
        )
        self._epoch = 0

    async def family(self, graph: Graph, family_id: str) -> LiveFamily | None:
        """The family if it is alive (and its client and customer exist), else None."""
        if self.ttl <= 0:
            return await live_family(graph, family_id, int(time.time()))
        epoch = graph.epoch(REVOCATIONS)
        if epoch != self._epoch:
            self._alive.clear()
            self._epoch = epoch
        await self._alive.refresh(graph)
        now = int(time.time())
        kept = self._alive.get(family_id)
        if kept is not MISSING and kept.expires_at > now:
            return kept  # type: ignore[no-any-return]
        generation = self._alive.generation
        found = await live_family(graph, family_id, now)
        # A revocation seen during the read (this process's, or the clock's)
        # may have been missed by it: then the answer is used once, not kept.
        unchanged = self._alive.generation == generation
        if found is not None and unchanged and graph.epoch(REVOCATIONS) == self._epoch:
            self._alive.put(family_id, found)
        return found
