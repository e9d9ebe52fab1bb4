"""`tightrope evaluate linking` on a small scenario (the default scenario's run is not a test).

The small run goes through the same code as the full one: the generated
shoppers' visits written by ``write_events``, linked by the installed linkers
under the host's rules and the consent gate, scored against each device's
known owner, then the hostile set sent through the app over HTTP. The
scoring of the three outcomes is also checked on links chosen by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.evaluation.households import Scale, build
from gateway.evaluation.linking import THRESHOLDS
from gateway.evaluation.outcomes import (
    HouseholdLink,
    f_beta,
    household_targets,
    person_targets,
    score_outcomes,
)
from gateway.linking import Evidence, LinkReport, Outcome, Proposal, Verdict
from graph import Graph

BIN = Path(sys.executable).parent / "tightrope"
SMALL = Scale(households=6, visitors=3)


def test_a_seed_always_gives_the_same_shoppers_and_every_device_has_a_known_owner() -> None:
    first, again, other = build(4, SMALL), build(4, SMALL), build(5, SMALL)
    assert [v.events for v in first.visits] == [v.events for v in again.visits]
    assert [v.events for v in first.visits] != [v.events for v in other.visits]
    for visit in first.visits:
        for event, _, _ in visit.events:
            assert event.device_id is not None
            owner = first.owner(event.device_id)
            assert owner in first.people or owner.startswith("shared:")


async def test_evaluate_linking_scores_each_threshold_and_links_no_one_without_consent(
    clean_graph: Graph,
) -> None:
    port = os.environ["TIGHTROPE_NEO4J_PORT"]
    command = [
        str(BIN),
        "evaluate",
        "linking",
        "--seed",
        "4",
        "--json",
        "--households",
        str(SMALL.households),
        "--visitors",
        str(SMALL.visitors),
        "--port",
        port,
        "--no-progress",
    ]
    # In a thread: the command runs for a while, and the test's loop holds the graph.
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["seed"] == 4
    # One run at the deployment's threshold; the sweep goes up from there.
    assert doc["run_threshold"] == doc["default_threshold"] == 0.9
    thresholds = {str(t) for t in THRESHOLDS if t >= 0.9}
    assert set(doc["precision"]) == thresholds and set(doc["recall"]) == thresholds
    for t in thresholds:
        assert 0.0 <= doc["precision"][t] <= 1.0 and 0.0 <= doc["recall"][t] <= 1.0
    # The ceiling says where recall stops, whatever the threshold: a device is
    # found only if its owner was proposed at all.
    ceiling = doc["ceiling"]
    assert ceiling["targets"] == doc["scenario"]["target_devices"] > 0
    assert 0 < ceiling["proposed"] <= ceiling["targets"]
    assert all(row["found"] <= ceiling["proposed"] for row in doc["thresholds"])
    shape = doc["scenario"]
    # The scenario holds customers who never granted cross_device, and the
    # linkers proposed links: the zero below is the gate's, not an empty run's.
    assert shape["customers"] > shape["customers_consenting"] > 0
    assert shape["proposals"] > 0
    assert doc["links_without_consent"] == 0 == doc["members_without_consent"]
    assert doc["deterministic_links_not_proved"] == 0
    # Every target device has one of the outcomes; F0.5 is beside precision and recall.
    assert sum(doc["outcomes"].values()) == doc["targets"]["all"] > 0
    person = doc["person"]
    assert person["f05"] == round(f_beta(person["precision"], person["recall"]), 4)
    assert {"precision", "coverage", "f05"} <= set(doc["overall"])
    household = doc["household"]
    if household["links"]:
        assert 0.0 <= household["precision"] <= 1.0
    else:  # no household link: nothing to be precise about
        assert household["precision"] is None
    # Customers who answer suggestions can only find more of their devices.
    curve = doc["answering"]
    assert [a["share"] for a in curve] == [0.0, 0.2, 0.5, 1.0]
    assert curve[0]["person_recall"] == person["recall"]
    assert [a["person_recall"] for a in curve] == sorted(a["person_recall"] for a in curve)
    # The hostile set ran, every attempt of it, and took nothing over.
    hostile = doc["hostile"]
    assert hostile["victims"] > 0 and all(n > 0 for n in hostile["attempts"].values())
    assert hostile["takeovers_total"] == 0
    assert doc["goal"]["met"]["no takeovers"] and doc["goal"]["met"]["no links without consent"]
    # The graph is the evaluation's, marked so that no later run wipes a real one.
    marked = await clean_graph.read("MATCH (m:EvaluationGraph) RETURN count(m) AS n")
    assert marked[0]["n"] == 1


TINY = Scale(households=12, visitors=3)


def _outcome(device: str, customer: str, confidence: float, verdict: Verdict, why: str) -> Outcome:
    evidence = (Evidence("SAME_NETWORK", "Used on the same network as your phone"),)
    proposal = Proposal(device, customer, "probabilistic", confidence, evidence)
    return Outcome(proposal, "network", verdict, why)


def test_each_target_device_is_a_right_person_a_right_household_wrong_or_none() -> None:
    scenario = build(6, TINY)
    people = sorted(person_targets(scenario).items())
    [(tablet, home)] = household_targets(scenario).items()
    members = tuple(
        sorted(
            p.id
            for p in scenario.people.values()
            if p.household == home and p.customer and p.consent is True
        )
    )
    (found, owner), (mistaken, _), (suggested, asked), *_ = people
    stranger = next(p for p in scenario.people.values() if p.customer and p.id != owner).id
    report = LinkReport(
        outcomes=[
            _outcome(found, owner, 0.95, Verdict.LINKED, "linked"),
            _outcome(mistaken, stranger, 0.92, Verdict.LINKED, "linked"),
            # Refused for its confidence alone: a suggestion for its customer.
            _outcome(
                suggested, asked, 0.7, Verdict.REFUSED, "confidence 0.70 is under the threshold"
            ),
            # Under the threshold for another reason: no suggestion.
            _outcome(found, stranger, 0.6, Verdict.REFUSED, "the evidence names several customers"),
        ]
    )
    homes = [HouseholdLink(tablet, "h.1", "probabilistic", members)]
    doc = score_outcomes(scenario, report, homes, 0.9, shares=(0.0, 1.0))
    targets = len(people) + 1
    assert doc["targets"] == {"person": len(people), "household": 1, "all": targets}
    assert doc["outcomes"] == {
        "right person": 1,
        "right household": 1,
        "wrong": 1,
        "none": targets - 3,
    }
    assert doc["person"]["precision"] == 0.5 and doc["household"]["precision"] == 1.0
    assert doc["person"]["recall"] == round(1 / len(people), 4)
    assert doc["person"]["f05"] == round(f_beta(0.5, 1 / len(people)), 4)
    assert doc["overall"]["precision"] == round(2 / 3, 4)
    assert doc["overall"]["coverage"] == round(2 / targets, 4)
    nobody, everyone = doc["answering"]
    assert nobody["person_recall"] == doc["person"]["recall"] and nobody["confirmed"] == 0
    # Everyone answers: the suggestion is confirmed, the device found.
    assert everyone["confirmed"] == 1 and everyone["rejected"] == 0
    assert everyone["person_recall"] == round(2 / len(people), 4)


def test_a_household_link_is_right_only_for_a_device_used_in_that_household() -> None:
    scenario = build(6, TINY)
    [(tablet, home)] = household_targets(scenario).items()
    members = tuple(p.id for p in scenario.people.values() if p.household == home)
    neighbours = tuple(p.id for p in scenario.people.values() if p.household not in (home, None))
    a_members_phone = f"{members[0]}-phone"
    homes = [
        HouseholdLink(tablet, "h.1", "probabilistic", members[:2]),  # its family's tablet
        HouseholdLink(a_members_phone, "h.1", "probabilistic", members[:2]),  # one of theirs
        HouseholdLink(f"{neighbours[0]}-phone", "h.1", "probabilistic", members[:2]),
        HouseholdLink(tablet, "h.2", "probabilistic", (members[0], neighbours[0])),
    ]
    doc = score_outcomes(scenario, LinkReport(), homes, 0.9)
    assert doc["household"]["correct"] == 2 and doc["household"]["links"] == 4
    assert doc["household"]["by_kind"] == {
        "family tablet": 1,
        "a member's own device": 1,
        "wrong": 2,
    }


def test_f_half_weighs_precision_twice_as_much_as_recall() -> None:
    assert f_beta(1.0, 1.0) == 1.0 and f_beta(0.0, 0.5) == 0.0 == f_beta(None, 0.5)
    assert f_beta(0.9, 0.3) > f_beta(0.3, 0.9)
    assert round(f_beta(0.5, 1.0), 4) == round(1.25 * 0.5 / (0.25 * 0.5 + 1.0), 4)
