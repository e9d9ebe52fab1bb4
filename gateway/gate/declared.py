"""The one check of what a plugin declared: "plugin P may use purpose U, category C, Cypher".

Whatever hands a plugin's code personal data asks :func:`require` first:

- the gate's ``decide`` (the purposes and categories asked for, against the
  plugin's manifest);
- a plugin's graph (each repository function's categories, and Cypher of its
  own, against the manifest: gateway/host/plugin_graph.py);
- a loader another plugin registered (the categories its reads touch, against
  the *calling* plugin's manifest too: gateway/gate/loaders.py);
- a strategy's data and a linker's (the categories that strategy or linker
  declared: gateway/strategies/data.py, gateway/linking/data.py).

A refusal is one error, :class:`Undeclared` (``FORBIDDEN``), naming who asked,
what it was doing and what it did not declare, and it is logged: an over-reach
is a bug in a plugin, to be seen by its author, not a quiet empty answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import Forbidden
from gateway.fields import DataCategory, Purpose

log = logging.getLogger("tightrope.plugins")

MANIFEST_HINT = "declare it with the plugin_manifest hook"
RAW_CYPHER = "raw_cypher"


class Declared(Protocol):
    """What a plugin (a ``Manifest``) or one of its strategies or linkers says it uses."""

    @property
    def purposes(self) -> frozenset[Purpose]: ...

    @property
    def categories(self) -> frozenset[DataCategory]: ...

    @property
    def raw_cypher(self) -> str | None: ...


@dataclass(frozen=True)
class Declaration:
    """A declaration that is not a manifest: a strategy's or a linker's categories."""

    purposes: frozenset[Purpose] = frozenset()
    categories: frozenset[DataCategory] = frozenset()
    raw_cypher: str | None = None


class Undeclared(Forbidden):
    """A plugin used a purpose, a data category or Cypher of its own it did not declare."""

    def __init__(self, who: str, doing: str, missing: list[str], hint: str, plugin: str) -> None:
        super().__init__(
            f"{who} {doing} {', '.join(missing)}: not declared ({hint})",
            plugin=plugin,
            undeclared=missing,
        )


def missing(
    declared: Declared,
    purposes: Iterable[Purpose] = (),
    categories: Iterable[DataCategory | str] = (),
    raw_cypher: bool = False,
) -> list[str]:
    """What of ``purposes``, ``categories`` and raw Cypher ``declared`` does not cover, in words."""
    words = [f"purpose {p.value}" for p in sorted(set(purposes) - declared.purposes)]
    wanted = {DataCategory(c) for c in categories}
    words += [f"category {c.value}" for c in sorted(wanted - declared.categories)]
    if raw_cypher and declared.raw_cypher is None:
        words.append(RAW_CYPHER)
    return words


def require(
    declared: Declared,
    *,
    plugin: str,
    doing: str,
    purposes: Iterable[Purpose] = (),
    categories: Iterable[DataCategory | str] = (),
    raw_cypher: bool = False,
    who: str | None = None,
    hint: str = MANIFEST_HINT,
) -> None:
    """Raise :class:`Undeclared` (and log it) unless ``declared`` covers what is asked.

    ``who`` defaults to the plugin; ``doing`` says what it was doing ("called
    trends, which reads"), ``hint`` how to mend it.
    """
    undeclared = missing(declared, purposes, categories, raw_cypher)
    if undeclared:
        error = Undeclared(who or f"plugin {plugin!r}", doing, undeclared, hint, plugin)
        log.error("%s", error.message)
        raise error


def require_own(
    kind: str, name: str, plugin: str, declared: frozenset[DataCategory], asked: DataCategory
) -> None:
    """The check for a strategy's or a linker's data: one category, against what that
    strategy or linker (``kind`` ``name`` of ``plugin``) declared itself."""
    if asked not in declared:
        require(
            Declaration(categories=declared),
            plugin=plugin,
            who=f"{kind} {name!r} of plugin {plugin!r}",
            doing="asked for",
            categories=[asked],
            hint=f"name it in the {kind}'s categories, and in the plugin's manifest",
        )
