"""Plugin isolation: a plugin that fails or hangs costs its own field or candidates, nothing more.

Every resolver a plugin registers is wrapped once, at start-up, by
:func:`isolate`; the strategy runner does the same for each strategy
(gateway/strategies/runner.py). A plugin's code that

- raises something other than a :class:`~gateway.errors.GatewayError` (those
  are answers meant for the client) or :class:`~graph.GraphUnavailable` (the
  truth about the graph, answered as UNAVAILABLE),
- or runs past its budget (``plugin_budget_seconds``, or the plugin's own in
  ``plugin_budgets``),

is logged with the plugin's name and the request id, and the client gets the
masked ``INTERNAL`` error for that field alone (the rest of the answer stands)
or, for a strategy, the blend goes on without its candidates. The client is
never told which plugin failed, nor how.

One exception: a budget that runs out while the graph keeps a query waiting
(a cold or overloaded Neo4j, every pooled connection busy) says nothing bad
about the plugin. The field is then answered ``UNAVAILABLE``, as the graph's
own deadline would have answered it, and logged as a warning (a strategy's
candidates are still left out of the blend).

The time each plugin's code takes in a request is added up here too, in a
per-request table the metrics extension reports (gateway/web/metrics.py). And
while a plugin's code runs, :func:`running_plugin` names it: a loader another
plugin registered is then lent only for what the caller declared
(gateway/gate/loaders.py).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from gateway.errors import INTERNAL_MESSAGE, GatewayError, Internal
from gateway.web.requestid import current_request_id
from graph import GraphUnavailable, slowest_graph_wait

log = logging.getLogger("tightrope.plugins")

T = TypeVar("T")

# Seconds spent per plugin in the request being handled (None outside one).
_spent: ContextVar[dict[str, float] | None] = ContextVar("tightrope_plugin_time", default=None)
# The plugin whose resolver or strategy is running (None: the host's own code).
# Each resolver's coroutine runs in its own task or nested in its caller's, so
# setting it around the plugin's code never leaks into a sibling field.
_running: ContextVar[str | None] = ContextVar("tightrope_running_plugin", default=None)


def running_plugin() -> str | None:
    """The plugin whose code is running now, or None in the host's own code."""
    return _running.get()


class PluginFailed(Internal):
    """A plugin's code raised or ran out of time; the client sees only INTERNAL."""

    def __init__(self) -> None:
        super().__init__(INTERNAL_MESSAGE)


class WaitedOnGraph(GraphUnavailable):
    """A plugin's budget ran out while the graph kept one of its queries waiting."""


@contextmanager
def collect_plugin_times() -> Iterator[dict[str, float]]:
    """A fresh table of seconds per plugin for the code run inside (one request)."""
    table: dict[str, float] = {}
    token = _spent.set(table)
    try:
        yield table
    finally:
        _spent.reset(token)


def spend(plugin: str, seconds: float) -> None:
    table = _spent.get()
    if table is not None:
        table[plugin] = table.get(plugin, 0.0) + seconds


def failed(plugin: str, what: str, exc: BaseException, budget: float) -> PluginFailed:
    """Log a plugin's failure by name (with its trace), and the error the client gets."""
    request = current_request_id()
    if isinstance(exc, TimeoutError):
        log.error(
            "plugin %r: %s ran past its budget of %ss (request %s)", plugin, what, budget, request
        )
    else:
        log.error("plugin %r failed in %s (request %s)", plugin, what, request, exc_info=exc)
    return PluginFailed()


async def bounded(awaitable: Awaitable[T], plugin: str, what: str, budget: float) -> T:
    """Await a plugin's work within its budget; a failure is logged and becomes PluginFailed."""
    began = time.perf_counter()
    loop = asyncio.get_running_loop()
    # How long the graph had kept a query waiting when the budget ran out: read
    # at that moment, before the cancellation unwinds the plugin's own query.
    waited: list[float] = []
    running = _running.set(plugin)
    try:
        async with asyncio.timeout(None) as scope:

            def expire() -> None:
                waited.append(slowest_graph_wait())
                scope.reschedule(loop.time())

            expiry = loop.call_later(budget, expire)
            try:
                return await awaitable
            finally:
                expiry.cancel()
    except (GatewayError, GraphUnavailable):
        raise
    except TimeoutError as exc:
        raise _timed_out(plugin, what, exc, budget, waited[0] if waited else 0.0) from None
    except Exception as exc:
        raise failed(plugin, what, exc, budget) from None
    finally:
        _running.reset(running)
        spend(plugin, time.perf_counter() - began)


def _timed_out(
    plugin: str, what: str, exc: TimeoutError, budget: float, waited: float
) -> Exception:
    """The error for a budget run out: the graph's fault when a query had waited half of it."""
    if waited >= budget / 2:
        log.warning(
            "plugin %r: %s ran past its budget of %ss while a graph query waited %.1fs "
            "(request %s): answered UNAVAILABLE",
            plugin,
            what,
            budget,
            waited,
            current_request_id(),
        )
        return WaitedOnGraph(f"a graph query waited {waited:.1f}s")
    return failed(plugin, what, exc, budget)


def isolate(resolver: Callable[..., Any], plugin: str, what: str, budget: float) -> Any:
    """``resolver`` wrapped so that its failure or delay costs only its own field.

    The wrapper keeps the resolver's signature (strawberry reads the arguments
    from it) and whether it is a coroutine function.
    """
    if inspect.iscoroutinefunction(resolver):

        @functools.wraps(resolver)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            return await bounded(resolver(*args, **kwargs), plugin, what, budget)

        return guarded_async

    @functools.wraps(resolver)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        running = _running.set(plugin)
        try:
            result = resolver(*args, **kwargs)
        except (GatewayError, GraphUnavailable):
            raise
        except Exception as exc:
            raise failed(plugin, what, exc, budget) from None
        finally:
            _running.reset(running)
        if inspect.isawaitable(result):
            return bounded(result, plugin, what, budget)
        return result

    return guarded
