"""The graph a plugin is handed: category-checked repository reads, raw Cypher only if declared.

Every repository function ``tightrope`` exports is marked with the data
categories it reads or writes (``graph.driver.reads``). Called with a
:class:`PluginGraph`, it first asks :meth:`PluginGraph.granted`, which refuses
a category the plugin's manifest does not declare with the gate's one error,
:class:`~gateway.gate.declared.Undeclared`, naming the plugin, the function and
the category. Its own ``read`` / ``write`` / ``write_tx`` (Cypher the plugin
wrote) are refused the same way unless the manifest declares ``raw_cypher``.

The check is a set comparison per repository call (not per field, not per
row); views are made once per plugin and app, not per request.

Plugins get one wherever the host hands them a graph: loader factories,
``info.context.graph_for(info)`` in a resolver, hooks with a ``graph``
parameter, a strategy's ``recompute`` and ``forget_customer``.
``info.context.graph`` belongs to no plugin: it serves the catalogue only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, LiteralString, TypeVar

from neo4j import AsyncManagedTransaction

from gateway.gate.declared import MANIFEST_HINT, Undeclared, require
from gateway.host.manager import PerPlugin
from gateway.host.manifests import NO_PLUGIN, NO_PLUGIN_HINT, NOTHING, Manifest, Manifests
from graph import Graph
from graph.driver import Params

T = TypeVar("T")


# Before the one check (gateway/gate/declared.py) this was an error class of its own.
RawCypherNotDeclared = Undeclared


class PluginGraph(Graph):
    """One plugin's window on the app's graph: its driver, its queries (counted there)."""

    def __init__(
        self, inner: Graph, plugin: str, manifest: Manifest, lender: PluginGraph | None = None
    ) -> None:
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
        # A borrowed graph (another plugin's loader run for this one) also
        # serves only what the loader's owner declared.
        self.lender = lender
        self._allowed = frozenset(c.value for c in manifest.categories)
        self._hint = NO_PLUGIN_HINT if plugin == NO_PLUGIN else MANIFEST_HINT

    def epoch(self, topic: str) -> int:
        return self.inner.epoch(topic)

    def advance(self, topic: str) -> None:
        self.inner.advance(topic)

    def granted(self, categories: frozenset[str], what: str) -> Graph:
        if not categories <= self._allowed:
            require(
                self.manifest,
                plugin=self.plugin,
                doing=f"called {what}{self._through()}, which reads",
                categories=categories,
                hint=self._hint,
            )
        if self.lender is not None:
            self.lender.granted(categories, what)
        return self.inner

    def _raw(self) -> None:
        require(
            self.manifest,
            plugin=self.plugin,
            doing=f"ran a Cypher query of its own{self._through()}, which needs",
            raw_cypher=True,
            hint="read through the functions tightrope exports, or declare "
            "Manifest(raw_cypher=...)",
        )
        if self.lender is not None:
            self.lender._raw()

    def _through(self) -> str:
        return "" if self.lender is None else f" (through a loader of {self.lender.plugin!r})"

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
        self._borrowed: dict[tuple[str, str], PluginGraph] = {}

    def of(self, graph: Graph, plugin: str) -> PluginGraph:
        """``plugin``'s graph over ``graph`` (the app's one Graph)."""
        view = self._views.get(plugin)
        if view is None or view.inner is not graph:
            manifest = NOTHING if plugin == NO_PLUGIN else self.manifests.of(plugin)
            view = self._views[plugin] = PluginGraph(graph, plugin, manifest)
        return view

    def for_field(self, graph: Graph, type_name: str, field_name: str) -> PluginGraph:
        return self.of(graph, self.owners.get((type_name, field_name), NO_PLUGIN))

    def borrowed(self, graph: Graph, owner: str, user: str) -> PluginGraph:
        """The graph a loader of ``owner`` runs on when ``user`` calls it: only the
        categories (and raw Cypher) both plugins declare. Kept like the others."""
        view = self._borrowed.get((owner, user))
        if view is None or view.inner is not graph:
            lender = self.of(graph, owner)
            view = PluginGraph(graph, user, self.manifests.of(user), lender=lender)
            self._borrowed[(owner, user)] = view
        return view

    def per_plugin(self, graph: Graph) -> PerPlugin:
        """A hook argument that gives each plugin its own graph (PluginHost.collect)."""
        return PerPlugin(lambda plugin: self.of(graph, plugin))
