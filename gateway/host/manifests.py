"""What each plugin says it does with customers' data, and the start-up check that holds it to it.

A plugin declares a :class:`Manifest` through the ``plugin_manifest`` hook: the
purposes it serves, the data categories it reads or writes, and, only if it
must, that it runs Cypher of its own. A plugin without one declares nothing:
it may add catalogue fields and non-personal strategies, nothing more.

At start-up (``check_declared``, gateway/host/collect.py) every field and
strategy of a plugin must stay inside its manifest, or the app does not start
and the error names the plugin, the field or strategy and what it did not
declare. At run time the one
check (gateway/gate/declared.py) holds every use to it: the plugin's graph,
the gate's ``decide``, the loaders it borrows. ``tightrope plugins`` shows
every manifest.

This stops mistakes and over-reach through the host's API. It does not stop
malice: a plugin is Python code running in the gateway's process, able to do
whatever that process can (docs/plugin-api.md, "Trust model").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.fields import DataCategory, Purpose
from gateway.gate.declared import Undeclared


@dataclass(frozen=True)
class Manifest:
    """What a plugin declares: purposes served, data categories used, raw Cypher.

    ``raw_cypher`` is None for a plugin that reads and writes only through the
    repository functions ``tightrope`` exports (each checked against
    ``categories``). A plugin that needs queries of its own says why in it; its
    graph then runs any Cypher, unchecked, and ``tightrope plugins`` says so
    loudly: an operator should read such a plugin's code before installing it.
    """

    purposes: frozenset[Purpose] = frozenset()
    categories: frozenset[DataCategory] = frozenset()
    raw_cypher: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        # Accept plain strings (and any iterable) but keep the enums: a typo
        # fails here, at start-up, rather than never matching.
        object.__setattr__(self, "purposes", frozenset(Purpose(p) for p in self.purposes))
        object.__setattr__(self, "categories", frozenset(DataCategory(c) for c in self.categories))


NOTHING = Manifest()
# The owner of info.context.graph: no plugin, so no personal data.
NO_PLUGIN = "(no plugin: info.context.graph)"


# Before the one check (gateway/gate/declared.py) this was an error class of its own.
UndeclaredRead = Undeclared

# How a catalogue-only resolver mends reading through info.context.graph.
NO_PLUGIN_HINT = "ask info.context.graph_for(info) for the graph of the field's plugin"


@dataclass(frozen=True)
class Manifests:
    """Every loaded plugin's manifest (``NOTHING`` for a plugin that declared none)."""

    by_plugin: Mapping[str, Manifest] = field(default_factory=dict)

    def of(self, plugin: str) -> Manifest:
        return self.by_plugin.get(plugin, NOTHING)

    def categories_of(self, plugin: str) -> frozenset[DataCategory]:
        """The data categories ``plugin`` declared (what a recompute of its reads)."""
        return self.of(plugin).categories
