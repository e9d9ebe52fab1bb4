"""The gate of one app (:class:`Gatekeeper`) and of one request (:class:`RequestGate`).

``info.context.gate`` is the request's gate. The field extensions
(gateway/gate/field_extensions.py) use it for every gated field, and plugin code (a
recommendation strategy, an identity linker) asks it the same question with one
call::

    decision = await info.context.gate.decide(
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
from gateway.gate.declared import Declared, require
from gateway.gate.ids import VisitIds, vouches
from gateway.gate.policy import ConsentQuestion, Decision, Policies
from gateway.gate.scopes import ScopeTable
from gateway.principal import ClientKind, Principal
from graph import (
    PURPOSES,
    AccessRecord,
    Consent,
    Graph,
    consents_of_customers,
    sessions_by_id,
    set_consent,
)

if TYPE_CHECKING:
    from gateway.gate.access_log import AccessLog

log = logging.getLogger("tightrope.gate")

# Told when a customer withdraws consent for a purpose (the consent_withdrawn hook).
Withdrawn = Callable[[str, str, Graph], Awaitable[None]]

# Where an answer comes from: the API, the privacy page, a file, or the
# browser's Global Privacy Control signal (gateway/gate/gpc.py).
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
        declared_by: Callable[[str], Declared] | None = None,
        ids: VisitIds | None = None,
    ) -> None:
        self.registry = registry
        # The device and session ids this deployment issues (gateway/gate/ids.py).
        self.ids = ids
        self.policies = policies
        self.withdrawn = withdrawn
        # What each plugin declared (its manifest, gateway/host/manifests.py);
        # decide() refuses anything else. None: no check.
        self.declared_by = declared_by
        self.scope_table = ScopeTable(registry.scopes)
        # Set when the app starts (it needs the graph); None until then.
        self.access_log: AccessLog | None = None

    def scopes_for(self, principal: Principal) -> frozenset[str]:
        """The scopes a principal's token counts for: its kind's, none of the back
        office's when it speaks for a customer."""
        allowed = self.scope_table.allowed(
            principal.client_kind, customer=principal.customer_id is not None
        )
        return principal.scopes & allowed

    def for_request(self, principal: Principal, graph: Graph, source: str = "api") -> RequestGate:
        """The gate of one request; ``source`` is where a consent it changes was given."""
        return RequestGate(self, principal, graph, source)


@dataclass
class _Read:
    categories: set[DataCategory] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


