"""The host's rules for what linkers propose: shape, proof, confidence and consent, then one write.

Each proposal of a batch goes through :class:`LinkRules` in order: its shape,
a deterministic method's proof, a guess's confidence and the consent gate's
yes (or, below the link threshold, a suggestion), no guessing between people
(a device the evidence fits several consenting customers of may be their
household's: gateway/linking/households.py), and one locked write transaction that
re-reads the customer's ``cross_device`` answer. docs/linking.md ("The host's
rules") says each rule in full, and why consent is asked twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.linking import households
from gateway.linking.types import (
    CONFIRMED,
    CROSS_DEVICE,
    EMAIL,
    LOGIN,
    Observation,
    Outcome,
    Proposal,
    Verdict,
)
from graph.links import CustomerState, LinkState, LinkWrite, apply_links

if TYPE_CHECKING:
    from gateway.linking.data import SharedReads
    from gateway.settings import Settings
    from graph import Graph

MAX_EVIDENCE = 5
MAX_TEXT = 300
MAX_ID = 200
MAX_METHOD = 40
# A sign-in beats the customer's word or an email, which beat a guess, when one
# edge must say one method.
_RANK = {LOGIN: 3, CONFIRMED: 2, EMAIL: 2}


@dataclass(frozen=True, slots=True)
class LinkRules:
    min_confidence: float = 0.9
    max_customers_per_device: int = 1
    max_devices_per_customer: int = 8
    public_customers: int = 4
    public_devices: int = 16
    window_days: int = 90
    # A guess from this confidence up to min_confidence is suggested to the
    # customer instead of linked (graph/suggestions.py).
    suggest_confidence: float = 0.5
    household_member_confidence: float = 0.5
    household_max_members: int = 6

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkRules:
        return cls(
            settings.linking_min_confidence,
            settings.linking_max_customers_per_device,
            settings.linking_max_devices_per_customer,
            settings.linking_public_network_customers,
            settings.linking_public_network_devices,
            settings.linking_window_days,
            min(settings.linking_suggest_confidence, settings.linking_min_confidence),
            settings.linking_household_member_confidence,
            settings.linking_household_max_members,
        )

    def public(self, devices: int, customers: int) -> bool:
        """Whether a network seen with this many devices and customers (in the window)
        is public: a cafe, an office, a carrier, whose sharing says nothing."""
        return devices > self.public_devices or customers > self.public_customers


@dataclass(frozen=True, slots=True)
class Checked:
    """A proposal that passed the checks made outside the transaction."""

    proposal: Proposal
    linker: str
    observation: Observation
    # When what proves it happened (a guess: the batch's latest event). For a
    # proof, the batch's first; the time written is chosen under the lock
    # (:func:`_proved`), where the unlinkings and the stored email are known.
    evidence_at: datetime
    # Email hash -> the times of the batch's events on the device that gave it.
    emails_at: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)


def shape_problem(proposal: object) -> str | None:
    """Why a linker's answer is not a proposal the host can consider; None if it is."""
    if not isinstance(proposal, Proposal):
        return f"{type(proposal).__name__} is not a Proposal"
    p = proposal
    for name, value, limit in (
        ("device_id", p.device_id, MAX_ID),
        ("customer_id", p.customer_id, MAX_ID),
        ("method", p.method, MAX_METHOD),
    ):
        if not isinstance(value, str) or not value or len(value) > limit:
            return f"{name} must be a text of 1 to {limit} characters"
    if p.method == CONFIRMED:
        return f"the method {CONFIRMED} is the customer's own word, not a linker's"
    if not isinstance(p.confidence, int | float) or not math.isfinite(p.confidence):
        return "confidence must be a number"
    if not 0.0 <= p.confidence <= 1.0:
        return "confidence must be between 0 and 1"
    if not isinstance(p.evidence, tuple) or not 0 < len(p.evidence) <= MAX_EVIDENCE:
        return f"evidence must be a tuple of 1 to {MAX_EVIDENCE} Evidence"
    for item in p.evidence:
        text = getattr(item, "text", None)
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            return f"each piece of evidence needs a text of 1 to {MAX_TEXT} characters"
    return None


