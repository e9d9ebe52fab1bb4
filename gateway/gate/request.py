"""The gate of one app (:class:`Gatekeeper`) and of one request (:class:`RequestGate`).

``info.context.consent`` is the request's gate. The field extensions
(gateway/gate/fields.py) use it for every gated field, and plugin code (a
recommendation strategy, an identity linker) asks it the same question with one
call::

    decision = await info.context.consent.decide(
        purpose="personalisation", categories=["purchase_history"], plugin="my-plugin"
    )

A decision is kept for the rest of the request; the customer's consents are
read at most once per request (a DataLoader), and only when a policy asks for
them. Nothing is kept across requests: a consent changed anywhere bites on the
next request of every process. Allowed reads are grouped per customer, purpose
and plugin and handed to the access log when the operation ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import EllipsisType
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from gateway.errors import BadUserInput, NotFound, Unauthenticated
from gateway.fields import DataCategory, FieldRegistry, Purpose
from gateway.gate import rows
from gateway.gate.policy import ConsentQuestion, Decision, Policies
from gateway.manifests import Manifests, UndeclaredRead, missing
from gateway.principal import ClientKind, Principal
from graph import PURPOSES, AccessRecord, Consent, Graph, consents_of_customers, set_consent

if TYPE_CHECKING:
    from gateway.gate.access_log import AccessLog

log = logging.getLogger("tightrope.gate")

# Told when a customer withdraws consent for a purpose (the consent_withdrawn hook).
Withdrawn = Callable[[str, str, Graph], Awaitable[None]]

# Where an answer comes from: the API, the privacy page, a file, or the
# browser's Global Privacy Control signal (gateway/gpc.py).
SOURCES = ("api", "page", "import", "gpc")


async def _nobody_told(customer_id: str, purpose: str, graph: Graph) -> None:
    return None


class Gatekeeper:
    """What every request's gate shares: policies, scope kinds, registry, the access log."""

    def __init__(
        self,
        registry: FieldRegistry,
        policies: Policies,
        withdrawn: Withdrawn = _nobody_told,
        manifests: Manifests | None = None,
    ) -> None:
        self.registry = registry
        self.policies = policies
        self.withdrawn = withdrawn
        # What each plugin declared; decide() refuses anything else. None: no check.
        self.manifests = manifests
        self._kind_scopes = {kind: registry.scopes_for(kind) for kind in ClientKind}
        self.service_only = registry.service_only
        # Set when the app starts (it needs the graph); None until then.
        self.access_log: AccessLog | None = None

    def scopes_for(self, kind: ClientKind | None) -> frozenset[str]:
        return frozenset() if kind is None else self._kind_scopes[kind]

    def for_request(self, principal: Principal, graph: Graph) -> RequestGate:
        return RequestGate(self, principal, graph)


@dataclass
class _Read:
    categories: set[DataCategory] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


