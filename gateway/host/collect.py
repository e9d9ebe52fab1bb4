"""What start-up collects from the plugins, checked: plain data for the gate and the rest.

The host asks the plugins' hooks once, when an app (or a command) is
assembled, and refuses what does not hold up with a :class:`PluginError`
naming the plugin: their manifests and whether every field, strategy and
identity linker stays inside its plugin's (:func:`check_declared`), their
consent policies, their recommenders and their identity linkers. The gate,
gateway/strategies/ and gateway/linking/ are handed what this module
collected; none of them knows the plugin manager.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.fields import DataCategory, FieldRegistry, Purpose
from gateway.gate.declared import missing
from gateway.gate.policy import Policies
from gateway.host.manager import PluginError, PluginHost, declared_where, require_async
from gateway.host.manifests import NOTHING, Manifest, Manifests
from gateway.linking import LinkingService
from gateway.linking.types import CROSS_DEVICE, RegisteredLinker
from gateway.settings import Settings
from gateway.strategies import RecommendationService
from gateway.strategies.types import (
    ALL_SUBJECTS,
    NOT_PERSONAL,
    PURPOSES,
    Registered,
    SubjectKind,
)


def recommendation_service(
    host: PluginHost, settings: Settings, plugin_settings: dict[type, Any]
) -> RecommendationService:
    """The service of an app: every plugin's recommenders, checked, and the blend hook."""
    return RecommendationService.from_settings(
        settings,
        collect_recommenders(host, settings),
        host.pm.hook.blend_recommendations,
        plugin_settings,
    )


def linking_service(
    host: PluginHost, settings: Settings, policies: Policies | None = None
) -> LinkingService:
    """The host's linkers; consent is asked of ``policies`` (the app's gate's), else of
    the host's consent policies (a command such as ``tightrope load``)."""
    return LinkingService.from_settings(
        settings,
        collect_linkers(host, settings),
        collect_policies(host) if policies is None else policies,
    )


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


def collect_policies(host: PluginHost) -> Policies:
    """The plugins' consent policies: the one set the app's gate and its linking ask."""
    return Policies(
        (name, policy)
        for name, result in host.collect("register_consent_policies")
        for policy in result
    )


def collect_recommenders(host: PluginHost, settings: Settings) -> list[Registered]:
    """Every plugin's recommenders, checked; a bad or clashing one is a PluginError."""
    return host.collect_named(
        "register_recommenders", "recommender", Registered, check_recommender, settings=settings
    )


def check_recommender(strategy: Registered) -> None:
    """Refuse at start-up a recommender that does not say what it is and what it reads."""
    recommender = strategy.recommender
    where = declared_where("recommender", strategy.plugin, recommender)
    purpose = getattr(recommender, "purpose", None)
    if purpose not in PURPOSES:
        raise PluginError(f"{where}: purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    categories = getattr(recommender, "categories", None)
    if not isinstance(categories, frozenset) or not all(
        isinstance(c, DataCategory) for c in categories
    ):
        raise PluginError(f"{where}: categories must be a frozenset of gateway.DataCategory")
    if purpose == NOT_PERSONAL and categories:
        raise PluginError(f"{where}: a {NOT_PERSONAL} recommender cannot read personal data")
    if purpose != NOT_PERSONAL and not categories:
        raise PluginError(f"{where}: a personal recommender must declare what it reads")
    subjects = getattr(recommender, "subjects", ALL_SUBJECTS)
    if not isinstance(subjects, frozenset) or not all(isinstance(k, SubjectKind) for k in subjects):
        raise PluginError(f"{where}: subjects must be a frozenset of gateway.SubjectKind")
    require_async(where, recommender, "recommend")


def collect_linkers(host: PluginHost, settings: Settings) -> list[RegisteredLinker]:
    """Every plugin's identity linkers, checked; a bad or clashing one is a PluginError."""
    return host.collect_named(
        "register_identity_linkers",
        "identity linker",
        RegisteredLinker,
        check_linker,
        settings=settings,
    )


def check_linker(registered: RegisteredLinker) -> None:
    """Refuse at start-up a linker that does not say what it is for and what it reads."""
    linker = registered.linker
    where = declared_where("identity linker", registered.plugin, linker)
    if getattr(linker, "purpose", None) != CROSS_DEVICE:
        raise PluginError(f"{where}: purpose must be {CROSS_DEVICE.value!r}")
    categories = getattr(linker, "categories", None)
    if (
        not isinstance(categories, frozenset)
        or not categories
        or not all(isinstance(c, DataCategory) for c in categories)
    ):
        raise PluginError(f"{where}: categories must be a non-empty frozenset of DataCategory")
    require_async(where, linker, "propose")
