"""The per-request GraphQL context: who asks, the graph, and this request's DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLError
from pydantic_settings import BaseSettings
from starlette.requests import Request
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from gateway.errors import GatewayError, to_graphql_error
from gateway.fields import FieldRegistry
from gateway.gate import RequestGate
from gateway.linking.signals import SignalKeys, read_signals
from gateway.manifests import NO_PLUGIN
from gateway.principal import Principal
from gateway.settings import Settings
from graph import Graph

if TYPE_CHECKING:
    from gateway.insights.report import ShopReport
    from gateway.linking import Arrival, EventSignals, IgnoredSignal, LinkQueue
    from gateway.operations import Allowlist
    from gateway.plugin_graph import PluginGraphs
    from gateway.rights import CustomerRights
    from gateway.strategies import (
        Recommendation,
        RecommendationService,
        ServedList,
        Shopper,
        Subject,
    )
    from graph import Event

S = TypeVar("S", bound=BaseSettings)

LoaderFactory = Callable[[Graph], DataLoader[Any, Any]]
# A batched repository read: one value (or None) per key, in the keys' order.
BatchRead = Callable[[Graph, Sequence[Any]], Awaitable[Sequence[Any]]]


def batch_loader(read: BatchRead) -> LoaderFactory:
    """The loader factory for a batched repository read, for ``register_loaders``."""
    return lambda graph: DataLoader(load_fn=partial(read, graph))


@dataclass
class Context:
    """``info.context`` in every resolver. Created afresh for each request.

    ``consent`` is the request's gate: ``await info.context.consent.decide(...)``
    is how plugin code asks whether it may read (docs/hooks.md).
    """

    request: Request | None
    principal: Principal
    # The host's graph: every category, any Cypher. Plugin code gets a checked
    # one: graph_for(info), or its loaders' (gateway/plugin_graph.py).
    host_graph: Graph
    settings: Settings
    # Factories of this app's DataLoaders; each is made on first use in the request.
    loader_factories: Mapping[str, LoaderFactory]
    consent: RequestGate
    plugin_settings_by_type: Mapping[type[BaseSettings], BaseSettings] = field(default_factory=dict)
    # Errors a resolver reports beside a value it still returns (e.g. one bad
    # event of a batch); label_errors (gateway/errors.py) adds them to the response.
    reported_errors: list[GraphQLError] = field(default_factory=list)
    # The app's recommenders (gateway/strategies); None outside an app.
    recommendations: RecommendationService | None = None
    # This app's plugin graphs; None outside an app (then graph is the host's).
    graphs: PluginGraphs | None = None
    # What the client may run (gateway/operations.py); None for anonymous callers.
    operations: Allowlist | None = None
    # The app's linking queue (gateway/linking); None outside a running app.
    linking: LinkQueue | None = None
    # The customer's rights through every plugin (erasure); None outside an app.
    rights: CustomerRights | None = None
    _loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def loader(self, name: str) -> DataLoader[Any, Any]:
        """This request's DataLoader ``name`` (made on first use: most requests need few)."""
        found = self._loaders.get(name)
        if found is None:
            try:
                factory = self.loader_factories[name]
            except KeyError:
                raise LookupError(f"no plugin registered a loader named {name!r}") from None
            found = self._loaders[name] = factory(self.host_graph)
        return found

    @property
    def graph(self) -> Graph:
        """A graph that belongs to no plugin: the catalogue and aggregates, nothing personal.

        A resolver that reads a customer's data asks :meth:`graph_for` instead.
        """
        if self.graphs is None:
            return self.host_graph
        return self.graphs.of(self.host_graph, NO_PLUGIN)

    def graph_for(self, info: Info[Any, Any]) -> Graph:
        """The graph of the plugin that registered the field being resolved.

        It serves the data categories that plugin's manifest declares, and
        Cypher of its own only if the manifest declares ``raw_cypher``.
        """
        if self.graphs is None:
            return self.host_graph
        return self.graphs.for_field(self.host_graph, str(info.path.typename), info.field_name)

    @property
    def registry(self) -> FieldRegistry:
        """Every field of the served schema with what it declares (plugin, category, ...)."""
        return self.consent.keeper.registry

    def plugin_settings(self, model: type[S]) -> S:
        value = self.plugin_settings_by_type[model]
        assert isinstance(value, model)
        return value

    async def recommend(
        self,
        subject: Subject,
        first: int,
        strategy: str | None = None,
        signed_in_as: str | None = None,
        placement: str = "",
    ) -> list[Recommendation]:
        """Explained recommendations for ``subject``, from the strategies that may run.

        ``signed_in_as``: the customer a visit was signed in as (its personal
        strategies then need that customer's consent). ``placement``: where
        the list is shown, for its figures (docs/insights.md).
        """
        if self.recommendations is None:
            raise LookupError("this app serves no recommendations")
        return await self.recommendations.recommend(
            self, subject, first, strategy, signed_in_as, placement
        )

    async def serve_list(
        self,
        subject: Subject,
        first: int,
        *,
        placement: str,
        shopper: Shopper | None,
        signed_in_as: str | None = None,
    ) -> ServedList:
        """One list for a placement: its opaque id and its items, numbered from 1."""
        if self.recommendations is None:
            raise LookupError("this app serves no recommendations")
        return await self.recommendations.serve(
            self, subject, first, placement=placement, shopper=shopper, signed_in_as=signed_in_as
        )

    async def from_lists(
        self, events: Sequence[tuple[Event, str | None, int | None]]
    ) -> list[str | None]:
        """Note stored events the client sent "from list X" (``listId``, ``position``).

        Returns, per event, why its list id was not kept (None: kept, or none
        given). Events whose shopper's consent does not allow ``analytics``
        are not noted (docs/insights.md).
        """
        from gateway.insights.recorder import FromList, list_reference

        problems: list[str | None] = []
        kept: list[FromList] = []
        for event, list_id, position in events:
            keep, problem = list_reference(event.type, list_id, position)
            problems.append(problem)
            if keep is not None:
                kept.append(FromList(event, keep, position))
        analytics = self.recommendations.analytics if self.recommendations else None
        if kept and analytics is not None:
            await analytics.note_list_events(self, kept)
        return problems

    def shop_report(self, days: int) -> ShopReport:
        """The shop's figures over the last ``days`` days (docs/insights.md), each part made
        on first use. For the back office's fields: nothing in it is one customer's."""
        from gateway.insights.report import Options, ShopReport

        options = Options(datetime.now(UTC), days)
        # Reads over the whole shop: held to the query timeout, not the request
        # path's one-second deadline (graph/driver.py ``patient``).
        graph = self.host_graph.patient(self.settings.query_timeout)
        return ShopReport(graph, self.consent.keeper.policies, self.settings, options)

    def read_signals(
        self,
        *,
        user_agent: str | None = None,
        network: str | None = None,
        email: str | None = None,
    ) -> tuple[EventSignals, list[IgnoredSignal]]:
        """An event's linking signals as keyed hashes, and those ignored as malformed."""
        keys = self.linking.service.keys if self.linking is not None else None
        if keys is None:
            keys = SignalKeys.from_settings(self.settings)
        return read_signals(keys, user_agent=user_agent, network=network, email=email)

    async def link_later(self, arrivals: Sequence[Arrival]) -> None:
        """Hand stored events to the app's linking queue (linked after the response)."""
        if self.linking is not None:
            await self.linking.submit(arrivals, self.principal.customer_id)

    def report(self, error: GatewayError, info: Info[Any, Any] | None = None) -> None:
        """Add ``error`` to the response without failing the field being resolved."""
        path = info.path.as_list() if info is not None else None
        self.reported_errors.append(to_graphql_error(error, path))
