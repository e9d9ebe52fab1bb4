"""The host's side of linking: from stored events to written links, one batch at a time.

A :class:`LinkingService` is built once per app (and by ``tightrope load``
and the evaluation) from the plugins' ``register_identity_linkers`` results:
names unique, purpose ``cross_device``, categories declared, ``propose``
async. :meth:`LinkingService.link` then, for a batch of stored events:

1. groups the events carrying evidence (a sign-in, a signal) by device into
   :class:`~gateway.linking.types.Observation`\\ s (a sign-in sent without a
   device takes its session's devices from the graph);
2. records where each device was seen and with what browser family (hashes
   only, graph/links.py);
3. asks every linker about every observation, side by side, each with a
   :class:`~gateway.linking.data.LinkerData` scoped to its categories and an
   observation stripped of what it may not see; a linker that fails is logged
   with its plugin, and the others still count;
4. applies the host's rules (gateway/linking/rules.py) and writes what passes.

Nothing here runs on a request's critical path: ``trackEvents`` hands its
stored events to a queue (gateway/linking/queue.py) that calls :meth:`link`
after the response.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.fields import DataCategory
from gateway.gate.policy import Policies
from gateway.linking.data import LinkerData, SharedReads
from gateway.linking.rules import Checked, LinkRules, decide, proved_at, shape_problem
from gateway.linking.signals import SignalKeys
from gateway.linking.types import (
    EMAIL,
    Arrival,
    LinkReport,
    Observation,
    Outcome,
    Proposal,
    RegisteredLinker,
    SignIn,
    Verdict,
)
from gateway.settings import SettingsError
from graph import Event
from graph.link_evidence import session_devices
from graph.links import SignalRow, record_signals

if TYPE_CHECKING:
    from gateway.settings import Settings
    from graph import Graph, WriteResult

log = logging.getLogger("tightrope.linking")

# Linkers asked at once within a batch: each may read the graph.
CONCURRENCY = 8
# Products of one device's batch an observation carries.
MAX_SKUS = 100


class LinkingService:
    """One app's identity linkers, the host's rules, and the keys of the signals."""

    def __init__(
        self,
        linkers: Sequence[RegisteredLinker],
        rules: LinkRules,
        policies: Policies,
        keys: SignalKeys | None = None,
    ) -> None:
        self.linkers = list(linkers)
        self.rules = rules
        self.policies = policies
        self.keys = keys

    @classmethod
    def from_settings(
        cls, settings: Settings, linkers: Sequence[RegisteredLinker], policies: Policies
    ) -> LinkingService:
        """The service for the linkers start-up collected and checked
        (gateway/host/collect.py), asking ``policies`` for consent: rules and keys as set."""
        return cls(linkers, LinkRules.from_settings(settings), policies, _keys(settings))

    async def link(
        self, graph: Graph, arrivals: Sequence[Arrival], as_customer: str | None = None
    ) -> LinkReport:
        """Decide and write the links a batch of stored events gives evidence for."""
        report = LinkReport()
        grouped = await _by_device(graph, arrivals)
        if not grouped or not self.linkers:
            return report
        observations = [_observation(d, a, as_customer) for d, a in grouped.items()]
        emails_at = {d: _emails_at(a) for d, a in grouped.items()}
        report.observations = len(observations)
        await record_signals(graph, _signal_rows(observations))
        shared = SharedReads(graph, self.rules, self.policies, self.linkers)
        gate = asyncio.Semaphore(CONCURRENCY)
        asked = [(linker, obs) for obs in observations for linker in self.linkers]
        answers = await asyncio.gather(*(self._ask(lk, ob, shared, gate) for lk, ob in asked))
        checked: list[Checked] = []
        for (linker, observation), answer in zip(asked, answers, strict=True):
            if isinstance(answer, str):
                report.failures.append(answer)
                continue
            for proposal in answer:
                emails = emails_at[observation.device_id]
                item = _check(linker, observation, emails, proposal, report)
                if item is not None:
                    checked.append(item)
        report.outcomes.extend(await decide(graph, shared, self.rules, checked))
        return report

    async def link_written(
        self, graph: Graph, events: Sequence[Event], result: WriteResult
    ) -> LinkReport:
        """Link what a bulk load stored (no signals: sign-ins only); for ``after_write``."""
        refused = {r.index for r in result.rejected}
        arrivals = [Arrival(e) for i, e in enumerate(events) if i not in refused]
        return await self.link(graph, arrivals)

    async def _ask(
        self,
        linker: RegisteredLinker,
        observation: Observation,
        shared: SharedReads,
        gate: asyncio.Semaphore,
    ) -> Sequence[object] | str:
        """The linker's proposals, or a line saying how it failed."""
        seen = _visible(observation, linker.categories)
        async with gate:
            try:
                answer = await linker.linker.propose(seen, LinkerData(linker, shared))
                return list(answer or ())
            except Exception as exc:
                log.warning(
                    "linker %r of plugin %r failed on device %s: %s: %s",
                    linker.name,
                    linker.plugin,
                    observation.device_id,
                    type(exc).__name__,
                    exc,
                )
                return f"{linker.plugin}/{linker.name}: {type(exc).__name__}"


