"""The host's rules for households: when a device is several customers' home device.

A household (graph/households.py) is two or more customers who share a home
and its devices, each of whom granted ``cross_device``. A device becomes a
household's in two ways, decided after a batch's links (gateway/linking/rules.py
calls :func:`split` before its rule 3 and :func:`settle` after its writes):

* **Proved.** Two or more customers proved the device theirs (signed in on
  it, an email the shop verified there): the device and they are one
  household's. Every one of them must be allowed ``cross_device`` by the
  consent gate (the proving linker's question, as for a guess); otherwise the
  device is only *shared* (graph/sessions.py): nobody's, and nobody joins
  anything. A kiosk, or a device proved by more customers than a household
  may have, is no home's.
* **Guessed.** When guesses at least ``household_member_confidence`` sure
  (0.5) about one device name more customers than
  ``max_customers_per_device`` allows, none of them is linked to it (rule 4:
  the evidence cannot tell them apart: a family tablet, a couple's laptop).
  If the consent gate allows each of them, and together they are at least
  ``min_confidence`` sure that the device is one of theirs, the device is
  their household's. "Together" is 1 - prod(1 - p): the chance that at least one
  guess is right if they were independent, below the sum that calibrated
  guesses about one owner would give. A device anyone proved is not guessed
  at, nor one linked by a guess to somebody else.

Either way the customers must share a home with the device: each has another
device proved theirs seen on a network the device was seen on, a network few
devices use (at most ``public_devices``, the public-network cut-off: a home,
not a cafe). Knowing a device's id is not living with its owner: someone who
signs in on another's phone with its id does not join their household. And
under the locks of one write transaction (graph/households.py
``apply_households``): a customer whose stored ``cross_device`` answer is now
a refusal joins nothing, customers already in two households are not merged
(nothing is written), and a household never grows past
``household_max_members``. A guess that one person owns a household's device
is dropped: the evidence fits several.

Withdrawing ``cross_device`` leaves every household (gateway/linking/maintenance.py);
so does an erasure (graph/erasure.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.linking.types import Outcome, Verdict
from graph.households import (
    PROVED,
    HouseholdState,
    HouseholdWrite,
    Shared,
    apply_households,
    provers_of,
)

if TYPE_CHECKING:
    from gateway.linking.data import SharedReads
    from gateway.linking.rules import Checked, LinkRules
    from graph import Graph

KIOSK = "kiosk"
SEVERAL = "the evidence names several customers for this device"


@dataclass(frozen=True, slots=True)
class Claim:
    """Customers one device is to be the household device of, and why."""

    customers: frozenset[str]
    shared: Shared
    # The proposals behind a guess (each gets an outcome); none for a proof.
    guesses: tuple[Checked, ...] = ()

    @property
    def device_id(self) -> str:
        return self.shared.device_id


def split(
    guesses: Sequence[Checked], allowed: Collection[tuple[str, str]], rules: LinkRules
) -> tuple[dict[str, list[Checked]], list[Checked]]:
    """The guesses about devices that fit several customers the gate allows (by device),
    and the rest, which the person-level rules decide."""
    named: dict[str, set[str]] = defaultdict(set)
    for c in guesses:
        p = c.proposal
        if p.confidence >= rules.household_member_confidence and (c.linker, p.customer_id) in (
            allowed
        ):
            named[p.device_id].add(p.customer_id)
    several = {d for d, names in named.items() if len(names) > rules.max_customers_per_device}
    fits: dict[str, list[Checked]] = defaultdict(list)
    rest: list[Checked] = []
    for c in guesses:
        if c.proposal.device_id in several:
            fits[c.proposal.device_id].append(c)
        else:
            rest.append(c)
    return dict(fits), rest


def _guessed(
    device: str, guesses: Sequence[Checked], allowed: Collection[tuple[str, str]], floor: float
) -> Claim:
    best: dict[str, float] = {}
    used: list[Checked] = []
    for c in guesses:
        p = c.proposal
        if p.confidence >= floor and (c.linker, p.customer_id) in allowed:
            best[p.customer_id] = max(best.get(p.customer_id, 0.0), p.confidence)
            used.append(c)
    together = 1.0 - math.prod(1.0 - p for p in best.values())
    codes = tuple(sorted({e.code for c in used for e in c.proposal.evidence}))
    shared = Shared(
        device,
        used[0].proposal.method,
        together,
        max(c.evidence_at for c in used),
        (f"Fits {len(best)} members of the household, none of them alone",),
        codes,
        ",".join(sorted({c.linker for c in used})),
    )
    return Claim(frozenset(best), shared, tuple(used))


def _proved(device: str, customers: Iterable[str], at: datetime, linker: str) -> Claim:
    people = frozenset(customers)
    evidence = (f"Signed in on by {len(people)} members of the household",)
    return Claim(people, Shared(device, PROVED, 1.0, at, evidence, ("SIGNED_IN",), linker))


@dataclass
class _Plan:
    """What one decision writes, household by household, as it goes."""

    state: HouseholdState
    at: datetime
    home: dict[str, str | None] = field(default_factory=dict)  # customer -> household
    members: dict[str, set[str]] = field(default_factory=dict)  # household -> members
    writes: dict[str, HouseholdWrite] = field(default_factory=dict)

    def household_of(self, customer: str) -> str | None:
        if customer not in self.home:
            known = self.state.customers.get(customer)
            self.home[customer] = known.household if known else None
        return self.home[customer]

    def members_of(self, household: str) -> set[str]:
        if household not in self.members:
            self.members[household] = set(self.state.households.get(household, frozenset()))
        return self.members[household]


def _problem(plan: _Plan, claim: Claim, rules: LinkRules) -> str | None:
    """Why the claim cannot be written now, under the locks; None if it can."""
    device = plan.state.devices.get(claim.device_id)
    if device is None or any(c not in plan.state.customers for c in claim.customers):
        return "no such device or customer"
    if claim.guesses:
        if device.provers:
            return "a customer proved this device theirs"
        if device.guessed - claim.customers:
            return "the device is linked to another customer"
    elif device.kind == KIOSK:
        return "a kiosk is no household's"
    elif not claim.customers <= device.provers:
        return "the customers who proved the device changed"
    if not claim.customers <= device.at_home:
        return "the customers share no home network with the device"
    if any(plan.state.customers[c].cross_device is False for c in claim.customers):
        return "a customer withdrew cross_device consent"
    homes = {plan.household_of(c) for c in claim.customers} | {device.household}
    homes.discard(None)
    if len(homes) > 1:
        return "the customers are members of different households"
    if homes:
        (household,) = homes
        assert household is not None
        if len(plan.members_of(household) | claim.customers) > rules.household_max_members:
            return "the household would have more members than allowed"
    elif len(claim.customers) > rules.household_max_members:
        return "more customers than a household may have"
    return None


def _add(plan: _Plan, claim: Claim) -> None:
    device = plan.state.devices[claim.device_id]
    known = {plan.household_of(c) for c in claim.customers} | {device.household}
    known.discard(None)
    if known:
        (key,) = known
        assert key is not None
        write = plan.writes.get(key) or HouseholdWrite(key, (), (), plan.at)
    else:
        write = HouseholdWrite(None, (), (), plan.at)
        key = write.id
    members = plan.members_of(key)
    joining = tuple((c, claim.shared.method) for c in sorted(claim.customers - members))
    members.update(claim.customers)
    for c in claim.customers:
        plan.home[c] = key
    plan.writes[key] = HouseholdWrite(
        write.household,
        write.members + joining,
        (*write.devices, claim.shared),
        write.at,
        write.new_id,
    )


def choose(
    state: HouseholdState, claims: Sequence[Claim], rules: LinkRules, at: datetime
) -> tuple[list[HouseholdWrite], list[Outcome]]:
    """What to write for the claims, in order, and the outcome of each guess behind them."""
    plan = _Plan(state, at)
    outcomes: list[Outcome] = []
    for claim in claims:
        problem = _problem(plan, claim, rules)
        home = state.devices[claim.device_id].household if problem is None else None
        if claim.guesses and home is not None and claim.customers <= plan.members_of(home):
            problem = "already the household's"
        if problem is None:
            _add(plan, claim)
        for c in claim.guesses:
            if problem is None:
                verdict, reason = Verdict.HOUSEHOLD, "linked to the household it fits"
            elif problem == "already the household's":
                verdict, reason = Verdict.UNCHANGED, problem
            else:
                verdict, reason = Verdict.REFUSED, f"{SEVERAL}; {problem}"
            outcomes.append(Outcome(c.proposal, c.linker, verdict, reason))
    return list(plan.writes.values()), outcomes


async def settle(
    graph: Graph,
    shared: SharedReads,
    rules: LinkRules,
    fits: Mapping[str, Sequence[Checked]],
    allowed: Collection[tuple[str, str]],
    proofs: Sequence[Checked],
) -> list[Outcome]:
    """Write the batch's household devices (see the module); the outcome of every guess in
    ``fits``. ``proofs`` are the deterministic proposals the batch just linked."""
    outcomes: list[Outcome] = []
    claims: list[Claim] = []
    floor = rules.household_member_confidence
    for device, guesses in sorted(fits.items()):
        claim = _guessed(device, guesses, allowed, floor)
        if claim.shared.confidence >= rules.min_confidence:
            claims.append(claim)
            outcomes += [
                _refused(c, _left_out(c, allowed)) for c in guesses if c not in claim.guesses
            ]
        else:
            reason = f"together {claim.shared.confidence:.2f}, under the threshold"
            outcomes += [_refused(c, reason) for c in guesses]
    claims += await _proved_claims(graph, shared, proofs)
    if not claims:
        return outcomes
    devices = {c.device_id for c in claims}
    customers = {p for c in claims for p in c.customers}
    decided: list[Outcome] = []

    def decide(state: HouseholdState) -> list[HouseholdWrite]:
        # May run again when the transaction is retried: start afresh each time.
        writes, found = choose(state, claims, rules, max(c.shared.linked_at for c in claims))
        decided[:] = found
        return writes

    await apply_households(graph, devices, customers, decide, rules.public_devices)
    return outcomes + decided


def _left_out(c: Checked, allowed: Collection[tuple[str, str]]) -> str:
    """Why a guess about a household's device is not one of those it fits."""
    if (c.linker, c.proposal.customer_id) not in allowed:
        return "the consent gate does not allow cross_device for them"
    return f"confidence {c.proposal.confidence:.2f} is under the household threshold"


def _refused(c: Checked, why: str) -> Outcome:
    return Outcome(c.proposal, c.linker, Verdict.REFUSED, f"{SEVERAL}; {why}")


async def _proved_claims(
    graph: Graph, shared: SharedReads, proofs: Sequence[Checked]
) -> list[Claim]:
    """Devices the batch's proofs leave proved by several customers the gate allows."""
    if not proofs:
        return []
    found = await provers_of(graph, sorted({c.proposal.device_id for c in proofs}))
    claims = []
    for c in proofs:
        device = c.proposal.device_id
        people = found.pop(device, frozenset())
        if len(people) < 2:
            continue
        linker = shared.linkers.get(c.linker)
        if linker is None or await shared.allowed(people, linker) != people:
            continue
        claims.append(_proved(device, people, c.evidence_at, c.linker))
    return claims
