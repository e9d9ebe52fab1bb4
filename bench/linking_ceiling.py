"""How far any linker could go on the linking evaluation's scenario: a ceiling, not a linker.

Run from the repository root as ``python -m bench.linking_ceiling [--train
4-10] [--test 1-3]``: a development script, not a test; no Neo4j. It asks
whether precision 0.98 at recall 0.85 (the goal of
``tightrope evaluate linking``) is in the scenario at all, by giving a model
more than any linker gets:

* **everything at once**: each pair is judged on the whole month the
  scenario covers, where a linker decides as the visits arrive;
* **journeys across networks**: besides the customers with a proved device
  on a private network the device was seen on (the built-in linker's
  candidates), every consenting customer whose proved devices looked at a
  product the device looked at, outside the 20 most viewed, within six hours;
* **features per visit**: for each of the device's visits, the rarity-weighed
  products it shares with the customer's visits within six hours (one
  journey's visits on two devices share its products), besides the whole
  month's overlap, the kinds of devices and browser families, and the best
  rival candidate's figures.

A logistic model (gateway/evaluation/fit.py) is fitted on the pairs of the
training seeds and scored on the test seeds as the host would link: a device
is linked when exactly one candidate reaches the threshold. Printed per test
seed: how many target devices (a consenting customer's, never signed in on)
share a private network with a device proved their owner's, precision and
recall at each threshold, and the best recall at precision >= 0.98 at any
threshold. Also written to ``bench-results/linking-ceiling-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.evaluation.fit import fit_logistic
from gateway.evaluation.households import Scenario, build
from gateway.evaluation.linking import GOALS, THRESHOLDS, Samples
from gateway.evaluation.outcomes import person_targets
from gateway.linking.rules import LinkRules
from gateway.linking.signals import browser_family, network_prefix
from plugins.linkers.network import ERRAND_HOURS, rarity

GOAL_PRECISION = GOALS["person precision"]

POPULAR = 20  # the most viewed products: looking at them says nothing


@dataclass(frozen=True, slots=True)
class Visit:
    device: str
    start: datetime
    network: str
    skus: frozenset[str]


@dataclass(frozen=True, slots=True)
class Pair:
    device: str
    customer: str
    features: dict[str, float]
    right: bool  # the customer owns the device
    target: bool  # ... and the device is one only a guess can find


class Month:
    """What the scenario's whole month showed, by device, network and customer."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.visits: dict[str, list[Visit]] = defaultdict(list)
        views: dict[str, int] = defaultdict(int)
        for visit in scenario.visits:
            event, network, _ = visit.events[0]
            assert event.device_id is not None
            skus = frozenset(e.sku for e, _, _ in visit.events if e.type == "view" and e.sku)
            self.visits[event.device_id].append(
                Visit(event.device_id, visit.start, network_prefix(network), skus)
            )
            for sku in skus:
                views[sku] += 1
        total = sum(views.values())
        self.weight = {sku: rarity(n, total) for sku, n in views.items()}
        self.popular = set(sorted(views, key=views.__getitem__, reverse=True)[:POPULAR])
        self.proved: dict[str, set[str]] = defaultdict(set)  # customer -> devices
        for device, customers in scenario.signed_in.items():
            for customer in customers:
                self.proved[customer].add(device)
        devices: dict[str, set[str]] = defaultdict(set)
        customers_on: dict[str, set[str]] = defaultdict(set)
        for device, visits in self.visits.items():
            for v in visits:
                devices[v.network].add(device)
                customers_on[v.network] |= scenario.signed_in.get(device, set())
        rules = LinkRules()  # the month is inside the window: the host's public rule
        self.private = {
            n for n in devices if not rules.public(len(devices[n]), len(customers_on[n]))
        }
        self.on_network: dict[str, set[str]] = defaultdict(set)  # private network -> customers
        for network in self.private:
            for device in devices[network]:
                for customer in scenario.signed_in.get(device, set()):
                    self.on_network[network].add(customer)

    def networks(self, device: str) -> set[str]:
        return {v.network for v in self.visits[device]} & self.private

    def customer_visits(self, customer: str) -> list[Visit]:
        return [v for d in self.proved[customer] for v in self.visits[d]]


def _together(a: Visit, b: Visit) -> bool:
    return abs((a.start - b.start).total_seconds()) <= ERRAND_HOURS * 3600


def unreached(month: Month, device: str, owner: str) -> str:
    """Why a device never shared a private network with a device proved its owner's."""
    home = month.scenario.people[owner].home.rsplit(".", 1)[0] + "."
    if not any(v.network.startswith(home) for v in month.visits[device]):
        return "the device was never used at home"
    if not any(n.startswith(home) for n in month.private):
        return "the home network is public (crowded by neighbours)"
    return "the owner's proved devices were never used at home"


