"""One linking evaluation: generate shoppers, replay their visits through the real path, score.

Every visit of the scenario (gateway/evaluation/households.py) is sent, in
time order, exactly as ``trackEvents`` and its queue handle it: the events are
stored by ``write_events``, their signals hashed by the gateway's own
``read_signals``, and the batch linked by the app's
:class:`~gateway.linking.LinkingService` with the installed linkers and the
host's rules, households included. Visits go in groups of :data:`GROUP` (the
queue links up to 20 waiting batches at once under load).

The run uses one threshold, the deployment's ``linking_min_confidence``
(0.9) unless told: households depend on it (several customers' guesses
together must reach it), so figures at a threshold are exact only for a run
at that threshold. Scores, at that threshold:

* the three outcomes per target device, person- and household-level
  precision, coverage, F0.5, and person-level recall when a share of the
  customers answer suggestions (gateway/evaluation/outcomes.py);
* the person-level figures at higher thresholds, from the links made at
  least that sure (close: a higher threshold would also change which of two
  competing guesses a device keeps, which the host's limits make rare);
* the recall ceiling: the share of the person-level target devices for which
  some linker ever proposed their owner, at any confidence. No threshold
  finds more; what keeps a device below it is that no linker saw evidence
  pointing at its owner (for the built-in network linker: the device and a
  device proved its owner's were never seen on one network that is not
  public);
* ``links_without_consent``: the guesses the graph holds, at the end, for
  customers who have not granted ``cross_device``, and the household members
  among them: must be 0;
* the hostile set (gateway/evaluation/hostile.py): takeovers must be 0.

Person-level links are every probabilistic link ever made (a wrong link
that a later sign-in replaced still counts as wrong).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from tqdm import tqdm

from gateway.evaluation.hostile import VICTIMS, hostile
from gateway.evaluation.households import Scale, Scenario, build
from gateway.evaluation.outcomes import SUGGEST, HouseholdLink, person_targets, score_outcomes
from gateway.host.collect import linking_service
from gateway.host.manager import load_plugins
from gateway.linking import (
    DETERMINISTIC,
    Arrival,
    EventSignals,
    LinkingService,
    LinkReport,
    Verdict,
    read_signals,
)
from gateway.settings import Settings
from graph import Graph, write_events
from graph.evaluation import (
    all_links,
    guesses_without_consent,
    household_links,
    members_without_consent,
    prepare,
)
from graph.ingest import write_catalogue, write_customer_base

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
GROUP = 20
# The goal (docs/linking.md, "Measuring it").
GOALS = {
    "person precision": 0.98,
    "household precision": 0.95,
    "coverage": 0.60,
}


@dataclass
class Row:
    threshold: float
    links: int
    correct: int
    found: int  # target devices linked to their owner
    targets: int

    @property
    def precision(self) -> float:
        return self.correct / self.links if self.links else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.targets if self.targets else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "links": self.links,
            "correct": self.correct,
            "found": self.found,
            "targets": self.targets,
        }


@dataclass
class Samples:
    """Every probabilistic proposal's numbers and whether it was right (for fitting)."""

    features: list[dict[str, float]] = field(default_factory=list)
    truth: list[bool] = field(default_factory=list)
    linker: list[str] = field(default_factory=list)


