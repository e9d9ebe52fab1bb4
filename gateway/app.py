"""The app factory: plugins → registry → schema → one Starlette app with one Graph.

Request flow: SecurityHeaders → RequestId → BodySizeLimit → BearerTokens (a bad
bearer token is refused with 401 here) → RateLimit → route. ``/graphql`` asks
``app.state.authenticate`` for the request's Principal, builds a fresh
:class:`Context` (principal, graph, new DataLoaders) and runs the schema, whose
extensions label errors and refuse over-complex documents and whose scope gate
guards fields.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from inspect import isawaitable
from typing import Any

import strawberry
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gateway.context import Context
from gateway.fields import FieldRegistry, Purpose
from gateway.gate import AccessLog, Gatekeeper
from gateway.gate.gpc import honour_gpc, sends_gpc
from gateway.gate.ids import VisitIds
from gateway.gate.loaders import LoaderFactory, OwnedLoaders
from gateway.graphql.operations import OperationStore
from gateway.graphql.prepared import PreparedOperations
from gateway.graphql.schema import build_schema, collect_registry
from gateway.host.collect import (
    check_declared,
    collect_manifests,
    collect_policies,
    linking_service,
    recommendation_service,
)
from gateway.host.manager import PluginError, PluginHost, constraints_of, load_plugins
from gateway.host.manifests import Manifests
from gateway.host.plugin_graph import PluginGraphs
from gateway.insights.recorder import Analytics
from gateway.linking import LinkingService, LinkQueue
from gateway.oauth import OAuthService, oauth_routes
from gateway.oauth.asgi import BearerTokens
from gateway.oauth.login import from_hook
from gateway.oauth.scopes import ScopeCatalogue
from gateway.principal import Principal
from gateway.privacy.rights import CustomerRights
from gateway.settings import Settings, load_settings
from gateway.strategies import RecommendationService, Registered, forget_customer
from gateway.web.authenticate import Authenticate
from gateway.web.bodylimit import BodySizeLimit
from gateway.web.cors import GraphQLCors
from gateway.web.endpoint import GraphQLEndpoint
from gateway.web.metrics import CountResponses, Metrics, metrics_endpoint
from gateway.web.ratelimit import BadTokenLimit, Buckets, RateLimit
from gateway.web.readiness import Readiness
from gateway.web.requestid import RequestId
from gateway.web.secheaders import SecurityHeaders
from graph import Graph, connect
from graph.insights import erase_served

log = logging.getLogger("tightrope.app")


@dataclass(frozen=True)
class Assembly:
    """What start-up builds from the plugins, before any connection is made."""

    settings: Settings
    host: PluginHost
    registry: FieldRegistry
    schema: strawberry.Schema
    loaders: OwnedLoaders
    plugin_settings: dict[type[BaseSettings], BaseSettings]
    routes: list[BaseRoute]
    recommendations: RecommendationService
    gate: Gatekeeper
    manifests: Manifests
    graphs: PluginGraphs
    linking: LinkingService
    rights: CustomerRights
    metrics: Metrics | None = None

    async def open(
        self,
        principal: Principal,
        graph: Graph,
        request: Request | None = None,
        *,
        source: str = "api",
        **extra: Any,
    ) -> Context:
        """:meth:`context` for a request a browser sent: a customer's browser that
        sends Global Privacy Control has its refusals recorded first, so that this
        request already sees them (gateway/gate/gpc.py)."""
        context = self.context(principal, graph, request, source=source, **extra)
        if principal.customer_id is not None and sends_gpc(request):
            await honour_gpc(context.gate, self.policy_version)
        return context

    @property
    def policy_version(self) -> str:
        """The privacy policy version in force: the consent plugin's setting. The host
        knows no plugin by name, so it asks whichever settings declare one."""
        return next(
            (
                str(value)
                for settings in self.plugin_settings.values()
                if (value := getattr(settings, "policy_version", None))
            ),
            "1",
        )

    def context(
        self,
        principal: Principal,
        graph: Graph,
        request: Request | None = None,
        *,
        source: str = "api",
        **extra: Any,
    ) -> Context:
        """A fresh ``info.context`` for one operation of ``principal`` (``source``: where
        a consent it changes was given; ``extra``: the served app's per-request
        parts, operations and linking)."""
        return Context(
            request=request,
            principal=principal,
            host_graph=graph,
            graphs=self.graphs,
            settings=self.settings,
            loaders=self.loaders,
            gate=self.gate.for_request(principal, graph, source),
            plugin_settings_by_type=self.plugin_settings,
            recommendations=self.recommendations,
            rights=self.rights,
            **extra,
        )


def assemble(
    settings: Settings, plugins: Iterable[object] = (), *, use_entry_points: bool = True
) -> Assembly:
    """Load the plugins and build the schema; any plugin problem raises PluginError."""
    host = load_plugins(settings.disabled_plugins, plugins, use_entry_points=use_entry_points)
    manifests = collect_manifests(host)
    plugin_settings: dict[type[BaseSettings], BaseSettings] = {}
    for name, model in host.collect("register_settings"):
        try:
            plugin_settings[model] = model()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise PluginError(f"plugin {name!r}: invalid settings: {problems}") from exc
    factories: dict[str, LoaderFactory] = {}
    owners: dict[str, str] = {}
    for name, mapping in host.collect("register_loaders", settings=settings):
        for key, factory in mapping.items():
            if key in factories:
                raise PluginError(
                    f"loader {key!r} is registered by both {owners[key]!r} and {name!r}"
                )
            factories[key], owners[key] = factory, name
    registry = collect_registry(host, settings)
    graphs = PluginGraphs(manifests, {spec.key: spec.plugin for spec in registry.fields})
    # Each loader reads through its owner's graph; lent to another plugin, through
    # one that serves only what both declared (gateway/gate/loaders.py).
    loaders = OwnedLoaders(factories, owners, graphs)
    metrics = Metrics(settings.metrics_max_operations) if settings.metrics_enabled else None
    schema = build_schema(registry, settings, metrics)
    routes = [
        route
        for _, result in host.collect("register_routes", settings=settings)
        for route in result
    ]
    recommendations = recommendation_service(host, settings, dict(plugin_settings))
    policies = collect_policies(host)
    strategies = list(recommendations.strategies.values())
    withdrawn = partial(consent_withdrawn, host, graphs, strategies)
    gate = Gatekeeper(registry, policies, withdrawn, manifests.of, VisitIds(settings.pii_secret()))
    # Linking asks the same policies as every read (gateway/linking/seam.py).
    linking = linking_service(host, settings, policies)
    check_declared(manifests, registry, recommendations.strategies.values(), linking.linkers)
    # Plugins' export and erasure hooks get their own (checked) graphs too.
    rights = CustomerRights(host, settings, graphs.per_plugin)
    return Assembly(
        settings,
        host,
        registry,
        schema,
        loaders,
        plugin_settings,
        routes,
        recommendations,
        gate,
        manifests,
        graphs,
        linking,
        rights,
        metrics,
    )


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context: built afresh for every request."""

    def __init__(self, assembly: Assembly) -> None:
        super().__init__(
            assembly.schema,
            graphql_ide="graphiql" if assembly.settings.dev_mode else None,
            allow_queries_via_get=True,
        )
        self.assembly = assembly

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.app.state
        graph: Graph = state.graph
        principal = await state.authenticate(request)
        return await self.assembly.open(
            principal,
            graph,
            request if isinstance(request, Request) else None,
            operations=await state.operations.for_principal(principal, graph),
            linking=getattr(state, "linking", None),
        )


