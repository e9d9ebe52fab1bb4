"""The plugin manager: a fresh one per app, loaded from the ``tightrope`` entry points.

The built-in plugins in ``plugins/`` are declared in pyproject.toml exactly like a
third party's, so the host never imports a plugin by name. A plugin that cannot
be imported or registered stops start-up with an error that names it; a plugin
named in ``disabled_plugins`` is never imported.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, LiteralString, Protocol, TypeVar, cast

import pluggy
from pluggy import HookImpl

from gateway.host import hookspecs

GROUP = "tightrope"

hookimpl = pluggy.HookimplMarker(GROUP)
log = logging.getLogger("tightrope.plugins")


class PluginDeprecationWarning(DeprecationWarning):
    """A plugin implements a deprecated hook; the message names the plugin and what to use."""


class Named(Protocol):
    """What a plugin registers by name (a recommender, a linker) and who registered it."""

    @property
    def name(self) -> str: ...

    @property
    def plugin(self) -> str: ...


N = TypeVar("N", bound=Named)


class PluginError(Exception):
    """A plugin could not be loaded or registered, or clashes with another; names them."""


class PerPlugin:
    """A hook argument whose value depends on the plugin called, such as its own graph."""

    def __init__(self, value_for: Callable[[str], object]) -> None:
        self.value_for = value_for


def arguments_for(impl: HookImpl, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments an implementation asks for, each plugin's own where they differ."""
    args = {}
    for arg in impl.argnames:
        value = kwargs[arg]
        args[arg] = value.value_for(impl.plugin_name) if isinstance(value, PerPlugin) else value
    return args


@dataclass(frozen=True)
class PluginInfo:
    name: str
    package: str
    version: str
    hooks: tuple[str, ...]


class PluginHost:
    """A pluggy manager plus where each plugin came from."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self._origin: dict[str, tuple[str, str]] = {}

    def register(self, plugin: object, name: str, package: str = "", version: str = "") -> None:
        if self.pm.has_plugin(name):
            raise PluginError(f"plugin {name!r}: another plugin is registered under that name")
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed to register: {exc}") from exc
        self._origin[name] = (package, version)

    def load_entry_points(
        self, points: Iterable[EntryPoint] | None = None, disabled: Iterable[str] = ()
    ) -> None:
        """Import and register each entry point of the group, skipping disabled names."""
        skip = set(disabled)
        found = entry_points(group=GROUP) if points is None else points
        for point in sorted(found, key=lambda ep: ep.name):
            if point.name in skip:
                continue
            try:
                plugin = point.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {point.name!r} ({point.value}) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            dist = point.dist
            self.register(
                plugin,
                point.name,
                package=dist.name if dist is not None else "",
                version=dist.version if dist is not None else "",
            )

    def check(self) -> None:
        """Refuse implementations of hooks that do not exist (usually a typo)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {self.name_of(exc.plugin)!r}: {exc}") from exc

    def warn_deprecated(self) -> None:
        """Warn, naming the plugin, about every deprecated hook a plugin implements."""
        for name, plugin in sorted(self.pm.list_name_plugin()):
            for caller in self.pm.get_hookcallers(plugin) or ():
                gone = hookspecs.DEPRECATED.get(caller.name)
                if gone is None:
                    continue
                message = (
                    f"plugin {name!r} implements {caller.name}, deprecated since plugin API "
                    f"{gone.since} and removed in {gone.removal}: {gone.instead}"
                )
                log.warning("%s", message)
                warnings.warn(PluginDeprecationWarning(message), stacklevel=2)

    def name_of(self, plugin: object) -> str:
        return self.pm.get_name(plugin) or repr(plugin)

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook; return (plugin name, result) pairs.

        Each implementation gets the arguments it asks for. A raised exception
        becomes a PluginError naming the plugin. ``None`` results are skipped.
        """
        hook = getattr(self.pm.hook, hook_name)
        results: list[tuple[str, Any]] = []
        # pluggy calls the most recently registered (and tryfirst) implementations first.
        for impl in reversed(hook.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                # Wrappers wrap pluggy's own call loop; here each plugin is called alone.
                continue
            name = impl.plugin_name
            args = arguments_for(impl, kwargs)
            try:
                result = impl.function(**args)
            except Exception as exc:
                raise PluginError(
                    f"plugin {name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
            if result is not None:
                results.append((name, result))
        return results

    def collect_named(
        self,
        hook_name: str,
        what: str,
        wrap: Callable[[Any, str], N],
        check: Callable[[N], None],
        **kwargs: Any,
    ) -> list[N]:
        """Every plugin's registrations from a hook that answers a list, each
        wrapped with its plugin and checked; a name two plugins use is a PluginError."""
        found: dict[str, N] = {}
        for plugin, result in self.collect(hook_name, **kwargs):
            for item in result:
                registered = wrap(item, plugin)
                check(registered)
                if registered.name in found:
                    first, second = sorted((found[registered.name].plugin, plugin))
                    raise PluginError(
                        f"{what} {registered.name!r} is registered by both {first!r} and {second!r}"
                    )
                found[registered.name] = registered
        return list(found.values())

    def collect_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Like :meth:`collect`, but a plugin that raises does not stop the others.

        Its exception takes the place of its result; the caller reports it.
        Each plugin is called only when the caller asks for the next answer: a
        caller that stops early (an erasure one plugin refused) leaves the rest
        uncalled, with no coroutine made and never awaited.
        """
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            args = arguments_for(impl, kwargs)
            try:
                result = impl.function(**args)
            except Exception as exc:
                result = exc
            if result is not None:
                yield impl.plugin_name, result

    def describe(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            package, version = self._origin.get(name, ("", ""))
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, package, version, hooks))
        return infos