@dataclass
class LinkingReport:
    seed: int
    default_threshold: float
    scenario: dict[str, int]
    rows: list[Row]
    proposed: int  # target devices for which some linker proposed their owner
    without_consent: int
    unproved: int
    calibration: list[dict[str, Any]]
    mistakes: dict[str, int]
    seconds: dict[str, float]
    samples: Samples
    run_threshold: float = 0.9
    outcomes: dict[str, Any] = field(default_factory=dict)
    hostile: dict[str, Any] = field(default_factory=dict)
    members_without_consent: int = 0

    def row(self, threshold: float) -> Row:
        return next(r for r in self.rows if r.threshold == threshold)

    def goal(self) -> dict[str, Any]:
        """Which of the goal's figures the run meets (at the run's threshold)."""
        found = {
            "person precision": self.outcomes["person"]["precision"],
            "household precision": self.outcomes["household"]["precision"],
            "coverage": self.outcomes["overall"]["coverage"],
        }
        # A precision of no links at all (None) meets nothing: there is nothing to measure.
        met = {
            name: found[name] is not None and found[name] >= least for name, least in GOALS.items()
        }
        met["no links without consent"] = self.without_consent + self.members_without_consent == 0
        if self.hostile:
            met["no takeovers"] = self.hostile["takeovers_total"] == 0
        return {"at": found, "least": GOALS, "met": met, "all_met": all(met.values())}

    def as_json(self) -> dict[str, Any]:
        at = self.row(self.run_threshold)
        return {
            "seed": self.seed,
            "scenario": self.scenario,
            "default_threshold": self.default_threshold,
            "precision": {str(r.threshold): round(r.precision, 4) for r in self.rows},
            "recall": {str(r.threshold): round(r.recall, 4) for r in self.rows},
            "f1": {str(r.threshold): round(r.f1, 4) for r in self.rows},
            "thresholds": [r.as_dict() for r in self.rows],
            "ceiling": {
                "proposed": self.proposed,
                "targets": at.targets,
                "recall": round(self.proposed / at.targets, 4) if at.targets else 0.0,
            },
            "links_without_consent": self.without_consent,
            "members_without_consent": self.members_without_consent,
            "deterministic_links_not_proved": self.unproved,
            "run_threshold": self.run_threshold,
            **self.outcomes,
            "hostile": self.hostile,
            "goal": self.goal(),
            "wrong_links_by_case": self.mistakes,
            "calibration": self.calibration,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def _signals(service: LinkingService) -> Callable[[str, str], EventSignals]:
    keys = service.keys
    assert keys is not None
    cache: dict[tuple[str, str], EventSignals] = {}

    def signals(network: str, user_agent: str) -> EventSignals:
        found = cache.get((network, user_agent))
        if found is None:
            found, ignored = read_signals(keys, network=network, user_agent=user_agent)
            assert not ignored, ignored  # the scenario sends only well-formed signals
            cache[(network, user_agent)] = found
        return found

    return signals


async def replay(
    graph: Graph, service: LinkingService, scenario: Scenario, progress: bool, pii_key: str
) -> LinkReport:
    """Send every visit through the write path and the linking service, in time order."""
    await write_catalogue(graph, scenario.catalogue)
    await write_customer_base(graph, scenario.customers)
    signals = _signals(service)
    report = LinkReport()
    visits = scenario.visits
    with tqdm(total=len(visits), desc="visits", unit=" visits", disable=not progress) as bar:
        for start in range(0, len(visits), GROUP):
            group = visits[start : start + GROUP]
            rows = [row for visit in group for row in visit.events]
            result = await write_events(graph, [event for event, _, _ in rows], pii_key=pii_key)
            assert not result.rejected, result.rejected[:3]
            arrivals = [Arrival(event, signals(net, ua)) for event, net, ua in rows]
            report.add(await service.link(graph, arrivals))
            bar.update(len(group))
    return report


def _case(scenario: Scenario, device: str, customer: str) -> str:
    """What kind of mistake a wrong link is."""
    owner = scenario.owner(device)
    if scenario.shared_by(device) is not None:
        return "family tablet"
    person, guessed = scenario.people[owner], scenario.people[customer]
    if person.household is not None and person.household == guessed.household:
        return "household member"
    if person.home.rsplit(".", 1)[0] == guessed.home.rsplit(".", 1)[0]:
        return "neighbour on the same prefix"
    return "stranger"


@dataclass
class Scores:
    """What :func:`score` makes of a run's outcomes."""

    rows: list[Row]
    proposed: int
    mistakes: dict[str, int]
    calibration: list[dict[str, Any]]
    samples: Samples


def score(scenario: Scenario, report: LinkReport, thresholds: Sequence[float]) -> Scores:
    made: dict[tuple[str, str], float] = {}
    last: dict[tuple[str, str], float] = {}
    samples = Samples()
    for outcome in report.outcomes:
        p = outcome.proposal
        if p.deterministic:
            continue
        pair = (p.device_id, p.customer_id)
        right = scenario.owner(p.device_id) == p.customer_id
        last[pair] = p.confidence
        if p.features:
            samples.features.append(dict(p.features))
            samples.truth.append(right)
            samples.linker.append(outcome.linker)
        if outcome.verdict in (Verdict.LINKED, Verdict.UPDATED):
            made[pair] = max(made.get(pair, 0.0), p.confidence)
    targets = person_targets(scenario)
    proposed = len({d for d, c in last if targets.get(d) == c})
    rows = []
    for t in thresholds:
        kept = [pair for pair, confidence in made.items() if confidence >= t]
        correct = sum(1 for d, c in kept if scenario.owner(d) == c)
        found = sum(1 for d, c in kept if targets.get(d) == c)
        rows.append(Row(t, len(kept), correct, found, len(targets)))
    mistakes: dict[str, int] = defaultdict(int)
    for (d, c), confidence in made.items():
        if confidence >= thresholds[0] and scenario.owner(d) != c:
            mistakes[_case(scenario, d, c)] += 1
    bins = []
    for low in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98):
        high = {0.0: 0.2, 0.2: 0.4, 0.4: 0.6, 0.6: 0.8, 0.8: 0.9, 0.9: 0.95, 0.95: 0.98}.get(
            low, 1.01
        )
        inside = [(pair, c) for pair, c in last.items() if low <= c < high]
        if inside:
            hits = sum(1 for (d, cust), _ in inside if scenario.owner(d) == cust)
            mean = sum(c for _, c in inside) / len(inside)
            bins.append(
                {
                    "confidence": f"[{low:.2f}, {min(high, 1.0):.2f})",
                    "pairs": len(inside),
                    "mean_confidence": round(mean, 3),
                    "share_right": round(hits / len(inside), 3),
                }
            )
    return Scores(rows, proposed, dict(mistakes), bins, samples)


