"""The per-request GraphQL context: who asks, the graph, and this request's DataLoaders."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLError
from pydantic_settings import BaseSettings
from starlette.requests import Request
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from gateway.errors import GatewayError, to_graphql_error
from gateway.fields import FieldRegistry
from gateway.gate import RequestGate
from gateway.gate.loaders import BatchRead, LoaderFactory, OwnedLoaders, batch_loader
from gateway.host.isolation import running_plugin
from gateway.host.manager import PluginDeprecationWarning
from gateway.host.manifests import NO_PLUGIN
from gateway.linking.signals import SignalKeys, read_signals
from gateway.principal import Principal
from gateway.settings import Settings
from gateway.strategies.types import SubjectKind
from graph import Graph

if TYPE_CHECKING:
    from gateway.graphql.operations import Allowlist
    from gateway.host.plugin_graph import PluginGraphs
    from gateway.insights.report import ShopReport
    from gateway.linking import Arrival, EventSignals, IgnoredSignal, LinkQueue
    from gateway.privacy.rights import CustomerRights
    from gateway.strategies import (
        Recommendation,
        RecommendationService,
        ServedList,
        Shopper,
        Subject,
    )
    from graph import Event

S = TypeVar("S", bound=BaseSettings)

__all__ = ["BatchRead", "Context", "LoaderFactory", "batch_loader"]


@dataclass
class Context:
    """``info.context`` in every resolver. Created afresh for each request.

    ``gate`` is the request's gate: ``await info.context.gate.decide(...)`` is
    how plugin code asks whether it may read (docs/hooks.md). Its old name,
    ``consent``, still answers (with a deprecation warning) until API 2.0.
    """

    request: Request | None
    principal: Principal
    # The host's graph: every category, any Cypher. Plugin code gets a checked
    # one: graph_for(info), or its loaders' (gateway/host/plugin_graph.py).
    host_graph: Graph
    settings: Settings
    # This app's DataLoader factories and their owners; each is made on first use.
    loaders: OwnedLoaders
    gate: RequestGate
    plugin_settings_by_type: Mapping[type[BaseSettings], BaseSettings] = field(default_factory=dict)
    # Errors a resolver reports beside a value it still returns (e.g. one bad
    # event of a batch); label_errors (gateway/errors.py) adds them to the response.
    reported_errors: list[GraphQLError] = field(default_factory=list)
    # The app's recommenders (gateway/strategies); None outside an app.
    recommendations: RecommendationService | None = None
    # This app's plugin graphs; None outside an app (then graph is the host's).
    graphs: PluginGraphs | None = None
    # What the client may run (gateway/graphql/operations.py); None for anonymous callers.
    operations: Allowlist | None = None
    # The app's linking queue (gateway/linking); None outside a running app.
    linking: LinkQueue | None = None
    # The customer's rights through every plugin (erasure); None outside an app.
    rights: CustomerRights | None = None
    _loaders: dict[str | tuple[str, str], DataLoader[Any, Any]] = field(default_factory=dict)

    @property
    def consent(self) -> RequestGate:
        """The request's gate under its old name: use ``gate`` (removed in plugin API 2.0)."""
        warnings.warn(
            PluginDeprecationWarning(
                "info.context.consent is deprecated since plugin API 1.1 and removed in 2.0: "
                "use info.context.gate"
            ),
            stacklevel=2,
        )
        return self.gate

    def loader(self, name: str) -> DataLoader[Any, Any]:
        """This request's DataLoader ``name`` (made on first use: most requests need few).

        A loader another plugin registered reads, for the calling plugin, only
        the categories both declared (gateway/gate/loaders.py).
        """
        caller = running_plugin()
        key = self.loaders.key(name, caller)
        found = self._loaders.get(key)
        if found is None:
            found = self._loaders[key] = self.loaders.make(name, self.host_graph, caller)
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
        return self.gate.keeper.registry

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

        The subject's row rule runs first, whoever asks: a customer's own (or
        the back office's) recommendations, a visit its holder may read (else
        FORBIDDEN). A visit's personal strategies then need the consent of the
        customer it was signed in as: the gate says who that is.
        ``signed_in_as`` is no longer read (the gate knows); it is kept so that
        callers written against API 1.0 still work. ``placement``: where the
        list is shown, for its figures (docs/insights.md).
        """
        if self.recommendations is None:
            raise LookupError("this app serves no recommendations")
        owner = await self._admit(subject)
        return await self.recommendations.recommend(
            self.gate, self.host_graph, subject, first, strategy, owner, placement
        )

    async def _admit(self, subject: Subject, *, first_visit: bool = False) -> str | None:
        """The subject's row rule (FORBIDDEN or NOT_FOUND when this token may not ask
        about it); the customer a visit was signed in as."""
        where = f"recommendations for {subject.kind.value} {subject.id!r}"
        if subject.kind is SubjectKind.CUSTOMER:
            self.gate.admit_customer(subject.id, where)
        elif subject.kind is SubjectKind.SESSION:
            return await self.gate.admit_session(subject.id, where, first_visit=first_visit)
        return None

    async def serve_list(
        self,
        subject: Subject,
        first: int,
        *,
        placement: str,
        shopper: Shopper | None,
        signed_in_as: str | None = None,
    ) -> ServedList:
        """One list for a placement: its opaque id and its items, numbered from 1.

        The subject's row rule runs first, as for :meth:`recommend`; a visit the
        graph has never seen (a first visit) has nothing to read and is
        admitted as anonymous. ``signed_in_as`` is the gate's to say, as there.
        """
        if self.recommendations is None:
            raise LookupError("this app serves no recommendations")
        owner = await self._admit(subject, first_visit=True)
        return await self.recommendations.serve(
            self.gate,
            self.host_graph,
            subject,
            first,
            placement=placement,
            shopper=shopper,
            signed_in_as=owner,
        )

    async def from_lists(
        self, events: Sequence[tuple[Event, str | None, int | None]]
    ) -> list[str | None]:
        """Note stored events the client sent "from list X" (``listId``, ``position``).

        Returns, per event, why its list id was not kept (None: kept, or none
        given). Events whose shopper's consent does not allow ``analytics``
        are not noted (docs/insights.md).
        """
        from gateway.insights.recorder import Analytics, FromList, list_reference

        problems: list[str | None] = []
        kept: list[FromList] = []
        for event, list_id, position in events:
            keep, problem = list_reference(event.type, list_id, position)
            problems.append(problem)
            if keep is not None:
                kept.append(FromList(event, keep, position))
        analytics = self.recommendations.analytics if self.recommendations else None
        if kept and isinstance(analytics, Analytics):
            await analytics.note_list_events(self.gate, kept)
        return problems

    def shop_report(self, days: int) -> ShopReport:
        """The shop's figures over the last ``days`` days (docs/insights.md), each part made
        on first use. For the back office's fields: nothing in it is one customer's."""
        from gateway.insights.report import Options, ShopReport

        options = Options(datetime.now(UTC), days)
        # Reads over the whole shop: held to the query timeout, not the request
        # path's one-second deadline (graph/driver.py ``patient``).
        graph = self.host_graph.patient(self.settings.query_timeout)
        return ShopReport(graph, self.gate.keeper.policies, self.settings, options)

    def read_signals(
        self,
        *,
        user_agent: str | None = None,
        network: str | None = None,
        email: str | None = None,
        email_verified: bool = False,
    ) -> tuple[EventSignals, list[IgnoredSignal]]:
        """An event's linking signals as keyed hashes, and those ignored as malformed.

        ``email_verified`` counts only when the sender is the shop's own back end
        (``gate.vouches``); from anyone else the email is only typed.
        """
        keys = self.linking.service.keys if self.linking is not None else None
        if keys is None:
            keys = SignalKeys.from_settings(self.settings)
        verified = email_verified and self.gate.vouches
        return read_signals(
            keys, user_agent=user_agent, network=network, email=email, email_verified=verified
        )

    async def link_later(self, arrivals: Sequence[Arrival]) -> None:
        """Hand stored events to the app's linking queue (linked after the response)."""
        if self.linking is not None:
            await self.linking.submit(arrivals, self.principal.customer_id)

    def report(self, error: GatewayError, info: Info[Any, Any] | None = None) -> None:
        """Add ``error`` to the response without failing the field being resolved."""
        path = info.path.as_list() if info is not None else None
        self.reported_errors.append(to_graphql_error(error, path))
