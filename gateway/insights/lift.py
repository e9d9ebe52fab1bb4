"""What personalisation earns against the holdout, and how A/B variants compare.

The unit is the **shopper** (gateway/insights/experiment.py: a customer,
else a device, else a visit), assigned to a group at random by a keyed hash.
A shopper *converts* when their customer buys anything within the
attribution window after the first list served to them in the period: any
purchase, not only credited ones, so the comparison needs no attribution rule
and counts whatever personal lists changed, on any page. Since the groups are
random, a difference between their conversion rates is what the difference
in treatment caused (up to chance, which the interval states).

Shoppers seen late in the period have had less time to convert; the groups
are alike in that too, so the comparison stays fair, only a little weaker.

Comparisons:

* ``personal`` (every shopper not held out) against ``holdout``;
* in an A/B test, each variant against the first (the control).

Below ``insights_min_subjects`` shoppers or 10 conversions in either group
the answer is "not enough data yet", with the counts so far: an interval from
a handful of conversions says little and invites reading noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.insights.attribution import shopper_of
from gateway.insights.experiment import HOLDOUT, PERSONAL
from gateway.insights.stats import METHOD, TwoProportions, two_proportions, wilson
from graph.insights import PurchaseRow, ServedRecord

MIN_CONVERSIONS: Final = 10
NOT_ENOUGH: Final = "not enough data yet"
MEASURED: Final = "measured"


@dataclass(frozen=True)
class Exposure:
    """One shopper in the period: their group and whether they converted."""

    shopper: str
    customer_id: str | None
    first_seen: datetime
    arm: str
    blend: str
    experiment: str | None
    converted: bool = False
    revenue: float = 0.0


@dataclass(frozen=True)
class GroupFigures:
    name: str
    shoppers: int
    conversions: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    revenue_per_shopper: float | None


@dataclass(frozen=True)
class Lift:
    """One comparison: treatment against control, or why there is no number yet."""

    comparison: str
    experiment: str | None
    treatment: GroupFigures
    control: GroupFigures
    status: str
    needed: str | None
    method: str
    result: TwoProportions | None

    @property
    def significant(self) -> bool:
        return self.result is not None and self.result.significant


def exposures(
    lists: Iterable[ServedRecord], purchases: Iterable[PurchaseRow], window: timedelta
) -> list[Exposure]:
    """Each shopper's first list in the period, and what they bought within the window after."""
    first: dict[str, ServedRecord] = {}
    customer: dict[str, str] = {}
    for s in sorted(lists, key=lambda s: s.at):
        key = shopper_of(s)
        first.setdefault(key, s)
        if s.customer_id is not None:
            customer.setdefault(key, s.customer_id)
    bought: dict[str, list[PurchaseRow]] = {}
    for p in purchases:
        bought.setdefault(p.customer_id, []).append(p)
    found = []
    for key, s in first.items():
        who = customer.get(key)
        after = [
            p for p in bought.get(who or "", []) if s.at <= p.at <= s.at + window
        ]  # fmt: skip
        found.append(
            Exposure(
                key,
                who,
                s.at,
                s.arm,
                s.blend,
                s.experiment,
                bool(after),
                sum(p.price * p.qty for p in after),
            )
        )
    return found


def _figures(name: str, members: Sequence[Exposure]) -> GroupFigures:
    n = len(members)
    x = sum(1 for e in members if e.converted)
    if not n:
        return GroupFigures(name, 0, 0, None, None, None, None)
    low, high = wilson(x, n)
    revenue = sum(e.revenue for e in members)
    return GroupFigures(name, n, x, x / n, low, high, revenue / n)


def compare(
    comparison: str,
    experiment: str | None,
    treatment: tuple[str, Sequence[Exposure]],
    control: tuple[str, Sequence[Exposure]],
    min_subjects: int,
) -> Lift:
    t, c = _figures(*treatment), _figures(*control)
    short = []
    for g in (t, c):
        if g.shoppers < min_subjects:
            short.append(f"{g.name} has {g.shoppers} shoppers of the {min_subjects} needed")
        elif g.conversions < MIN_CONVERSIONS:
            short.append(
                f"{g.name} has {g.conversions} conversions of the {MIN_CONVERSIONS} needed"
            )
        elif g.conversions == g.shoppers:
            short.append(f"every shopper of {g.name} converted: nothing to compare yet")
    if short:
        return Lift(comparison, experiment, t, c, NOT_ENOUGH, "; ".join(short), METHOD, None)
    result = two_proportions(t.conversions, t.shoppers, c.conversions, c.shoppers)
    return Lift(comparison, experiment, t, c, MEASURED, None, METHOD, result)


def lifts(
    found: Sequence[Exposure],
    min_subjects: int,
    experiments: Mapping[str, Sequence[str]] | None = None,
) -> list[Lift]:
    """Personalisation against the holdout, then each experiment's variants against its first.

    ``experiments``: the variants of known experiments in their order (the
    configured one), reported even before any shopper of theirs was seen; an
    experiment seen only in the data has its variants in name order.
    """
    order = dict(experiments or {})
    personal = [e for e in found if e.arm == PERSONAL]
    held = [e for e in found if e.arm == HOLDOUT]
    out = [
        compare(
            "personal recommendations against the holdout",
            None,
            (PERSONAL, personal),
            (HOLDOUT, held),
            min_subjects,
        )
    ]
    names = list(dict.fromkeys([*order, *(e.experiment for e in found if e.experiment)]))
    for name in names:
        members = [e for e in personal if e.experiment == name]
        variants = list(order.get(name) or sorted({e.blend for e in members}))
        if len(variants) < 2:
            continue
        control = variants[0]
        for variant in variants[1:]:
            out.append(
                compare(
                    f"{name}: {variant} against {control}",
                    name,
                    (variant, [e for e in members if e.blend == variant]),
                    (control, [e for e in members if e.blend == control]),
                    min_subjects,
                )
            )
    return out