def proved_at(
    observation: Observation,
    proposal: Proposal,
    emails_at: Mapping[str, Sequence[datetime]],
) -> datetime | str:
    """When the observation first proves a deterministic proposal, or why it cannot.

    ``emails_at`` holds, per email hash given on the device, the times of the
    events that gave it. An email's hash is compared with the customer's
    stored one under the lock (:func:`_proved`).
    """
    if proposal.device_id != observation.device_id:
        return "a deterministic link only joins the device where the proof was seen"
    if observation.as_customer is not None and proposal.customer_id != observation.as_customer:
        return "the sender speaks for another customer"
    if proposal.method == LOGIN:
        times = sign_ins_of(observation, proposal.customer_id)
        if not times:
            return "the customer did not sign in on this device"
        return min(times)
    times = [t for given in emails_at.values() for t in given]  # keyed by observation.emails
    if not times:
        return "no email was given on this device"
    return min(times)


def sign_ins_of(observation: Observation, customer_id: str) -> list[datetime]:
    return [s.at for s in observation.sign_ins if s.customer_id == customer_id]


async def decide(
    graph: Graph, shared: SharedReads, rules: LinkRules, proposed: Sequence[Checked]
) -> list[Outcome]:
    """Steps 3 to 5 of the rules for proposals already checked for shape and proof."""
    outcomes: list[Outcome] = []
    guesses = [c for c in proposed if not c.proposal.deterministic]
    allowed: set[tuple[str, str]] = set()  # (linker, customer) the consent gate allows
    for name in sorted({c.linker for c in guesses}):
        asked = {c.proposal.customer_id for c in guesses if c.linker == name}
        allowed.update((name, c) for c in await shared.allowed(asked, shared.linkers[name]))
    # Rule 4 first for devices that guesses fit several customers of: their household's.
    fits, guesses = households.split(guesses, allowed, rules)
    candidates: list[Checked] = [c for c in proposed if c.proposal.deterministic]
    per_device: dict[str, set[str]] = defaultdict(set)
    for c in guesses:
        p = c.proposal
        if p.confidence < rules.suggest_confidence:
            outcomes.append(_refuse(c, f"confidence {p.confidence:.2f} is under the threshold"))
        elif (c.linker, p.customer_id) not in allowed:
            outcomes.append(_refuse(c, "the consent gate does not allow cross_device for them"))
        else:
            candidates.append(c)
            per_device[p.device_id].add(p.customer_id)
    kept: list[Checked] = []
    for c in candidates:
        names = per_device.get(c.proposal.device_id, set())
        if not c.proposal.deterministic and len(names) > rules.max_customers_per_device:
            outcomes.append(_refuse(c, "the evidence names several customers for this device"))
        else:
            kept.append(c)
    kept = _best(kept)
    devices = {c.proposal.device_id for c in kept}
    customers = {c.proposal.customer_id for c in kept}
    verdicts: list[Outcome] = []

    def choose(state: LinkState) -> list[LinkWrite]:
        # May run again when the transaction is retried: start afresh each time.
        verdicts.clear()
        return _choose(state, kept, rules, verdicts)

    await apply_links(graph, devices, customers, choose, keep=sorted(_RANK))
    # A new proof may leave a device proved by several customers: their household's.
    proved = {_pair(v.proposal) for v in verdicts if v.verdict in (Verdict.LINKED, Verdict.UPDATED)}
    proofs = [c for c in kept if c.proposal.deterministic and _pair(c.proposal) in proved]
    shared_by = await households.settle(graph, shared, rules, fits, allowed, proofs)
    return outcomes + verdicts + shared_by


def _pair(p: Proposal) -> tuple[str, str]:
    return (p.device_id, p.customer_id)


def _refuse(c: Checked, reason: str) -> Outcome:
    return Outcome(c.proposal, c.linker, Verdict.REFUSED, reason)


def _best(candidates: Sequence[Checked]) -> list[Checked]:
    """One proposal per device and customer: the strongest method, then the surest, earliest."""
    best: dict[tuple[str, str], Checked] = {}
    for c in candidates:
        key = (c.proposal.device_id, c.proposal.customer_id)
        held = best.get(key)
        if held is None or _strength(c) > _strength(held):
            best[key] = c
    # Deterministic first, so a guess sees the device's proved links of this batch.
    return sorted(best.values(), key=lambda c: (-_RANK.get(c.proposal.method, 0), *_order(c)))


def _strength(c: Checked) -> tuple[int, float, float]:
    return (_RANK.get(c.proposal.method, 0), c.proposal.confidence, -c.evidence_at.timestamp())


def _order(c: Checked) -> tuple[float, str, str]:
    return (-c.proposal.confidence, c.proposal.device_id, c.proposal.customer_id)


