"""What each plugin says it does with customers' data, and the start-up check that holds it to it.

A plugin declares a :class:`Manifest` through the ``plugin_manifest`` hook: the
purposes it serves, the data categories it reads or writes, and, only if it
must, that it runs Cypher of its own. A plugin without one declares nothing:
it may add catalogue fields and non-personal strategies, nothing more.

At start-up (:func:`check_declared`) every field and strategy of a plugin must
stay inside its manifest, or the app does not start and the error names the
plugin, the field or strategy and what it did not declare. At run time the one
check (gateway/gate/declared.py) holds every use to it: the plugin's graph,
the gate's ``decide``, the loaders it borrows. ``tightrope plugins`` shows
every manifest.

This stops mistakes and over-reach through the host's API. It does not stop
malice: a plugin is Python code running in the gateway's process, able to do
whatever that process can (docs/plugin-api.md, "Trust model").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.fields import DataCategory, FieldRegistry, Purpose
from gateway.gate.declared import Undeclared, missing
from gateway.host.manager import PluginError, PluginHost
from gateway.linking.types import CROSS_DEVICE, RegisteredLinker
from gateway.strategies.types import NOT_PERSONAL, Registered


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


def collect_manifests(host: PluginHost) -> Manifests:
    """Each plugin's ``plugin_manifest`` answer; a wrong one stops start-up naming the plugin."""
    found: dict[str, Manifest] = {info.name: NOTHING for info in host.describe()}
    for name, manifest in host.collect("plugin_manifest"):
        if not isinstance(manifest, Manifest):
            raise PluginError(
                f"plugin {name!r}: plugin_manifest must return a tightrope.Manifest, "
                f"not {type(manifest).__name__}"
            )
        found[name] = manifest
    return Manifests(found)


def check_declared(
    manifests: Manifests,
    registry: FieldRegistry,
    strategies: Iterable[Registered],
    linkers: Iterable[RegisteredLinker] = (),
) -> None:
    """Refuse a plugin whose fields, strategies or identity linkers use a purpose or
    category it did not declare."""
    for spec in registry.fields:
        purposes = [spec.purpose] if spec.purpose is not None else []
        categories = [spec.data_category] if spec.data_category is not None else []
        undeclared = missing(manifests.of(spec.plugin), purposes, categories)
        if undeclared:
            raise PluginError(
                f"plugin {spec.plugin!r}: field {spec.type_name}.{spec.name} uses "
                f"{', '.join(undeclared)}, which its manifest does not declare"
            )
    for strategy in strategies:
        purposes = [] if strategy.purpose == NOT_PERSONAL else [Purpose(strategy.purpose)]
        undeclared = missing(manifests.of(strategy.plugin), purposes, strategy.categories)
        if undeclared:
            raise PluginError(
                f"plugin {strategy.plugin!r}: strategy {strategy.name!r} uses "
                f"{', '.join(undeclared)}, which its manifest does not declare"
            )
    for linker in linkers:
        # A linker's purpose is always cross_device (gateway/linking/runner.py checks).
        undeclared = missing(manifests.of(linker.plugin), [CROSS_DEVICE], linker.categories)
        if undeclared:
            raise PluginError(
                f"plugin {linker.plugin!r}: identity linker {linker.name!r} uses "
                f"{', '.join(undeclared)}, which its manifest does not declare"
            )