async def evaluate(
    graph: Graph,
    settings: Settings,
    seed: int,
    progress: bool,
    scale: Scale | None = None,
    threshold: float | None = None,
    hostile_victims: int = VICTIMS,
    suggest: float = SUGGEST,
) -> LinkingReport:
    """One run at ``threshold`` (the deployment's linking_min_confidence unless given)."""
    began = time.monotonic()
    scenario = build(seed, scale)
    generated = time.monotonic() - began
    await prepare(graph)
    run = settings.linking_min_confidence if threshold is None else threshold
    thresholds = sorted({run, *(t for t in THRESHOLDS if t >= run)})
    # Its graph is thrown away: keys of its own, whatever is configured. It
    # measures the probabilistic linkers, so they run whether or not this
    # deployment has turned them on.
    run_settings = settings.model_copy(
        update={
            "linking_probabilistic": True,
            "linking_min_confidence": run,
            "pii_key": SecretStr("tightrope-evaluation-only"),
            "signals_key": SecretStr("tightrope-evaluation-only-signals"),
        }
    )
    service = linking_service(load_plugins(settings.disabled_plugins), run_settings)
    began = time.monotonic()
    report = await replay(graph, service, scenario, progress, run_settings.pii_secret())
    replayed = time.monotonic() - began
    scores = score(scenario, report, thresholds)
    rows = scores.rows
    proved = {(d, c) for d, customers in scenario.signed_in.items() for c in customers}
    unproved = sum(
        1
        for d, c, method, _ in await all_links(graph)
        if method in DETERMINISTIC and (d, c) not in proved
    )
    homes = [HouseholdLink(*row) for row in await household_links(graph)]
    outcomes = score_outcomes(scenario, report, homes, run, suggest)
    without_consent = await guesses_without_consent(graph, sorted(DETERMINISTIC))
    members = await members_without_consent(graph)
    began = time.monotonic()
    attacked = (
        await hostile(graph, run_settings, scenario, hostile_victims) if hostile_victims else {}
    )
    events = sum(len(v.events) for v in scenario.visits)
    people = scenario.people.values()
    shape = {
        "people": len(scenario.people),
        "customers": sum(1 for p in people if p.customer),
        "customers_consenting": sum(1 for p in people if p.consent is True),
        "households": len({p.household for p in people if p.household}),
        "devices": len(scenario.devices),
        "family_tablets": sum(1 for d in scenario.devices if scenario.shared_by(d)),
        "devices_signed_in": len(scenario.signed_in),
        "target_devices": rows[0].targets,
        "visits": len(scenario.visits),
        "events": events,
        "proposals": len(scores.samples.truth),
    }
    return LinkingReport(
        seed=seed,
        default_threshold=settings.linking_min_confidence,
        scenario=shape,
        rows=rows,
        proposed=scores.proposed,
        without_consent=without_consent,
        unproved=unproved,
        calibration=scores.calibration,
        mistakes=scores.mistakes,
        seconds={
            "generate": generated,
            "replay": replayed,
            "hostile": time.monotonic() - began,
        },
        samples=scores.samples,
        run_threshold=run,
        outcomes=outcomes,
        hostile=attacked,
        members_without_consent=members,
    )


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def table(doc: dict[str, Any]) -> str:
    """The figures as plain text."""
    s = doc["scenario"]
    t = doc["targets"]
    person, home, overall = doc["person"], doc["household"], doc["overall"]
    lines = [
        f"linking, seed {doc['seed']}: {s['people']} people ({s['customers']} customers, "
        f"{s['customers_consenting']} consenting) in {s['households']} households; "
        f"{s['devices']} devices ({s['family_tablets']} family tablets, {s['devices_signed_in']} "
        f"signed in on); {s['visits']} visits, {s['events']} events",
        f"threshold {doc['run_threshold']:.2f} (the deployment's: "
        f"{doc['default_threshold']:.2f}); {t['all']} target devices: {t['person']} a "
        f"consenting customer's never signed in on, {t['household']} family tablets of "
        "households with two consenting customers",
        "outcomes per target device: " + ", ".join(f"{k} {v}" for k, v in doc["outcomes"].items()),
        f"person level: precision {_figure(person['precision'])} ({person['correct']} of "
        f"{person['links']} links), recall {person['recall']:.4f}, F0.5 {person['f05']:.4f}",
        f"household level: precision {_figure(home['precision'])} ({home['correct']} of "
        f"{home['links']} guessed household links: "
        + (", ".join(f"{k} {v}" for k, v in sorted(home["by_kind"].items())) or "none")
        + f"); {home['proved']} devices proved by several members; "
        f"{home['households']} households hold a device",
        f"coverage (a right person or household link): {overall['coverage']:.4f}; "
        f"precision of every guess {_figure(overall['precision'])}, F0.5 {overall['f05']:.4f}",
        f"customers answering suggestions (guesses from {doc['suggest_threshold']:.2f}):",
    ]
    for a in doc["answering"]:
        lines.append(
            f"  {a['share']:>4.0%}: {a['suggested']:>4} suggested, {a['confirmed']:>3} confirmed, "
            f"{a['rejected']:>3} rejected; person recall {a['person_recall']:.4f}, F0.5 "
            f"{a['person_f05']:.4f}, coverage {a['coverage']:.4f}"
        )
    lines += [
        f"recall ceiling: {doc['ceiling']['recall']:.4f} (a linker ever proposed the owner of "
        f"{doc['ceiling']['proposed']} of the {doc['ceiling']['targets']} person-level targets)",
        "",
        f"  {'threshold':>9} {'precision':>10} {'recall':>8} {'f1':>8} {'links':>7} {'wrong':>7}",
    ]
    for r in doc["thresholds"]:
        mark = "  <- the run's" if r["threshold"] == doc["run_threshold"] else ""
        lines.append(
            f"  {r['threshold']:>9.2f} {r['precision']:>10.4f} {r['recall']:>8.4f} "
            f"{r['f1']:>8.4f} {r['links']:>7} {r['links'] - r['correct']:>7}{mark}"
        )
    hostile = doc["hostile"]
    if hostile:
        lines.append(
            f"hostile set: {hostile['victims']} victims, "
            + ", ".join(f"{k} {v}" for k, v in hostile["attempts"].items())
            + f" attempts; takeovers {hostile['takeovers_total']}; attacker in the victim's "
            f"household {hostile['attacker_in_victims_household']}"
        )
    goal = doc["goal"]
    lines += [
        "",
        f"links without consent: {doc['links_without_consent']}; household members without "
        f"consent: {doc['members_without_consent']}; deterministic links not proved by a "
        f"sign-in: {doc['deterministic_links_not_proved']}",
        "goal: " + "; ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in goal["met"].items()),
        "wrong person-level links, by case: "
        + (", ".join(f"{k} {v}" for k, v in sorted(doc["wrong_links_by_case"].items())) or "none"),
        "",
        "calibration (each pair's last proposal):",
    ]
    for b in doc["calibration"]:
        lines.append(
            f"  {b['confidence']:>14} {b['pairs']:>6} pairs, mean {b['mean_confidence']:.3f}, "
            f"right {b['share_right']:.3f}"
        )
    lines.append("time: " + ", ".join(f"{k} {v}s" for k, v in doc["seconds"].items()))
    lines.append(f"finished {datetime.now(UTC).isoformat(timespec='seconds')}")
    return "\n".join(lines)
