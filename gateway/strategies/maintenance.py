"""Work on derived data outside requests: recompute it in bulk, drop what is about one customer.

``tightrope recompute`` calls :func:`recompute` with every recommender that
derives data in bulk (:class:`~gateway.strategies.types.Recomputes`), then
bumps the version that every serving process compares, so their caches of
aggregates empty within about a second.

:func:`forget_customer` asks every recommender that keeps data derived about
individual customers (:class:`~gateway.strategies.types.ForgetsCustomers`) to
drop that customer's. The host calls it when a customer withdraws the consent
a strategy serves (gateway/app.py ``consent_withdrawn``, for the strategies
of that purpose). Erasure asks plugins through their ``erase_customer_data``
hook instead (gateway/rights.py), which stops the erasure if it fails; what
hangs off the customer node goes with it anyway.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.fields import Purpose
from gateway.strategies.types import CustomersAllowed, ForgetsCustomers, Recomputes, Registered
from graph import Graph
from graph.insights import Noted, note_uses
from graph.recs import bump_derived_version

if TYPE_CHECKING:
    from gateway.gate.policy import Policies
    from gateway.manifests import Manifests

log = logging.getLogger("tightrope.plugins")


def _graph_of(strategy: Registered, graph: Graph, manifests: Manifests | None) -> Graph:
    """The strategy's plugin's graph: what its manifest declares (gateway/plugin_graph.py)."""
    if manifests is None:
        return graph
    from gateway.plugin_graph import PluginGraph

    return PluginGraph(graph, strategy.plugin, manifests.of(strategy.plugin))


def _consent_arguments(
    strategy: Registered, graph: Graph, policies: Policies | None
) -> dict[str, CustomersAllowed]:
    """What a strategy's recompute is handed besides its graph: ``allowed``, if it is due.

    Only data about individual customers needs their consent to be derived
    (a strategy that can ``forget_customer``): aggregates over every shopper
    (co-occurrence, the collaborative model) are about no one.
    """
    takes = "allowed" in inspect.signature(strategy.recommender.recompute).parameters
    if policies is None or not isinstance(strategy.recommender, ForgetsCustomers):
        return {}
    if not takes:
        log.warning(
            "plugin %r: strategy %r derives data about customers without asking "
            "whose consent allows it (its recompute takes no `allowed`)",
            strategy.plugin,
            strategy.name,
        )
        return {}

    async def allowed(customer_ids: Collection[str]) -> frozenset[str]:
        decisions = await policies.decide_for_customers(
            graph, customer_ids, Purpose(strategy.purpose), strategy.categories, strategy.plugin
        )
        return frozenset(c for c, decision in decisions.items() if decision.allowed)

    return {"allowed": allowed}


async def recompute(
    strategies: Sequence[Registered],
    graph: Graph,
    progress: bool = False,
    manifests: Manifests | None = None,
    policies: Policies | None = None,
) -> list[tuple[Registered, str, float]]:
    """Rebuild every strategy's derived data, one after another: summaries and seconds.

    With ``manifests``, each strategy works on its own plugin's graph. With
    ``policies`` (the app's consent policies), a strategy that keeps data
    about individual customers (it can ``forget_customer``) and whose
    ``recompute`` takes ``allowed`` derives only for the customers whose
    consent lets it; one that does not take it is warned about. Without
    ``policies`` (a test's shortcut), every customer counts.
    """
    done = []
    for strategy in strategies:
        if isinstance(strategy.recommender, Recomputes):
            began = time.monotonic()
            own = _graph_of(strategy, graph, manifests)
            extra = _consent_arguments(strategy, graph, policies)
            summary = await strategy.recommender.recompute(own, progress, **extra)
            done.append((strategy, summary, time.monotonic() - began))
    await bump_derived_version(graph)
    await note_uses(graph, _reads_of(done, manifests))
    return done


def _reads_of(
    done: Sequence[tuple[Registered, str, float]], manifests: Manifests | None
) -> list[Noted]:
    """What each recompute read, for the dormant-data report's ledger: the categories
    its plugin declared (a non-personal ranking reads everyone's history)."""
    now = datetime.now(UTC)
    found = []
    for strategy, _, _ in done:
        declared = manifests.of(strategy.plugin).categories if manifests else strategy.categories
        for category in declared:
            reader = f"recompute {strategy.name}"
            found.append(Noted(strategy.plugin, reader, strategy.purpose, category.value, now))
    return found


async def forget_customer(
    strategies: Sequence[Registered],
    graph: Graph,
    customer_id: str,
    manifests: Manifests | None = None,
) -> dict[str, int]:
    """Drop what every strategy derived about one customer; items dropped per strategy.

    A strategy that fails is logged with its plugin (never the customer) and
    left out of the answer; the others still forget.
    """
    dropped: dict[str, int] = {}
    for strategy in strategies:
        if isinstance(strategy.recommender, ForgetsCustomers):
            own = _graph_of(strategy, graph, manifests)
            try:
                dropped[strategy.name] = await strategy.recommender.forget_customer(
                    own, customer_id
                )
            except Exception:
                log.exception(
                    "plugin %r: strategy %r failed to forget a customer",
                    strategy.plugin,
                    strategy.name,
                )
    await bump_derived_version(graph)
    return dropped
