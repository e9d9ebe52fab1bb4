"""Whether a token's grant is alive, asked of the graph at most once a moment per grant.

Every request with one of our tokens needs to know that its token family is
not revoked and its client not removed: that check is what makes a revocation
bite before the token expires. It was one graph read per request, about a
fifth of the CPU of a request that reads a customer's purchases. Here the
answer for a family is kept for ``ttl`` seconds (``oauth_liveness_cache_seconds``,
1 s by default):

- a revocation made through this process (``revokeApp``, ``/oauth/revoke``, a
  replayed refresh token or code, a removed client) advances the graph's
  ``revocations`` epoch, which empties this cache: it bites on the next request;
- one made by another process (another worker, ``tightrope clients remove``)
  bites within ``ttl`` seconds.

Only live answers are kept: a dead family is asked about again each time (and
such requests are rate limited as bad tokens anyway).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from graph import Graph
from graph.oauth import LiveFamily, live_family
from graph.oauth.families import REVOCATIONS

MAX_FAMILIES = 100_000


class Liveness:
    def __init__(
        self,
        ttl: float,
        *,
        max_families: int = MAX_FAMILIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_families = max_families
        self._clock = clock
        self._alive: OrderedDict[str, tuple[float, LiveFamily]] = OrderedDict()
        self._epoch = 0

    async def family(self, graph: Graph, family_id: str) -> LiveFamily | None:
        """The family if it is alive (and its client exists), else None."""
        if self.ttl <= 0:
            return await live_family(graph, family_id, int(time.time()))
        epoch = graph.epoch(REVOCATIONS)
        if epoch != self._epoch:
            self._alive.clear()
            self._epoch = epoch
        now = self._clock()
        kept = self._alive.get(family_id)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        found = await live_family(graph, family_id, int(time.time()))
        if found is None:
            self._alive.pop(family_id, None)
        elif graph.epoch(REVOCATIONS) == self._epoch:
            # (A revocation during the read may have been missed by it: not kept.)
            self._alive[family_id] = (now, found)
            self._alive.move_to_end(family_id)
            while len(self._alive) > self.max_families:
                self._alive.popitem(last=False)
        return found
