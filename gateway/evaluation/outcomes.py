"""Three outcomes per target device: right person, right household, none; and the answering curve.

The **target devices** are the devices only a guess can link (nobody ever
signed in on them) whose right outcome is a link:

* a consenting customer's own device: its right outcome is its owner (a
  person-level link), and a link to the owner's household is right at the
  household level;
* a family tablet of a household in which at least two customers granted
  ``cross_device`` (the members a household node can have): its right
  outcome is that household.

A **household link** (a ``SHARED_BY`` edge) is right when every member of the
graph's household lives in one of the scenario's households and the device is
used there: that household's family tablet, or a member's own device (a
child's phone, a partner's laptop: the device is the household's, and a
household's device shows nobody's personal history). Person-level links are
scored as before (gateway/evaluation/linking.py): every guess ever made,
right when the customer owns the device.

**Suggestions** (links the customer confirms): a guess the host refused only
for being under the threshold, at least ``suggest`` sure, about a consenting
customer and a device that nothing proved, that was never linked to them and
that is not a household's (a device the evidence fits several members of is
not asked about one of them). The evaluation does not depend on how a
deployment stores or shows them: a share of the consenting customers,
chosen from the seed (the 20 % are among the 50 %), answers every suggestion
truthfully: confirms it if the device is theirs (a person-level link that is
right by construction), rejects it otherwise (no link). The others never
answer. Person-level recall and coverage are reported for each share.

F0.5 weighs precision twice as much as recall: a wrong link shows one person
another's browsing, a missed one only loses some personalisation (the ICDM
2015 cross-device challenge scored by it for that reason).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.evaluation.households import Scenario
from gateway.linking import LinkReport, Verdict

# The shares of consenting customers who answer suggestions (all of them: the bound).
SHARES = (0.0, 0.2, 0.5, 1.0)
# The least confidence of a guess shown as a suggestion (the default of
# TIGHTROPE_LINKING_SUGGEST_CONFIDENCE).
SUGGEST = 0.5
# How decide() words a guess refused for its confidence alone (gateway/linking/rules.py);
# one at least TIGHTROPE_LINKING_SUGGEST_CONFIDENCE sure is written as a suggestion
# instead (Verdict.SUGGESTED), unless the customer's state refuses it.
UNDER_THRESHOLD = "is under the threshold"


def f_beta(precision: float | None, recall: float, beta: float = 0.5) -> float:
    if precision is None:
        return 0.0
    b2 = beta * beta
    denominator = b2 * precision + recall
    return (1 + b2) * precision * recall / denominator if denominator else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def person_targets(scenario: Scenario) -> dict[str, str]:
    """Device -> owner, for the devices only a guess can link to a consenting customer."""
    used = scenario.used_devices()
    targets = {}
    for device in scenario.devices.values():
        person = scenario.people.get(device.owner)
        if (
            device.id in used
            and device.id not in scenario.signed_in
            and person is not None
            and person.customer
            and person.consent is True
        ):
            targets[device.id] = person.id
    return targets


def household_targets(scenario: Scenario) -> dict[str, str]:
    """Family tablet -> its household, where a household node could hold it: nobody
    signed in on it, and the household has two consenting customers or more."""
    consenting: dict[str, int] = {}
    for person in scenario.people.values():
        if person.household and person.customer and person.consent is True:
            consenting[person.household] = consenting.get(person.household, 0) + 1
    used = scenario.used_devices()
    return {
        d.id: home
        for d in scenario.devices.values()
        if (home := scenario.shared_by(d.id)) is not None
        and d.id in used
        and d.id not in scenario.signed_in
        and consenting.get(home, 0) >= 2
    }


def household_right(scenario: Scenario, device: str, members: Iterable[str]) -> bool:
    """Whether the graph's household (its members) is the scenario household using the device."""
    homes = {scenario.people[m].household if m in scenario.people else None for m in members}
    if len(homes) != 1 or None in homes:
        return False
    return scenario.home_of(device) == next(iter(homes))


def _kind(scenario: Scenario, device: str, right: bool) -> str:
    if not right:
        return "wrong"
    return "family tablet" if scenario.shared_by(device) else "a member's own device"


@dataclass(frozen=True)
class HouseholdLink:
    device: str
    household: str
    method: str | None
    members: tuple[str, ...]


def answering(scenario: Scenario, share: float) -> set[str]:
    """The consenting customers who answer suggestions, for this share (nested by share)."""
    rng = random.Random(f"{scenario.seed}:answers")  # noqa: S311 - a reproducible draw
    draws = {p: rng.random() for p in sorted(scenario.people)}
    return {
        p
        for p, person in scenario.people.items()
        if person.customer and person.consent is True and draws[p] < share
    }


