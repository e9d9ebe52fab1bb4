"""Every extension point of tightrope, in one place.

pluggy calls hooks synchronously, so hooks *register things* at start-up (fields,
loaders, routes, commands, settings models); request-time work is done by what
they register, which may be async. An implementation may accept any subset of a
spec's parameters, so adding a parameter never breaks an old plugin.

Unless a docstring says otherwise a hook is *collecting*: every plugin's result
is gathered, in pluggy's call order, and ``None`` results are skipped. The host
calls each implementation on its own so that an error, or a clash between two
plugins, names the plugin it came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic_settings import BaseSettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import BaseRoute
    from strawberry.dataloader import DataLoader

    from gateway.fields import FieldSpec, ScopeSpec, TypeSpec
    from gateway.gate.policy import ConsentPolicy
    from gateway.host.manifests import Manifest
    from gateway.linking.types import IdentityLinker
    from gateway.settings import Settings
    from gateway.strategies.types import BlendRequest, Recommendation, Recommender
    from graph import Graph

hookspec = pluggy.HookspecMarker("tightrope")

# The version of the plugin API: these hooks and what ``tightrope`` exports
# (docs/plugin-api.md says how it moves). The minor number grows when a hook, a
# hook parameter or an export is added; the major when one is removed or changes
# meaning, which happens only after a release that warns about it.
API_VERSION: Final = "1.1"


@dataclass(frozen=True)
class Deprecated:
    """A hook on its way out: since which API version, gone in which, what to use instead."""

    since: str
    removal: str
    instead: str


# Hooks that still work but will go. A plugin implementing one gets a
# PluginDeprecationWarning naming it, the hook and what to use instead, at every
# start-up (docs/plugin-api.md, "Versions and deprecation"). None yet.
DEPRECATED: dict[str, Deprecated] = {}

_GATE_ERROR = "catch tightrope.Undeclared, the gate's one error for anything undeclared"
_HOST_ONLY = "the host's own; a plugin reads and writes through the gate and its graph"
# Names ``tightrope`` exported in 1.0 that are no plugin's business: the host's
# writers and wiring, and the four error classes the one check replaced. Each
# still imports, with a PluginDeprecationWarning naming it and what to use
# instead, until 2.0 (gateway/public/tightrope/__init__.py).
DEPRECATED_EXPORTS: dict[str, Deprecated] = {
    "ANONYMOUS": Deprecated("1.1", "2.0", "a plugin reads info.context.principal"),
    "Internal": Deprecated("1.1", "2.0", "raise any other exception: the host masks it"),
    "Neo4jSettings": Deprecated("1.1", "2.0", _HOST_ONLY),
    "PluginGraph": Deprecated("1.1", "2.0", "annotate with tightrope.Graph"),
    "RawCypherNotDeclared": Deprecated("1.1", "2.0", _GATE_ERROR),
    "UndeclaredCategory": Deprecated("1.1", "2.0", _GATE_ERROR),
    "UndeclaredLinkerCategory": Deprecated("1.1", "2.0", _GATE_ERROR),
    "UndeclaredRead": Deprecated("1.1", "2.0", _GATE_ERROR),
    "bump_catalogue_version": Deprecated("1.1", "2.0", _HOST_ONLY),
    "connect": Deprecated("1.1", "2.0", "use the graph the host hands the plugin"),
    "consents_of_customers": Deprecated("1.1", "2.0", "await info.context.gate.consents(id)"),
    "create_app": Deprecated("1.1", "2.0", "test with the tightrope_app fixture"),
    "set_consent": Deprecated(
        "1.1", "2.0", "await info.context.gate.set_consent(...), which tells every plugin"
    ),
    "slowest_graph_wait": Deprecated("1.1", "2.0", _HOST_ONLY),
    "write_access_records": Deprecated(
        "1.1", "2.0", "the gate records every allowed read: info.context.gate.decide(...)"
    ),
}


@hookspec
def register_settings() -> type[BaseSettings] | None:
    """A plugin's own settings model, read from the environment and validated at start-up.

    Return a ``pydantic_settings.BaseSettings`` subclass (give it its own
    ``env_prefix``). The host instantiates it once per app; a bad value stops
    start-up with an error naming the plugin and the setting. Resolvers read the
    instance with ``info.context.plugin_settings(Model)``.

    Collecting: one model per plugin.
    """


@hookspec
def plugin_manifest() -> Manifest | None:
    """What the plugin does with customers' data: a ``tightrope.Manifest``.

    ``purposes`` the plugin's fields, strategies and ``decide`` calls serve;
    ``categories`` the data categories its fields and strategies reveal and the
    repository functions it calls read or write; ``raw_cypher``, only if it
    runs queries of its own, why (its graph then runs any Cypher, and
    ``tightrope plugins`` warns about it). Without a manifest a plugin declares
    nothing: catalogue fields and non-personal strategies only.

    Start-up refuses a plugin whose fields or strategies use a purpose or
    category it did not declare; at run time its graph and the gate refuse
    reads outside it with a ``FORBIDDEN`` error naming the plugin.
    ``tightrope plugins`` shows every manifest.

    Collecting: one manifest per plugin.
    """


@hookspec
def register_scopes() -> Iterable[ScopeSpec] | None:
    """OAuth scopes a plugin introduces, beside the core catalogue.

    Return ``ScopeSpec(name, description)`` items; the description is shown to
    customers on the consent page. A field may only require declared scopes, and
    two plugins declaring the same scope is a start-up error naming both.

    Collecting: all results are concatenated.
    """


@hookspec
def register_types() -> Iterable[TypeSpec] | None:
    """Object types a plugin adds beside the core types (Customer, Product, ...).

    Return ``TypeSpec(name)`` items; their fields are registered with
    ``register_fields`` like any other. Use this for types that refer to types
    built at start-up, such as a connection of products; types that refer to
    nothing built at start-up can simply be strawberry types.

    Collecting: all results are concatenated; a name declared twice is an error.
    """


@hookspec
def register_fields(settings: Settings) -> Iterable[FieldSpec] | None:
    """Fields a plugin adds to ``Query``, ``Mutation``, a core type or a declared type.

    :param settings: the gateway's validated settings (page sizes, dev mode, ...).

    Return ``FieldSpec`` items, each naming its data category, required scopes
    and, for a field that reveals a row of someone's data, its purpose and row
    rule; the host builds the schema from them and its gate enforces them all.
    The same (type, field) registered by two plugins is a start-up error naming
    both.

    Collecting: all results are concatenated.
    """


@hookspec
def register_loaders(
    settings: Settings,
) -> Mapping[str, Callable[[Graph], DataLoader[Any, Any]]] | None:
    """Factories of DataLoaders, by name; the host creates every one afresh per request.

    :param settings: the gateway's validated settings (e.g. ``catalogue_cache_seconds``).

    Return ``{name: factory}`` where ``factory(graph)`` returns a
    ``strawberry.dataloader.DataLoader``. Resolvers fetch them with
    ``info.context.loader(name)``, so that reads of one request are batched and
    nothing is cached across requests. A name registered twice is an error.
    ``gateway.batch_loader(read)`` builds a factory from a batched graph read.
    For non-personal data that changes rarely, ``gateway.cached_batch_loader(read,
    cache)`` keeps values across requests in a ``gateway.VersionedCache``, made
    in this hook so that each app has its own.

    Collecting: the mappings are merged.
    """


@hookspec
def register_consent_policies() -> Iterable[ConsentPolicy] | None:
    """Policies that decide whether a read of a customer's data may happen.

    Return objects with a method ``decide(question: ConsentQuestion) ->
    Decision`` (which may be ``async``). The question names the purpose, the
    data categories read, the customer (None for an anonymous visitor), the
    client's id and kind and the plugin that reads; ``await
    question.consents()`` gives the customer's current consents (read once per
    request, and only if a policy asks). Answer ``question.allow()`` or
    ``question.deny(reason)``.

    The host asks every policy before every gated read and allows it only if
    all allow it (AND); a policy that raises refuses. With no policy
    registered, only ``service`` reads are allowed. A third-party client's
    read is asked twice: for its purpose and for ``third_party_sharing``.
    The built-in ``tightrope-consent`` plugin holds the purpose x category
    table and the default regime.

    Collecting: all results are concatenated.
    """


@hookspec
def consent_withdrawn(customer_id: str, purpose: str, graph: Graph) -> Awaitable[None] | None:
    """A customer withdrew consent for ``purpose``: drop what you derived for it.

    :param customer_id: the customer who withdrew.
    :param purpose: the purpose withdrawn (``personalisation``, ``marketing``, ...).
    :param graph: the app's one Graph.

    Called after the withdrawal is stored (the gate already refuses reads
    under it, from the very next request). May return an awaitable, which the
    host awaits. An error is logged with the plugin's name; the other plugins
    are still told.

    Collecting: every implementation runs, in call order.
    """


@hookspec
def export_customer_data(
    customer_id: str, graph: Graph
) -> Awaitable[Mapping[str, Any] | None] | Mapping[str, Any] | None:
    """A customer asked for their data (``exportMyData``): return what you keep about them.

    :param customer_id: the customer exporting.
    :param graph: the app's one Graph.

    Return (or return an awaitable of) a JSON-ready mapping (dates may be
    datetimes), or ``None`` if you hold nothing beyond what the host exports
    anyway (the customer node's relationships, their sessions and events,
    consents, grants and access log: see graph/export.py). It appears under
    ``plugins.<your plugin>`` and its keys under ``contributors``. A plugin
    that raises is named in the export's ``not_exported``.

    Collecting: every implementation runs, in call order.
    """


@hookspec
def erase_customer_data(customer_id: str, graph: Graph) -> Awaitable[int | None] | int | None:
    """A customer is being erased: erase everything you keep or derived about them.

    :param customer_id: the customer being erased (they still exist when you are called).
    :param graph: the app's one Graph.

    Return (or return an awaitable of) how many items you erased, for the
    report the customer and the operator see; ``None`` or 0 if you held
    nothing. Called for every plugin *before* the host deletes the customer,
    their devices, sessions, events, consents, grants, tokens and access log
    (graph/erasure.py), so what hangs off them can still be found; relations
    on the customer node go with it anyway. Aggregates over many customers
    (a product's popularity) may stay. Be idempotent: if any plugin raises,
    the erasure stops before the host's part, the customer is told it did not
    finish, and running it again must finish it.

    Collecting: every implementation runs, in call order.
    """


@hookspec
def register_routes(settings: Settings) -> Iterable[BaseRoute] | None:
    """Starlette routes (or mounts) a plugin serves beside ``/graphql``.

    :param settings: the gateway's validated settings.

    Handlers reach the graph through ``request.app.state.graph``.

    Collecting: all results are concatenated, in call order, after the host's routes.
    """


@hookspec
def register_commands() -> Iterable[click.Command] | None:
    """Click commands a plugin adds to the ``tightrope`` command line.

    A command whose name is taken already is an error naming the plugin.

    Collecting: all results are concatenated.
    """


@hookspec
def graph_constraints() -> Iterable[str] | None:
    """Cypher statements for the constraints and indexes a plugin's data needs.

    Each statement must be idempotent (``IF NOT EXISTS``); ``tightrope graph
    migrate`` applies them after the core schema.

    Collecting: all results are concatenated.
    """


@hookspec
def startup(app: Starlette, graph: Graph, settings: Settings) -> Awaitable[None] | None:
    """Called once when an app starts serving, after its graph is opened.

    :param app: the Starlette app (``app.state`` holds the graph, settings, registry).
    :param graph: the app's one Graph.
    :param settings: the gateway's validated settings.

    May return an awaitable (e.g. call an ``async def`` function and return its
    coroutine), which the host awaits. An error stops start-up.

    Collecting: every implementation runs, in call order.
    """


@hookspec
def shutdown(app: Starlette, graph: Graph, settings: Settings) -> Awaitable[None] | None:
    """Called once when an app stops, before its graph is closed (flush buffers here).

    Parameters as for ``startup``; a returned awaitable is awaited. An error is
    logged and does not stop the other plugins' shutdown.

    Collecting: every implementation runs, in call order.
    """


@hookspec(firstresult=True)
def authenticate_customer(request: Request, graph: Graph) -> str | Awaitable[str | None] | None:
    """Who the customer on the authorization server's sign-in page is.

    :param request: the Starlette request to ``/oauth/authorize``: a GET (an SSO
        cookie or header may already say who it is) or the POST of the sign-in
        form (fields ``customer`` and ``password``; ``await request.form()``).
    :param graph: the app's one Graph.

    Return the customer id, or an awaitable of it (e.g. an ``async def``
    function's coroutine), or None to let the next plugin answer. The built-in
    ``tightrope-password-login`` plugin answers last, with a password check.

    First non-None answer, awaited, wins: the host calls the implementations
    itself, in pluggy's order, awaiting each answer, and stops at the first
    customer id; an async plugin whose answer is None lets the next one
    answer. If none answers, the customer is not signed in.
    """


@hookspec
def register_recommenders(settings: Settings) -> Iterable[Recommender] | None:
    """Recommendation strategies a plugin adds (``gateway.Recommender`` objects).

    :param settings: the gateway's validated settings.

    Each object has a ``name`` (unique across plugins: two plugins registering
    one name is a start-up error naming both), a ``purpose``
    (``gateway.PERSONALISATION``, or ``gateway.NOT_PERSONAL`` for one that reads
    nothing personal), the ``categories`` of personal data it reads (a
    frozenset of ``gateway.DataCategory``; none for a non-personal one) and an
    ``async recommend(subject, count, data)`` returning ``gateway.Candidate``
    items, best first. ``data`` (``gateway.StrategyData``) serves only the
    declared categories (docs/strategy-data.md). A strategy that fails in any
    way costs only its own candidates. Optional: ``async recompute(graph,
    progress)`` (run by ``tightrope recompute``) and ``async
    forget_customer(graph, customer_id)``.

    Collecting: all results are concatenated.
    """


@hookspec
def register_identity_linkers(settings: Settings) -> Iterable[IdentityLinker] | None:
    """Identity linkers a plugin adds (``gateway.IdentityLinker`` objects).

    :param settings: the gateway's validated settings.

    Each object has a ``name`` (unique across plugins: two plugins registering
    one name is a start-up error naming both), the ``purpose``
    ``gateway.CROSS_DEVICE``, the ``categories`` of personal data it reads (a
    non-empty frozenset of ``gateway.DataCategory``) and an ``async
    propose(observation, data)`` returning ``gateway.Proposal`` items: which
    device should count as which customer's, by what method, how sure, and
    the evidence in words a customer understands. ``data``
    (``gateway.LinkerData``) serves only the declared categories. The host
    decides: it checks consent, the threshold and the limits, and writes what
    passes.

    Collecting: all results are concatenated.
    """


@hookspec(firstresult=True)
def blend_recommendations(request: BlendRequest) -> Sequence[Recommendation] | None:
    """Combine the candidates of the strategies that ran into one ranked, explained list.

    :param request: a ``gateway.BlendRequest``: the subject, the number wanted,
        each strategy's candidates, the strategies skipped and why, the
        catalogue entries of every candidate, what the subject owns, what is
        excluded, whether other strategies may fill the list, plugins' settings.

    Return ``gateway.Recommendation`` items, best first (at most
    ``request.count``), or None to let the next plugin blend. The built-in
    ``tightrope-blend`` plugin is marked ``trylast``: any other plugin's answer
    replaces it.

    First non-None result wins.
    """
