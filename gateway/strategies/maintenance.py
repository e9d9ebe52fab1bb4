"""Work on derived data outside requests: recompute it in bulk, drop what is about one customer.

``tightrope recompute`` calls :func:`recompute` with every recommender that
derives data in bulk (:class:`~gateway.strategies.types.Recomputes`), then
bumps the version that every serving process compares, so their caches of
aggregates empty within about a second.

:func:`forget_customer` asks every recommender that keeps data derived about
individual customers (:class:`~gateway.strategies.types.ForgetsCustomers`) to
drop that customer's. The consent gate calls it when ``personalisation`` is
withdrawn; erasure will too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from gateway.strategies.types import ForgetsCustomers, Recomputes, Registered
from graph import Graph
from graph.recs import bump_derived_version


async def recompute(
    strategies: Sequence[Registered], graph: Graph, progress: bool = False
) -> list[tuple[Registered, str, float]]:
    """Rebuild every strategy's derived data, one after another: summaries and seconds."""
    done = []
    for strategy in strategies:
        if isinstance(strategy.recommender, Recomputes):
            began = time.monotonic()
            summary = await strategy.recommender.recompute(graph, progress)
            done.append((strategy, summary, time.monotonic() - began))
    await bump_derived_version(graph)
    return done


async def forget_customer(
    strategies: Sequence[Registered], graph: Graph, customer_id: str
) -> dict[str, int]:
    """Drop what every strategy derived about one customer; items dropped per strategy."""
    dropped: dict[str, int] = {}
    for strategy in strategies:
        if isinstance(strategy.recommender, ForgetsCustomers):
            dropped[strategy.name] = await strategy.recommender.forget_customer(graph, customer_id)
    await bump_derived_version(graph)
    return dropped
