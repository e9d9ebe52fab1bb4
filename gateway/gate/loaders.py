"""Owned loaders: each DataLoader belongs to the plugin that registered it.

``info.context.loader(name)`` is how a resolver batches its reads. A loader
runs on its owner's graph (gateway/host/plugin_graph.py), so it reads only what
its owner declared. Another plugin may call it too, but then it runs on a
*borrowed* graph that serves only what both plugins declared: a plugin that
declares nothing cannot read a customer's purchases through the history
plugin's loader. The refusal is the gate's one error (gateway/gate/declared.py)
naming the caller, the loader's owner and the category.

Who calls is known from the running plugin's code (gateway/host/isolation.py sets
it around every resolver and strategy a plugin registered); the host's own
code calls as the owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from strawberry.dataloader import DataLoader

from graph import Graph

LoaderFactory = Callable[[Graph], DataLoader[Any, Any]]
# A batched repository read: one value (or None) per key, in the keys' order.
BatchRead = Callable[[Graph, Sequence[Any]], Awaitable[Sequence[Any]]]


class GraphViews(Protocol):
    """The app's plugin graphs (gateway/host/plugin_graph.py), as the loaders use them."""

    def of(self, graph: Graph, plugin: str) -> Graph: ...

    def borrowed(self, graph: Graph, owner: str, user: str) -> Graph: ...


def batch_loader(read: BatchRead) -> LoaderFactory:
    """The loader factory for a batched repository read, for ``register_loaders``."""
    return lambda graph: DataLoader(load_fn=partial(read, graph))


@dataclass(frozen=True)
class OwnedLoaders:
    """One app's loader factories, each with the plugin that registered it."""

    factories: Mapping[str, LoaderFactory] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    # The app's plugin graphs; None outside an app (loaders then get the graph given).
    graphs: GraphViews | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.factories

    def make(self, name: str, graph: Graph, caller: str | None) -> DataLoader[Any, Any]:
        """A new loader ``name`` for ``caller`` (None: the host), over the app's ``graph``."""
        try:
            factory = self.factories[name]
        except KeyError:
            raise LookupError(f"no plugin registered a loader named {name!r}") from None
        owner = self.owners.get(name)
        if self.graphs is None or owner is None:
            return factory(graph)
        if caller is None or caller == owner:
            return factory(self.graphs.of(graph, owner))
        return factory(self.graphs.borrowed(graph, owner, caller))

    def key(self, name: str, caller: str | None) -> str | tuple[str, str]:
        """Under which key a request keeps the loader: a borrower gets its own."""
        if caller is None or caller == self.owners.get(name):
            return name
        return (name, caller)
