"""What an identity linker is, what it is shown, and what it hands back.

A *linker* is an object a plugin returns from ``register_identity_linkers``.
It says what it is for (its purpose, always ``cross_device``), which kinds of
personal data it reads (its data categories), and answers one question: given
what a device just showed (an :class:`Observation`: the events of one batch on
one device, with their signals), which devices should count as which
customers', how sure is it, and why (:class:`Proposal`). It decides nothing:
the host checks every proposal against its rules (gateway/linking/rules.py:
consent, the threshold, the limits, what the customer undid) and writes what
passes, with its evidence.

Deterministic methods are the host's: ``login`` (the customer signed in on
the device) and ``email`` (the device gave the customer's email address). The
host accepts them only when the observation proves them, whichever linker
proposed them. Any other method is probabilistic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from gateway.fields import DataCategory, Purpose
from graph import Event

if TYPE_CHECKING:
    from gateway.linking.data import LinkerData

# The consent purpose of linking a customer's devices (the gate's Purpose).
CROSS_DEVICE: Final = Purpose.CROSS_DEVICE
# Link methods the host can verify from what it observed itself.
LOGIN: Final = "login"
EMAIL: Final = "email"
DETERMINISTIC: Final = frozenset({LOGIN, EMAIL})
# The customer's own word (confirmDevice): no linker may propose it.
CONFIRMED: Final = "confirmed"


@dataclass(frozen=True, slots=True)
class EventSignals:
    """An event's linking signals, as keyed hashes: never an address, agent or email."""

    network: str | None = None  # the hash of the network prefix
    user_agent: str | None = None  # the hash of the browser family
    # graph.pii.email_hmac of an address given on the device that the shop's back
    # end says was verified (a confirmed checkout): proof of whose device it is.
    email: str | None = None
    device_kind: str | None = None  # mobile, tablet or desktop, as the user agent says
    # The same hash of an address only typed on the device: anyone can type anyone's
    # address, so it is evidence for a guess, never proof.
    typed_email: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.network or self.user_agent or self.email or self.typed_email)


NO_SIGNALS: Final = EventSignals()


@dataclass(frozen=True, slots=True)
class Arrival:
    """An event the graph stored, with its signals: what linking starts from."""

    event: Event
    signals: EventSignals = NO_SIGNALS

    @property
    def is_evidence(self) -> bool:
        """Whether this event can link anything: a sign-in or a signal."""
        return self.event.type == "login" or self.signals.present


@dataclass(frozen=True, slots=True)
class SignIn:
    customer_id: str
    session_id: str
    event_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Observation:
    """What one device showed in one batch of events.

    The host fills in only what the linker's categories allow: ``skus`` need
    ``browsing_history``, ``emails`` (verified by the shop: proof) and
    ``typed_emails`` (only typed: evidence) need ``contact``; the rest is the
    device's (``device``). ``as_customer`` is the customer the sender spoke
    for (a customer's own token), if any.
    """

    device_id: str
    first_at: datetime
    at: datetime  # the latest event
    sessions: tuple[str, ...]
    sign_ins: tuple[SignIn, ...] = ()
    network: str | None = None
    user_agent: str | None = None
    device_kind: str | None = None
    skus: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    as_customer: str | None = None
    typed_emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason for a link: a stable ``code`` and a sentence a customer understands.

    Codes of the built-in linkers: ``SIGNED_IN``, ``SAME_EMAIL``,
    ``SAME_NETWORK``, ``CLOSE_IN_TIME``, ``SAME_PRODUCTS``, ``SAME_BROWSER``.
    The text is shown to the customer ("You signed in on this device on
    2 March 2026"): it must be true and name no one else.
    """

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Proposal:
    """A linker's claim: this device is this customer's, by this method, this sure, because.

    ``features`` are the numbers behind ``confidence`` (for calibration by
    ``tightrope evaluate linking``); they are never stored.
    """

    device_id: str
    customer_id: str
    method: str
    confidence: float
    evidence: tuple[Evidence, ...]
    features: Mapping[str, float] = field(default_factory=dict)

    @property
    def deterministic(self) -> bool:
        return self.method in DETERMINISTIC


@runtime_checkable
class IdentityLinker(Protocol):
    """An identity linker, as ``register_identity_linkers`` returns it."""

    name: str
    purpose: str
    categories: frozenset[DataCategory]

    async def propose(self, observation: Observation, data: LinkerData) -> Sequence[Proposal]:
        """Links the observation suggests; empty when it suggests none."""
        ...


@dataclass(frozen=True, slots=True)
class RegisteredLinker:
    """A linker with the plugin that registered it."""

    linker: Any
    plugin: str

    @property
    def name(self) -> str:
        return str(self.linker.name)

    @property
    def categories(self) -> frozenset[DataCategory]:
        return frozenset(self.linker.categories)


class Verdict(StrEnum):
    LINKED = "linked"  # a new link
    UPDATED = "updated"  # an existing link set anew (upgraded, or surer)
    UNCHANGED = "unchanged"  # already linked at least as well
    REFUSED = "refused"  # the host's rules said no
    SUGGESTED = "suggested"  # too weak to link: the customer is asked (graph/suggestions.py)
    HOUSEHOLD = "household"  # linked to the household of the customers it fits


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the host did with one proposal, and why."""

    proposal: Proposal
    linker: str
    verdict: Verdict
    reason: str


@dataclass
class LinkReport:
    """What one call of the linking service did."""

    observations: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    # Linkers that failed (plugin and error): their proposals are missing, nothing else.
    failures: list[str] = field(default_factory=list)

    def add(self, other: LinkReport) -> None:
        self.observations += other.observations
        self.outcomes.extend(other.outcomes)
        self.failures.extend(other.failures)

    def made(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict in (Verdict.LINKED, Verdict.UPDATED)]