def _proved(c: Checked, customer: CustomerState, unlinked_at: datetime | None) -> datetime | str:
    """When the batch proved the link, as far as the locked state lets it count; or why not.

    The proofs are the customer's sign-ins on the device, or the events that
    gave their stored email there. After the customer unlinked the device,
    only a proof newer than that counts (an old sign-in resent beside a new
    one, an old form flushed with a newer visit); the link dates from the
    first that counts.
    """
    p = c.proposal
    if p.method == EMAIL:
        given = () if customer.email_hmac is None else c.emails_at.get(customer.email_hmac, ())
        if not given:
            return "the email given is not the customer's"
        times = list(given)
    else:
        times = sign_ins_of(c.observation, p.customer_id)
    if unlinked_at is not None:
        times = [t for t in times if t > unlinked_at]
        if not times:
            return "the customer unlinked this device after this proof"
    return min(times)


def _choose(
    state: LinkState, kept: Sequence[Checked], rules: LinkRules, verdicts: list[Outcome]
) -> list[LinkWrite]:
    writes: list[LinkWrite] = []
    # Links this decision adds, so that its later proposals see them.
    added: dict[str, set[str]] = defaultdict(set)
    gained: dict[str, int] = defaultdict(int)
    for c in kept:
        p = c.proposal
        device = state.devices.get(p.device_id)
        customer = state.customers.get(p.customer_id)
        if device is None or customer is None:
            verdicts.append(_refuse(c, "no such device or customer"))
            continue
        unlinked_at = device.unlinked.get(p.customer_id)
        existing = device.link_to(p.customer_id)
        evidence_at = c.evidence_at
        if p.deterministic:
            proved = _proved(c, customer, unlinked_at)
            if isinstance(proved, str):
                verdicts.append(_refuse(c, proved))
                continue
            evidence_at = proved
            if existing is not None and _rank(existing.method) >= _RANK[p.method]:
                earlier = existing.linked_at is not None and not evidence_at < existing.linked_at
                if _rank(existing.method) > _RANK[p.method] or earlier:
                    verdicts.append(Outcome(p, c.linker, Verdict.UNCHANGED, "already proved"))
                    continue
        else:
            # The gate said yes before the lock; a refusal stored since then wins
            # (the module's docstring says why this is the policy's answer now).
            if customer.consents.get(CROSS_DEVICE.value) is False:
                verdicts.append(_refuse(c, "the customer withdrew cross_device consent"))
                continue
            if unlinked_at is not None:
                verdicts.append(_refuse(c, "the customer said this device is not theirs"))
                continue
            if existing is not None:
                if _rank(existing.method) > 0 or (existing.confidence or 0.0) >= p.confidence:
                    verdicts.append(Outcome(p, c.linker, Verdict.UNCHANGED, "already linked"))
                    continue
            elif p.confidence < rules.min_confidence:
                others = {e.customer_id for e in device.links} - {p.customer_id}
                if others:
                    verdicts.append(_refuse(c, "the device is another customer's"))
                else:
                    writes.append(_write(c, c.evidence_at, c.evidence_at, suggest=True))
                    verdicts.append(Outcome(p, c.linker, Verdict.SUGGESTED, "suggested"))
                continue
            else:
                others = {e.customer_id for e in device.links} | added[p.device_id]
                others.discard(p.customer_id)
                if len(others) + 1 > rules.max_customers_per_device:
                    verdicts.append(_refuse(c, "the device is another customer's too"))
                    continue
                if customer.devices + gained[p.customer_id] >= rules.max_devices_per_customer:
                    verdicts.append(_refuse(c, "the customer has as many devices as allowed"))
                    continue
        linked_at = evidence_at
        if existing is not None and existing.linked_at is not None and not p.deterministic:
            linked_at = existing.linked_at  # a surer guess keeps when it was first made
        writes.append(_write(c, linked_at, evidence_at))
        verdict = Verdict.LINKED if existing is None else Verdict.UPDATED
        verdicts.append(Outcome(p, c.linker, verdict, "linked"))
        if existing is None:
            added[p.device_id].add(p.customer_id)
            gained[p.customer_id] += 1
    return writes


def _write(
    c: Checked, linked_at: datetime, evidence_at: datetime, suggest: bool = False
) -> LinkWrite:
    p = c.proposal
    return LinkWrite(
        device_id=p.device_id,
        customer_id=p.customer_id,
        method=p.method,
        confidence=1.0 if p.deterministic else float(p.confidence),
        linked_at=linked_at,
        evidence=tuple(e.text for e in p.evidence),
        codes=tuple(str(e.code) for e in p.evidence),
        linker=c.linker,
        evidence_at=evidence_at,
        drop_guesses=p.deterministic,
        suggest=suggest,
    )


def _rank(method: str | None) -> int:
    return _RANK.get(method or "", 0)
