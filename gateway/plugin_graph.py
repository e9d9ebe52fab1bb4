"""The graph a plugin is handed: category-checked repository reads, raw Cypher only if declared.

Every repository function ``tightrope`` exports is marked with the data
categories it reads or writes (``graph.driver.reads``). Called with a
:class:`PluginGraph`, it first asks :meth:`PluginGraph.granted`, which refuses
a category the plugin's manifest does not declare with
:class:`UndeclaredRead`, naming the plugin, the function and the category. Its
own ``read`` / ``write`` / ``write_tx`` (Cypher the plugin wrote) are refused
with :class:`RawCypherNotDeclared` unless the manifest declares ``raw_cypher``.

The check is a set comparison per repository call (not per field, not per
row); views are made once per plugin and app, not per request.

Plugins get one wherever the host hands them a graph: loader factories,
``info.context.graph_for(info)`` in a resolver, hooks with a ``graph``
parameter, a strategy's ``recompute`` and ``forget_customer``.
``info.context.graph`` belongs to no plugin: it serves the catalogue only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, LiteralString, TypeVar

from neo4j import AsyncManagedTransaction

from gateway.errors import Forbidden
from gateway.manifests import NO_PLUGIN, NOTHING, Manifest, Manifests, UndeclaredRead
from gateway.plugins import PerPlugin
from graph import Graph
from graph.driver import Params

log = logging.getLogger("tightrope.plugins")

T = TypeVar("T")


class RawCypherNotDeclared(Forbidden):
    """A plugin ran Cypher of its own without declaring ``raw_cypher`` in its manifest."""

    def __init__(self, plugin: str) -> None:
        super().__init__(
            f"plugin {plugin!r} ran a Cypher query of its own, which its manifest does not "
            "declare (Manifest(raw_cypher=...)); read through the functions tightrope exports",
            plugin=plugin,
        )


class PluginGraph(Graph):
    """One plugin's window on the app's graph: its driver, its queries (counted there)."""

    def __init__(self, inner: Graph, plugin: str, manifest: Manifest) -> None:
        # Not Graph.__init__: this is a view of ``inner``, not a second driver.
        self.driver = inner.driver
        self.database = inner.database
        self.query_timeout = inner.query_timeout
        self.deadline = inner.deadline
        self.write_deadline = inner.write_deadline
        self.cooldown = inner.cooldown
        self.observer = inner.observer
        self.inner = inner
        # Queries run on ``inner``, which counts them.
        self.round_trips = 0
        self.plugin = plugin
        self.manifest = manifest
        self._allowed = frozenset(c.value for c in manifest.categories)

    def epoch(self, topic: str) -> int:
        return self.inner.epoch(topic)

    def advance(self, topic: str) -> None:
        self.inner.advance(topic)

    def granted(self, categories: frozenset[str], what: str) -> Graph:
        if not categories <= self._allowed:
            missing = [f"category {c}" for c in sorted(categories - self._allowed)]
            error = UndeclaredRead(self.plugin, f"called {what}, which reads", missing)
            log.error("%s", error.message)
            raise error
        return self.inner

    def _raw(self) -> None:
        if self.manifest.raw_cypher is None:
            error = RawCypherNotDeclared(self.plugin)
            log.error("%s", error.message)
            raise error

    async def read(
        self, query: LiteralString, params: Params | None = None
    ) -> list[dict[str, Any]]:
        self._raw()
        return await self.inner.read(query, params)

    async def write(
        self, query: LiteralString, params: Params | None = None
    ) -> list[dict[str, Any]]:
        self._raw()
        return await self.inner.write(query, params)

    async def write_tx(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        self._raw()
        return await self.inner.write_tx(work)

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def close(self) -> None:
        raise RuntimeError(f"plugin {self.plugin!r} may not close the app's graph")


class PluginGraphs:
    """One app's plugin graphs, made on first use and kept (they hold no request state)."""

    def __init__(self, manifests: Manifests, owners: Mapping[tuple[str, str], str]) -> None:
        self.manifests = manifests
        # (type, field) -> the plugin that registered it, for graph_for(info).
        self.owners = owners
        self._views: dict[str, PluginGraph] = {}

    def of(self, graph: Graph, plugin: str) -> PluginGraph:
        """``plugin``'s graph over ``graph`` (the app's one Graph)."""
        view = self._views.get(plugin)
        if view is None or view.inner is not graph:
            manifest = NOTHING if plugin == NO_PLUGIN else self.manifests.of(plugin)
            view = self._views[plugin] = PluginGraph(graph, plugin, manifest)
        return view

    def for_field(self, graph: Graph, type_name: str, field_name: str) -> PluginGraph:
        return self.of(graph, self.owners.get((type_name, field_name), NO_PLUGIN))

    def per_plugin(self, graph: Graph) -> PerPlugin:
        """A hook argument that gives each plugin its own graph (PluginHost.collect)."""
        return PerPlugin(lambda plugin: self.of(graph, plugin))