def load_plugins(
    disabled: Iterable[str] = (),
    extra: Iterable[object] = (),
    *,
    use_entry_points: bool = True,
    points: Iterable[EntryPoint] | None = None,
) -> PluginHost:
    """A new host with the installed plugins (unless disabled) and ``extra`` objects.

    ``extra`` plugins (tests, embedding applications) are named by their
    ``tightrope_name`` attribute, else their module or class name.
    """
    disabled = tuple(disabled)
    host = PluginHost()
    if use_entry_points:
        host.load_entry_points(points, disabled)
    for plugin in extra:
        name = getattr(plugin, "tightrope_name", None) or getattr(plugin, "__name__", None)
        name = str(name or type(plugin).__name__)
        if name not in disabled:
            host.register(plugin, name)
    host.check()
    host.warn_deprecated()
    return host


def constraints_of(host: PluginHost) -> list[LiteralString]:
    """The plugins' ``graph_constraints`` statements, for ``migrate(graph, extra)``."""
    statements: list[LiteralString] = []
    for _name, result in host.collect("graph_constraints"):
        # A plugin's statements are code it ships, not input: trusted like our own.
        statements.extend(cast(LiteralString, statement) for statement in result)
    return statements


def declared_where(what: str, plugin: str, strategy: object) -> str:
    """``{what} {name!r} of plugin {plugin!r}``, for a registration's start-up errors.

    A PluginError if the strategy (a recommender, a linker) has no name.
    """
    name = getattr(strategy, "name", None)
    if not isinstance(name, str) or not name:
        article = "an" if what[0] in "aeiou" else "a"
        raise PluginError(f"plugin {plugin!r}: {article} {what} without a name ({strategy!r})")
    return f"{what} {name!r} of plugin {plugin!r}"


def require_async(where: str, strategy: object, method: str) -> None:
    """A PluginError unless ``strategy.method`` is an async method."""
    if not inspect.iscoroutinefunction(getattr(strategy, method, None)):
        raise PluginError(f"{where}: {method} must be an async method")