def score_outcomes(
    scenario: Scenario,
    report: LinkReport,
    households: Sequence[HouseholdLink],
    threshold: float,
    suggest: float = SUGGEST,
    shares: Sequence[float] = SHARES,
) -> dict[str, Any]:
    """The three outcomes, precision, recall, coverage and F0.5 at ``threshold``."""
    people = person_targets(scenario)
    homes = household_targets(scenario)
    made: dict[tuple[str, str], float] = {}
    offered: dict[tuple[str, str], float] = {}
    for o in report.outcomes:
        p = o.proposal
        if p.deterministic:
            continue
        pair = (p.device_id, p.customer_id)
        if o.verdict in (Verdict.LINKED, Verdict.UPDATED) and p.confidence >= threshold:
            made[pair] = max(made.get(pair, 0.0), p.confidence)
        elif o.verdict is Verdict.SUGGESTED or (
            o.verdict is Verdict.REFUSED and o.reason.endswith(UNDER_THRESHOLD)
        ):
            offered[pair] = max(offered.get(pair, 0.0), p.confidence)
    person_right = {(d, c) for d, c in made if scenario.owner(d) == c}
    found = {d for d, c in made if people.get(d) == c}
    guessed = [h for h in households if h.method != "proved"]
    right_links = {h for h in households if household_right(scenario, h.device, h.members)}
    right_homes = {h.device for h in right_links}
    by_kind: dict[str, int] = {}
    for h in guessed:
        kind = _kind(scenario, h.device, h in right_links)
        by_kind[kind] = by_kind.get(kind, 0) + 1
    wrong = {d for d, c in made if scenario.owner(d) != c}
    wrong |= {h.device for h in households if h not in right_links}
    targets = set(people) | set(homes)
    outcome = {"right person": 0, "right household": 0, "wrong": 0, "none": 0}
    for d in targets:
        if d in found:
            outcome["right person"] += 1
        elif d in right_homes:
            outcome["right household"] += 1
        elif d in wrong:
            outcome["wrong"] += 1
        else:
            outcome["none"] += 1
    covered = outcome["right person"] + outcome["right household"]
    # With no links a precision says nothing: it is left out (None), not 1.
    person_p = len(person_right) / len(made) if made else None
    person_r = len(found) / len(people) if people else 0.0
    guessed_right = sum(1 for h in guessed if h in right_links)
    household_p = guessed_right / len(guessed) if guessed else None
    guesses = len(made) + len(guessed)
    overall_p = (len(person_right) + guessed_right) / guesses if guesses else None
    coverage = covered / len(targets) if targets else 0.0
    shared = {h.device for h in households}
    suggestions = {
        (d, c): confidence
        for (d, c), confidence in offered.items()
        if confidence >= suggest
        and scenario.people[c].consent is True
        and d not in scenario.signed_in
        and d not in shared
        and (d, c) not in made
    }
    curve = []
    for share in shares:
        answers = answering(scenario, share)
        asked = [(d, c) for d, c in suggestions if c in answers]
        confirmed = {(d, c) for d, c in asked if scenario.owner(d) == c}
        more = {d for d, c in confirmed if people.get(d) == c} - found
        recall = (len(found) + len(more)) / len(people) if people else 0.0
        reached = covered + len(more - right_homes)
        curve.append(
            {
                "share": share,
                "suggested": sum(1 for _, c in suggestions if c in answers),
                "confirmed": len(confirmed),
                "rejected": len(asked) - len(confirmed),
                "person_recall": round(recall, 4),
                "person_f05": round(f_beta(person_p, recall), 4),
                "coverage": round(reached / len(targets), 4) if targets else 0.0,
            }
        )
    return {
        "threshold": threshold,
        "targets": {"person": len(people), "household": len(homes), "all": len(targets)},
        "outcomes": outcome,
        "person": {
            "links": len(made),
            "correct": len(person_right),
            "found": len(found),
            "precision": _round(person_p),
            "recall": round(person_r, 4),
            "f05": round(f_beta(person_p, person_r), 4),
        },
        "household": {
            "links": len(guessed),
            "correct": guessed_right,
            "precision": _round(household_p),
            "by_kind": by_kind,
            "proved": sum(1 for h in households if h.method == "proved"),
            "households": len({h.household for h in households}),
        },
        "overall": {
            "precision": _round(overall_p),
            "coverage": round(coverage, 4),
            "f05": round(f_beta(overall_p, coverage), 4),
        },
        "answering": curve,
        "suggest_threshold": suggest,
    }


def households_of(
    rows: Iterable[tuple[str, str, str | None, tuple[str, ...]]],
) -> list[HouseholdLink]:
    return [HouseholdLink(d, h, m, members) for d, h, m, members in rows]