def _check(
    linker: RegisteredLinker,
    observation: Observation,
    emails_at: Mapping[str, tuple[datetime, ...]],
    proposal: object,
    report: LinkReport,
) -> Checked | None:
    problem = shape_problem(proposal)
    if problem is not None:
        log.warning("linker %r of plugin %r: %s", linker.name, linker.plugin, problem)
        report.failures.append(f"{linker.plugin}/{linker.name}: {problem}")
        return None
    assert isinstance(proposal, Proposal)
    if not proposal.deterministic:
        return Checked(proposal, linker.name, observation, observation.at)
    proved = proved_at(observation, proposal, emails_at)
    if isinstance(proved, str):
        report.outcomes.append(Outcome(proposal, linker.name, Verdict.REFUSED, proved))
        return None
    emails = emails_at if proposal.method == EMAIL else {}
    return Checked(proposal, linker.name, observation, proved, emails)


def _visible(observation: Observation, categories: frozenset[DataCategory]) -> Observation:
    """The observation as a linker of these categories may see it."""
    return replace(
        observation,
        skus=observation.skus if DataCategory.BROWSING_HISTORY in categories else (),
        emails=observation.emails if DataCategory.CONTACT in categories else (),
        typed_emails=observation.typed_emails if DataCategory.CONTACT in categories else (),
    )


async def observe(
    graph: Graph, arrivals: Sequence[Arrival], as_customer: str | None = None
) -> list[Observation]:
    """The batch's evidence, per device: sign-ins, signals, what was looked at."""
    grouped = await _by_device(graph, arrivals)
    return [_observation(device, group, as_customer) for device, group in grouped.items()]


async def _by_device(graph: Graph, arrivals: Sequence[Arrival]) -> dict[str, list[Arrival]]:
    """The batch's events of each device that shows evidence, by device id in order."""
    evidence = [a for a in arrivals if a.is_evidence]
    if not evidence:
        return {}
    # A session's device, as the batch itself says, else as the graph holds it.
    known: dict[str, set[str]] = defaultdict(set)
    for a in arrivals:
        if a.event.session_id and a.event.device_id:
            known[a.event.session_id].add(a.event.device_id)
    unknown = {
        a.event.session_id
        for a in evidence
        if a.event.device_id is None and a.event.session_id and a.event.session_id not in known
    }
    for session, devices in (await session_devices(graph, unknown)).items():
        known[session].update(devices)

    def devices_of(event: Event) -> set[str]:
        if event.device_id is not None:
            return {event.device_id}
        return known.get(event.session_id or "", set())

    grouped: dict[str, list[Arrival]] = defaultdict(list)
    for a in arrivals:
        for device in devices_of(a.event):
            grouped[device].append(a)
    with_evidence = {d for a in evidence for d in devices_of(a.event)}
    return {device: grouped[device] for device in sorted(with_evidence)}


def _observation(device: str, arrivals: list[Arrival], as_customer: str | None) -> Observation:
    arrivals = sorted(arrivals, key=lambda a: a.event.at)
    events = [a.event for a in arrivals]
    sign_ins = tuple(
        SignIn(e.customer_id, e.session_id, e.event_id, e.at)
        for e in events
        if e.type == "login" and e.customer_id and e.session_id
    )
    skus = [e.sku for e in reversed(events) if e.sku and e.type in ("view", "add_to_cart")]
    return Observation(
        device_id=device,
        first_at=events[0].at,
        at=events[-1].at,
        sessions=tuple(dict.fromkeys(e.session_id for e in events if e.session_id)),
        sign_ins=sign_ins,
        network=next((a.signals.network for a in reversed(arrivals) if a.signals.network), None),
        user_agent=next(
            (a.signals.user_agent for a in reversed(arrivals) if a.signals.user_agent), None
        ),
        device_kind=next(
            (a.signals.device_kind for a in reversed(arrivals) if a.signals.device_kind), None
        ),
        skus=tuple(dict.fromkeys(skus))[:MAX_SKUS],
        emails=tuple(dict.fromkeys(a.signals.email for a in arrivals if a.signals.email)),
        as_customer=as_customer,
        typed_emails=tuple(
            dict.fromkeys(a.signals.typed_email for a in arrivals if a.signals.typed_email)
        ),
    )


def _emails_at(arrivals: Sequence[Arrival]) -> dict[str, tuple[datetime, ...]]:
    """Each email hash given on the device, with the times of the events that gave it.

    An email proves a link as of its own event, not the batch's latest: a form
    filled in before the customer unlinked the device must not link it again
    because a newer visit came in the same batch (gateway/linking/rules.py).
    """
    given: dict[str, list[datetime]] = defaultdict(list)
    for a in arrivals:
        if a.signals.email:
            given[a.signals.email].append(a.event.at)
    return {email: tuple(sorted(times)) for email, times in given.items()}


def _signal_rows(observations: Sequence[Observation]) -> list[SignalRow]:
    return [
        SignalRow(o.device_id, o.network, o.user_agent, o.device_kind, o.first_at, o.at)
        for o in observations
        if o.network or o.user_agent
    ]


def _keys(settings: Settings) -> SignalKeys | None:
    """The signals' keys, or None where no secret is set: commands that only assemble
    the plugins (``tightrope plugins``, ``tightrope schema``) need none, and a served
    app has checked its secrets before it assembles (create_app)."""
    try:
        return SignalKeys.from_settings(settings)
    except SettingsError:
        return None