class RequestGate:
    """``info.context.consent``: the gate's decisions for one request."""

    def __init__(self, keeper: Gatekeeper, principal: Principal, graph: Graph) -> None:
        self.keeper = keeper
        self.principal = principal
        self.graph = graph
        # A scope counts only if the client's kind may hold it at all
        # (ScopeSpec.kinds), whatever the token says; a service-only scope never
        # on a token issued for a customer.
        self.scopes = principal.scopes & keeper.scopes_for(principal.client_kind)
        if principal.customer_id is not None:
            self.scopes -= keeper.service_only
        self._consents: DataLoader[str, dict[str, Consent]] | None = None
        self._decisions: dict[tuple[object, ...], Decision] = {}
        self._reads: dict[tuple[str, Purpose, str], _Read] = {}
        self._first_read: datetime | None = None

    # -- what plugins call ------------------------------------------------------

    async def decide(
        self,
        *,
        purpose: Purpose | str,
        categories: Iterable[DataCategory | str],
        plugin: str,
        customer_id: str | EllipsisType | None = ...,
        read: str | None = None,
    ) -> Decision:
        """May ``plugin`` read ``categories`` of the customer's data for ``purpose``?

        Ask right before reading. ``customer_id`` defaults to the token's
        customer (None: an anonymous visitor). An allowed read of a customer's
        data is recorded in their access log under ``read`` (default: the
        plugin's name). A third-party client also needs ``third_party_sharing``.
        """
        subject = self.principal.customer_id if customer_id is ... else customer_id
        wanted = frozenset(DataCategory(c) for c in categories)
        purpose = Purpose(purpose)
        if self.keeper.manifests is not None:
            manifest = self.keeper.manifests.of(plugin)
            undeclared = missing(manifest, [purpose], wanted)
            if undeclared:
                error = UndeclaredRead(plugin, "asked the gate to read for", undeclared)
                log.error("%s", error.message)
                raise error
        decision = await self.decision(subject, purpose, wanted, plugin)
        if decision.allowed and subject is not None:
            self.record(subject, decision.purpose, wanted, plugin, read or plugin)
        return decision

    def written_for(self, customer_id: str | None) -> str | None:
        """The customer a write in this token's name is about (``trackEvents``); raises
        PermissionError when the token may not write for the customer named."""
        return rows.written_for(self.principal, customer_id)

    async def consents(self, customer_id: str) -> Mapping[str, Consent]:
        """The customer's current consents; read at most once per request."""
        if self._consents is None:
            self._consents = DataLoader(load_fn=partial(consents_of_customers, self.graph))
        return await self._consents.load(customer_id)

    async def set_consent(
        self, purpose: str, granted: bool, *, source: str, version: str
    ) -> Consent:
        """Record the token's customer's answer for ``purpose`` and keep it in the history.

        A withdrawal bites on the very next request (nothing is cached) and
        tells every plugin through the ``consent_withdrawn`` hook.
        """
        customer = self.principal.customer_id
        if customer is None:
            raise Unauthenticated("changing consent needs a token issued for a customer")
        if purpose not in PURPOSES:
            raise BadUserInput(
                f"unknown purpose {purpose!r}: one of {', '.join(PURPOSES)}", argument="purpose"
            )
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        stored = await set_consent(
            self.graph, customer, purpose, granted, source=source, version=version
        )
        if stored is None:
            raise NotFound(f"no customer with id {customer!r}", id=customer)
        # Later fields of this request see the change too. (Dropping the loader,
        # not clearing one key: a second change in the request would find the
        # key gone, and strawberry's clear raises KeyError then.)
        self._consents = None
        self._decisions.clear()
        if not granted:
            await self.keeper.withdrawn(customer, purpose, self.graph)
        return stored

    # -- what the field gate calls ----------------------------------------------

    async def decision(
        self,
        subject: str | None,
        purpose: Purpose,
        categories: frozenset[DataCategory],
        plugin: str,
    ) -> Decision:
        key = (subject, purpose, categories, plugin)
        found = self._decisions.get(key)
        if found is None:
            found = self._decisions[key] = await self._ask(subject, purpose, categories, plugin)
        return found

    async def _ask(
        self,
        subject: str | None,
        purpose: Purpose,
        categories: frozenset[DataCategory],
        plugin: str,
    ) -> Decision:
        principal = self.principal
        kind = principal.client_kind
        purposes = [purpose]
        # Another company reading anything personal is third-party sharing,
        # whatever else the read is for and whatever its scopes.
        if kind is ClientKind.THIRD_PARTY and purpose is not Purpose.THIRD_PARTY_SHARING:
            purposes.append(Purpose.THIRD_PARTY_SHARING)
        for asked in purposes:
            question = ConsentQuestion(
                asked,
                categories,
                subject,
                principal.client_id,
                kind,
                plugin,
                partial(self.consents, subject) if subject is not None else _no_consents,
            )
            answer = await self.keeper.policies.decide(question)
            if not answer.allowed:
                return answer
        return Decision(True, None, purpose, categories)

    def record(
        self,
        subject: str,
        purpose: Purpose,
        categories: Iterable[DataCategory],
        plugin: str,
        what: str,
    ) -> None:
        """Note an allowed read; the access log gets it when the operation ends."""
        if self._first_read is None:
            self._first_read = datetime.now(UTC)
        read = self._reads.get((subject, purpose, plugin))
        if read is None:
            read = self._reads[(subject, purpose, plugin)] = _Read()
        read.categories.update(categories)
        read.fields.add(what)

    def finish(self) -> None:
        """Hand this request's reads to the access log (called once, at the end)."""
        if not self._reads:
            return
        at = self._first_read or datetime.now(UTC)
        principal = self.principal
        kind = principal.client_kind.value if principal.client_kind else None
        records = [
            AccessRecord(
                id=uuid.uuid4().hex,
                customer_id=subject,
                at=at,
                client_id=principal.client_id,
                client_kind=kind,
                purpose=purpose.value,
                plugin=plugin,
                categories=tuple(sorted(c.value for c in read.categories)),
                fields=tuple(sorted(read.fields)),
            )
            for (subject, purpose, plugin), read in self._reads.items()
        ]
        self._reads = {}
        if self.keeper.access_log is not None:
            self.keeper.access_log.add(records)


async def _no_consents() -> Mapping[str, Consent]:
    return {}