class RequestGate:
    """``info.context.gate``: the gate's decisions for one request."""

    def __init__(
        self, keeper: Gatekeeper, principal: Principal, graph: Graph, source: str = "api"
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        self.keeper = keeper
        self.principal = principal
        self.graph = graph
        # Where a consent changed in this request was given: the API, or the
        # host's privacy page (which asks through the gate like any client).
        self.source = source
        # A scope counts only if the client's kind may hold it at all
        # (ScopeSpec.kinds), and never the back office's for a customer's
        # token, whatever the token says (gateway/gate/scopes.py).
        self.scopes = keeper.scopes_for(principal)
        self._consents: DataLoader[str, dict[str, Consent]] | None = None
        self._decisions: dict[tuple[object, ...], Decision] = {}
        self._reads: dict[tuple[str, Purpose, str], _Read] = {}
        self._first_read: datetime | None = None
        # Sessions whose row rule this request passed, with their customer.
        self._sessions: dict[str, str | None] = {}
        # Visits admitted as a first visit (no row yet): asked again in this
        # request, they cost no second read.
        self._first_visits: set[str] = set()
        # The records finish() last handed to the access log (for checks of the
        # two ways an operation runs: gateway/graphql/prepared/).
        self.handed_over: tuple[AccessRecord, ...] = ()

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
        if self.keeper.declared_by is not None:
            require(
                self.keeper.declared_by(plugin),
                plugin=plugin,
                doing="asked the gate to read for",
                purposes=[purpose],
                categories=wanted,
            )
        decision = await self.decision(subject, purpose, wanted, plugin)
        if decision.allowed and subject is not None:
            self.record(subject, decision.purpose, wanted, plugin, read or plugin)
        return decision

    def admit_customer(self, customer_id: str, where: str) -> str:
        """The row rule for a customer named by id: this token's own, or the back office.

        Raises FORBIDDEN otherwise (``where`` names what asked).
        """
        return rows.customer(self.principal, self.scopes, customer_id, lambda: where)

    async def admit_session(
        self, session_id: str, where: str, *, first_visit: bool = False
    ) -> str | None:
        """The row rule for a visit named by id; returns the customer it was signed in as.

        A visit a gated field of this request already admitted costs nothing;
        another is read from the graph (NOT_FOUND when there is none, unless
        ``first_visit``: a visit nothing was recorded for yet has nothing to
        read, and is anonymous).
        """
        if session_id in self._sessions:
            return self._sessions[session_id]
        if first_visit and session_id in self._first_visits:
            return None
        (row,) = await sessions_by_id(self.graph, [session_id])
        if row is None:
            if first_visit:
                self._first_visits.add(session_id)
                return None
            raise NotFound(f"{where}: no session {session_id!r}", id=session_id)
        owner = rows.session_row(self.principal, self.scopes, row, lambda: where, self.keeper.ids)
        return self.passed_session(row.id, owner)

    def passed_session(self, session_id: str, customer_id: str | None) -> str | None:
        """Note that this request may read the visit (its row rule allowed it)."""
        self._sessions[session_id] = customer_id
        return customer_id

    def written_for(self, customer_id: str | None) -> str | None:
        """The customer a write in this token's name is about (``trackEvents``); raises
        PermissionError when the token may not write for the customer named."""
        return rows.written_for(self.principal, customer_id)

    @property
    def vouches(self) -> bool:
        """Whether this sender's word is the shop's own (gateway/gate/ids.py): it may name
        ids the gateway did not issue, and say an email was verified."""
        return vouches(self.principal)

    def unissued(self, session_id: str | None, device_id: str | None) -> tuple[str, str] | None:
        """Why this sender may not name these ids in an event: (field, reason); None if it may."""
        if self.vouches:
            return None
        if self.keeper.ids is None:
            return "device_id", "this gateway issues no ids"
        return self.keeper.ids.problem(session_id, device_id)

    def start_visit(self, device_id: str | None) -> tuple[str, str, bool]:
        """Ids for a visit: (device id, session id, whether the device id is new).

        A device id this gateway issued is kept; anything else (none, a
        device id chosen by a browser, one from another deployment) is replaced.
        """
        ids = self.keeper.ids
        if ids is None:  # an app always has them; a gate built without one cannot issue
            raise RuntimeError("this gate issues no ids")
        fresh = device_id is None or not ids.is_device(device_id)
        device = ids.new_device() if fresh or device_id is None else device_id
        return device, ids.new_session(device), fresh

    async def consents(self, customer_id: str) -> Mapping[str, Consent]:
        """The customer's current consents; read at most once per request."""
        return await self.consents_ahead(customer_id)

    def consents_ahead(self, customer_id: str) -> Awaitable[Mapping[str, Consent]]:
        """Start reading the customer's consents now (a plan reads them with its other
        reads: gateway/graphql/prepared/ahead.py); :meth:`consents` then finds them read."""
        if self._consents is None:
            self._consents = DataLoader(load_fn=partial(consents_of_customers, self.graph))
        return self._consents.load(customer_id)

    async def set_consent(
        self, purpose: str, granted: bool, *, version: str, source: str | None = None
    ) -> Consent:
        """Record the token's customer's answer for ``purpose`` and keep it in the history.

        ``version`` is the policy version the customer answered under (the
        consent plugin's setting); ``source`` defaults to where this request
        came from (``api``, or ``page`` for the privacy page). A withdrawal
        bites on the very next request (nothing is cached) and tells every
        plugin through the ``consent_withdrawn`` hook.
        """
        source = source or self.source
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

    @property
    def decisions(self) -> dict[tuple[object, ...], Decision]:
        """The decisions made in this request so far, by (customer, purpose, categories,
        plugin): what the gate answered, never kept beyond the request."""
        return dict(self._decisions)

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
        self.handed_over = tuple(records)
        if self.keeper.access_log is not None:
            self.keeper.access_log.add(records)


async def _no_consents() -> Mapping[str, Consent]:
    return {}
