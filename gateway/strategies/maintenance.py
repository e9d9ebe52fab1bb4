"""Work on derived data outside requests: recompute it in bulk, drop what is about one customer.

``tightrope recompute`` calls :func:`recompute` with every recommender that
derives data in bulk (:class:`~gateway.strategies.types.Recomputes`), then
bumps the version that every serving process compares, so their caches of
aggregates empty within about a second. A strategy that fails (it raises,
reaches outside its manifest, or the graph fails it) is logged by plugin and
strategy and the ones after it still run; :class:`RecomputeFailed` then says
which failed, once all have had their turn.

:func:`forget_customer` asks every recommender that keeps data derived about
individual customers (:class:`~gateway.strategies.types.ForgetsCustomers`) to
drop that customer's. The host calls it when a customer withdraws the consent
a strategy serves (gateway/app.py ``consent_withdrawn``, for the strategies
of that purpose). Erasure asks plugins through their ``erase_customer_data``
hook instead (gateway/privacy/rights.py), which stops the erasure if it fails; what
hangs off the customer node goes with it anyway.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.fields import DataCategory, Purpose
from gateway.strategies.types import CustomersAllowed, ForgetsCustomers, Recomputes, Registered
from graph import Graph
from graph.insights import Noted, note_uses
from graph.recs import bump_derived_version

if TYPE_CHECKING:
    from gateway.gate.policy import Policies

# A plugin's graph over the app's (gateway/host/plugin_graph.py: what its
# manifest declares), as the assembly hands it over: (graph, plugin) -> graph.
GraphOf = Callable[[Graph, str], Graph]
# The categories a plugin's manifest declares (gateway/host/manifests.py).
Declared = Callable[[str], Collection[DataCategory]]

log = logging.getLogger("tightrope.plugins")


def _graph_of(strategy: Registered, graph: Graph, graph_of: GraphOf | None) -> Graph:
    """The strategy's plugin's graph: what its manifest declares."""
    return graph if graph_of is None else graph_of(graph, strategy.plugin)


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


@dataclass(frozen=True)
class Recomputed:
    """One strategy's turn: its summary line (or what went wrong) and how long it took."""

    strategy: Registered
    summary: str
    seconds: float
    failed: bool = False


class RecomputeFailed(Exception):
    """Some strategies failed to recompute; every strategy had its turn (``results``)."""

    def __init__(self, results: Sequence[Recomputed]) -> None:
        self.results = tuple(results)
        names = ", ".join(repr(r.strategy.name) for r in self.results if r.failed)
        super().__init__(f"recompute failed for {names}")


async def recompute(
    strategies: Sequence[Registered],
    graph: Graph,
    progress: bool = False,
    graph_of: GraphOf | None = None,
    policies: Policies | None = None,
    declared: Declared | None = None,
) -> list[Recomputed]:
    """Rebuild every strategy's derived data, one after another: summaries and seconds.

    With ``graph_of``, each strategy works on its own plugin's graph. With
    ``policies`` (the app's consent policies), a strategy that keeps data
    about individual customers (it can ``forget_customer``) and whose
    ``recompute`` takes ``allowed`` derives only for the customers whose
    consent lets it; one that does not take it is warned about. Without
    ``policies`` (a test's shortcut), every customer counts. What each read
    (``declared``: its plugin's manifest; else the strategy's own categories)
    goes to the dormant-data report's ledger.

    A strategy that fails does not stop the others: once every one has run
    and the version is bumped, :class:`RecomputeFailed` carries every result.
    """
    done = []
    for strategy in strategies:
        if isinstance(strategy.recommender, Recomputes):
            began = time.monotonic()
            try:
                own = _graph_of(strategy, graph, graph_of)
                extra = _consent_arguments(strategy, graph, policies)
                summary = await strategy.recommender.recompute(own, progress, **extra)
            except Exception as exc:
                done.append(Recomputed(strategy, _failure(strategy, exc), _since(began), True))
            else:
                done.append(Recomputed(strategy, summary, _since(began)))
    await bump_derived_version(graph)
    await note_uses(graph, _reads_of(done, declared))
    if any(result.failed for result in done):
        raise RecomputeFailed(done)
    return done


def _since(began: float) -> float:
    return time.monotonic() - began


def _failure(strategy: Registered, exc: Exception) -> str:
    """Log a strategy's failed recompute by plugin and strategy; the line to report."""
    if isinstance(exc, GatewayError):
        # A refusal: its message names what the strategy reached for (a category,
        # Cypher of its own); the trace adds nothing.
        what = exc.message
        log.error(
            "plugin %r: strategy %r failed to recompute: %s", strategy.plugin, strategy.name, what
        )
    else:
        what = f"{type(exc).__name__}: {exc}"
        log.error(
            "plugin %r: strategy %r failed to recompute: %s",
            strategy.plugin,
            strategy.name,
            what,
            exc_info=exc,
        )
    return f"FAILED: {what}"


def _reads_of(done: Sequence[Recomputed], declared: Declared | None) -> list[Noted]:
    """What each recompute read, for the dormant-data report's ledger: the categories
    its plugin declared (a non-personal ranking reads everyone's history)."""
    now = datetime.now(UTC)
    found = []
    for result in done:
        strategy = result.strategy
        reads = declared(strategy.plugin) if declared else strategy.categories
        for category in reads:
            reader = f"recompute {strategy.name}"
            found.append(Noted(strategy.plugin, reader, strategy.purpose, category.value, now))
    return found


async def forget_customer(
    strategies: Sequence[Registered],
    graph: Graph,
    customer_id: str,
    graph_of: GraphOf | None = None,
) -> dict[str, int]:
    """Drop what every strategy derived about one customer; items dropped per strategy.

    A strategy that fails is logged with its plugin (never the customer) and
    left out of the answer; the others still forget.
    """
    dropped: dict[str, int] = {}
    for strategy in strategies:
        if isinstance(strategy.recommender, ForgetsCustomers):
            own = _graph_of(strategy, graph, graph_of)
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