def pairs(month: Month) -> tuple[list[Pair], int, Counter[str]]:
    """Every (unproved device, candidate) pair, the number of targets, why some are out of reach.

    A target is in reach of a shared-network linker when it was seen on a
    private network with a device proved its owner's; the counter says why
    the others are not.
    """
    sc = month.scenario
    consenting = {p.id for p in sc.people.values() if p.customer and p.consent is True}
    theirs = {c: month.customer_visits(c) for c in consenting}
    targets = person_targets(sc)
    found: list[Pair] = []
    why: Counter[str] = Counter()
    for device, visits in month.visits.items():
        if device in sc.signed_in:
            continue
        nets = month.networks(device)
        near = {c for n in nets for c in month.on_network[n] if c in consenting}
        owner = targets.get(device)
        if owner is not None and owner not in near:
            why[unreached(month, device, owner)] += 1
        candidates = near | {
            c
            for c in consenting
            if any(
                _together(v, w) and (v.skus & w.skus) - month.popular
                for v in visits
                for w in theirs[c]
            )
        }
        scored = {c: _features(month, device, visits, theirs[c], c in near) for c in candidates}
        for c, f in scored.items():
            rivals = [g for other, g in scored.items() if other != c]
            f["rival_co"] = max((g["co_max"] for g in rivals), default=0.0)
            f["rival_share"] = max((g["share"] for g in rivals), default=0.0)
            f["rivals"] = float(len(rivals))
            right = sc.owner(device) == c
            found.append(Pair(device, c, f, right, targets.get(device) == c))
    return found, len(targets), why


def _features(
    month: Month, device: str, visits: Sequence[Visit], theirs: Sequence[Visit], near: bool
) -> dict[str, float]:
    w = month.weight
    per_visit = [
        max((sum(w[s] for s in v.skus & t.skus) for t in theirs if _together(v, t)), default=0.0)
        for v in visits
    ]
    mine = set().union(*(v.skus for v in visits))
    known = set().union(*(t.skus for t in theirs))
    mass = sum(w[s] for s in mine)
    devices = month.scenario.devices
    kind = devices[device].kind
    owned = {devices[t.device].kind for t in theirs}
    family = browser_family(devices[device].user_agent)
    return {
        "same_network": 1.0 if near else 0.0,
        "co_max": max(per_visit),
        "co_sum": math.log1p(sum(per_visit)),
        "co_share": sum(1 for x in per_visit if x) / len(per_visit),
        "share": sum(w[s] for s in mine & known) / mass if mass else 0.0,
        "visits": math.log1p(len(visits)),
        "tablet": 1.0 if kind == "tablet" else 0.0,
        "desktop": 1.0 if kind == "desktop" else 0.0,
        "kind_owned": 1.0 if kind in owned else 0.0,
        "same_family": 1.0
        if any(browser_family(devices[t.device].user_agent) == family for t in theirs)
        else 0.0,
    }


def confidence(model: dict[str, Any], features: dict[str, float]) -> float:
    z = model["bias"] + sum(model["weights"][k] * v for k, v in features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def linked(scored: Sequence[tuple[float, Pair]], threshold: float) -> list[Pair]:
    """What the host would link: a device with exactly one candidate that sure."""
    sure: dict[str, list[Pair]] = defaultdict(list)
    for p, pair in scored:
        if p >= threshold:
            sure[pair.device].append(pair)
    return [found[0] for found in sure.values() if len(found) == 1]


def judge(model: dict[str, Any], seed_pairs: list[Pair], targets: int) -> dict[str, Any]:
    scored = [(confidence(model, p.features), p) for p in seed_pairs]
    rows = []
    for t in THRESHOLDS:
        kept = linked(scored, t)
        right = sum(p.right for p in kept)
        rows.append(
            {
                "threshold": t,
                "links": len(kept),
                "precision": round(right / len(kept), 4) if kept else 1.0,
                "recall": round(sum(p.target for p in kept) / targets, 4),
            }
        )
    best = 0.0
    for t in sorted({round(p, 4) for p, _ in scored}):
        kept = linked(scored, t)
        if kept and sum(p.right for p in kept) / len(kept) >= GOAL_PRECISION:
            best = max(best, sum(p.target for p in kept) / targets)
    return {"thresholds": rows, "best_recall_at_goal_precision": round(best, 4)}


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    if high:
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in low.split(",")]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=_seeds, default=_seeds("4-10"))
    parser.add_argument("--test", type=_seeds, default=_seeds("1-3"))
    args = parser.parse_args(argv)
    samples = Samples()
    for seed in args.train:
        for p in pairs(Month(build(seed)))[0]:
            samples.features.append(p.features)
            samples.truth.append(p.right)
            samples.linker.append("ceiling")
    model = fit_logistic(samples)["ceiling"]
    result: dict[str, Any] = {"train": args.train, "model": model, "test": {}}
    print(f"fitted on seeds {args.train}: {model['samples']} pairs, {model['right']} right")
    for seed in args.test:
        seed_pairs, targets, why = pairs(Month(build(seed)))
        judged = judge(model, seed_pairs, targets)
        reach = targets - sum(why.values())
        judged.update(targets=targets, on_a_shared_private_network=reach, out_of_reach=why)
        result["test"][seed] = judged
        print(
            f"seed {seed}: {targets} targets, {reach} share a private network with a device "
            f"proved their owner's; best recall at precision >= {GOAL_PRECISION}: "
            f"{judged['best_recall_at_goal_precision']:.3f}"
        )
        for reason, n in why.most_common():
            print(f"  out of reach, {reason}: {n}")
        for row in judged["thresholds"]:
            print(
                f"  {row['threshold']:>5.2f}  precision {row['precision']:.3f}  "
                f"recall {row['recall']:.3f}  links {row['links']}"
            )
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    path = out / f"linking-ceiling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