async def healthz(request: Request) -> JSONResponse:
    """The process is up (says nothing about Neo4j)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when Neo4j answers, its schema is complete and the warm-up is done; else 503.

    A load balancer sends no traffic to a gateway that answers 503 here.
    """
    graph: Graph | None = getattr(request.app.state, "graph", None)
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    up = graph is not None and await graph.ping()
    ready = up and readiness is not None and readiness.ready
    extra = readiness.report() if readiness is not None else {}
    body = {"ready": ready, "neo4j": "up" if up else "down", **extra}
    return JSONResponse(body, 200 if ready else 503)


def create_app(
    settings: Settings | None = None,
    plugins: Iterable[object] = (),
    *,
    use_entry_points: bool = True,
    authenticate: Authenticate | None = None,
) -> Starlette:
    """The gateway app. ``plugins`` are registered beside the installed ones.

    ``authenticate`` replaces the default (the bearer token, verified by the
    OAuth resource server); it can also be swapped later on
    ``app.state.authenticate``.
    """
    settings = settings or load_settings()
    settings.require_serving_secrets()
    assembly = assemble(settings, plugins, use_entry_points=use_entry_points)
    oauth = OAuthService(
        settings,
        ScopeCatalogue(assembly.registry.scopes),
        authenticate_customer=from_hook(
            assembly.host.pm.hook.authenticate_customer, assembly.graphs
        ),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # No query outlives query_timeout. A Neo4j that hangs rather than
        # refuses is cut off at the graph deadline, and Neo4j's transient errors
        # (a deadlock) are retried within it (graph/driver.py).
        neo4j = settings.neo4j()
        graph = connect(
            replace(
                neo4j,
                query_timeout=settings.query_timeout,
                deadline=settings.graph_deadline,
                write_deadline=settings.graph_deadline,
                cooldown=settings.graph_cooldown,
            )
        )
        if assembly.metrics is not None:
            graph.observer = assembly.metrics.graph_query
            graph.retry_observer = assembly.metrics.graph_retry
        app.state.graph = graph
        # Refuses to start on a graph lacking the migrations' constraints
        # (unless allowed to migrate); the warm-up runs once started.
        readiness = Readiness(
            graph,
            neo4j,
            settings.pii_secret(),
            extra=constraints_of(assembly.host),
            migrate_on_start=settings.migrates_on_start,
            warm=settings.warm_up,
        )
        app.state.readiness = readiness
        try:
            await readiness.check_schema()
        except BaseException:
            await graph.close()
            raise
        access_log = AccessLog(
            graph.patient(settings.query_timeout),
            interval=settings.access_log_flush_seconds,
            batch=settings.access_log_batch,
            max_pending=settings.access_log_max_pending,
            shutdown_seconds=settings.access_log_shutdown_seconds,
        )
        assembly.gate.access_log = app.state.access_log = access_log
        if assembly.metrics is not None:
            assembly.metrics.watch_access_log(
                lambda: access_log.pending, lambda: access_log.dropped
            )
        # What recommendations serve is written in batches too (docs/insights.md).
        analytics = Analytics(graph.patient(settings.query_timeout), settings)
        assembly.recommendations.analytics = app.state.analytics = analytics
        # Events are linked to customers' devices after the response, by one
        # task per app; shutting down waits for it before the graph closes.
        linking = LinkQueue(assembly.linking, graph, settings.linking_queue_size)
        app.state.linking = linking
        if assembly.metrics is not None:
            assembly.metrics.watch_linking(linking)
        started = False
        try:
            await _run_hook(assembly, "startup", app, graph, settings, stop_on_error=True)
            started = True
            access_log.start()
            analytics.start()
            linking.start()
            readiness.start()
            yield
        finally:
            await readiness.close()
            await linking.close()
            if started:
                await _run_hook(assembly, "shutdown", app, graph, settings, stop_on_error=False)
            # After the plugins' shutdown (which may still read), before the graph closes.
            await access_log.close()
            assembly.gate.access_log = None
            await analytics.close()
            assembly.recommendations.analytics = None
            await graph.close()

    limits = rate_limits(settings)
    metrics = assembly.metrics
    app = Starlette(
        routes=[
            Route(
                "/graphql",
                GraphQLEndpoint(GraphQLView(assembly), prepared_operations(assembly)),
                methods=["GET", "POST"],
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Route("/metrics", metrics_endpoint(settings))] if metrics else []),
            *oauth_routes(),
            *assembly.routes,
        ],
        middleware=[
            *([Middleware(CountResponses, metrics=metrics)] if metrics else []),
            Middleware(SecurityHeaders, graphiql=settings.dev_mode, behind_tls=settings.behind_tls),
            Middleware(RequestId),
            *(
                [
                    Middleware(
                        GraphQLCors,
                        origins=settings.cors_origins,
                        allow_credentials=settings.cors_allow_credentials,
                        max_age=settings.cors_max_age,
                    )
                ]
                if settings.cors_origins
                else []
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(BadTokenLimit, buckets=limits.pop("bad_tokens"), paths=("/graphql",)),
            Middleware(BearerTokens, service=oauth),
            Middleware(RateLimit, **limits),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.assembly = assembly
    app.state.registry = assembly.registry
    app.state.schema = assembly.schema
    app.state.metrics = metrics
    app.state.operations = OperationStore(
        dev_mode=settings.dev_mode, max_age=settings.operations_cache_seconds
    )
    app.state.plugins = assembly.host
    app.state.oauth = oauth
    app.state.authenticate = authenticate or oauth.authenticate
    return app


def prepared_operations(assembly: Assembly) -> PreparedOperations | None:
    """The app's prepared operations (gateway/graphql/prepared/), over its document cache."""
    documents = getattr(assembly.schema, "documents", None)
    if documents is None or not assembly.settings.prepared_operations:
        return None
    return PreparedOperations(
        assembly.schema,
        assembly.schema._schema,
        documents,
        assembly.registry,
        assembly.metrics,
        assembly.loaders.owners,
    )


def rate_limits(settings: Settings) -> dict[str, Buckets | None]:
    """The bucket tables of the limits; None where a rate of 0 turns one off.

    The limits are the fleet's: each of ``rate_limit_instances`` processes
    allows its share (a burst of at least one).
    """
    keys = settings.rate_limit_max_keys
    share = settings.rate_limit_instances
    graphql = settings.rate_limit_per_second / share
    graphql_burst = max(1, settings.rate_limit_burst // share)
    sign_in = settings.sign_in_rate_per_minute / 60 / share
    sign_in_burst = max(1, settings.sign_in_burst // share)
    return {
        "graphql": Buckets(graphql, graphql_burst, max_keys=keys) if graphql else None,
        "sign_in": Buckets(sign_in, sign_in_burst, max_keys=keys) if sign_in else None,
        # A bad bearer token is a failed credential: the sign-in limits apply.
        "bad_tokens": Buckets(sign_in, sign_in_burst, max_keys=keys) if sign_in else None,
    }


async def consent_withdrawn(
    host: PluginHost,
    graphs: PluginGraphs,
    strategies: Sequence[Registered],
    customer_id: str,
    purpose: str,
    graph: Graph,
) -> None:
    """Tell every plugin that a customer withdrew consent for ``purpose``.

    Each plugin drops what it derived: through the ``consent_withdrawn`` hook,
    and each strategy serving ``purpose`` through its ``forget_customer``. One
    that fails is logged by name and the others are still told (the
    withdrawal itself stands: the gate already refuses reads under it).
    """
    for name, result in host.collect_each(
        "consent_withdrawn",
        customer_id=customer_id,
        purpose=purpose,
        graph=graphs.per_plugin(graph),
    ):
        try:
            if isinstance(result, BaseException):
                raise result
            if isawaitable(result):
                await result
        except Exception:
            log.exception("plugin %r failed in consent_withdrawn(%r)", name, purpose)
    serving = [s for s in strategies if s.purpose == purpose]
    if serving:
        await forget_customer(serving, graph, customer_id, graphs.of)
    if purpose == Purpose.ANALYTICS.value:
        # The lists served to them and their events were kept only to count.
        await erase_served(graph, customer_id)


async def _run_hook(
    assembly: Assembly,
    hook: str,
    app: Starlette,
    graph: Graph,
    settings: Settings,
    *,
    stop_on_error: bool,
) -> None:
    try:
        results = assembly.host.collect(
            hook, app=app, graph=assembly.graphs.per_plugin(graph), settings=settings
        )
    except PluginError:
        if stop_on_error:
            raise
        log.exception("a plugin failed in %s", hook)
        return
    for name, result in results:
        if not isawaitable(result):
            continue
        try:
            await result
        except Exception as exc:
            if stop_on_error:
                raise PluginError(
                    f"plugin {name!r} failed in {hook}: {type(exc).__name__}: {exc}"
                ) from exc
            log.exception("plugin %r failed in %s", name, hook)


def app_from_environment() -> Starlette:
    """Factory for uvicorn (``tightrope serve``): settings from the environment.

    What exists once the app is built (the modules, the schema, the plugins)
    lives as long as the process: it is moved out of the garbage collector's
    sight. Each full collection otherwise walked all of it, 140-150 ms during
    which no request was answered, three times in 3,000 product pages
    (measured in process, 2026-11-30; with the freeze: at most 6 ms). Only the
    served process does this: a process building many apps (the tests) would
    keep every one.
    """
    app = create_app(load_settings())
    gc.collect()
    gc.freeze()
    return app
