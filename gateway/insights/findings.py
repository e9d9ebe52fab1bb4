"""Insights for the merchandiser, ranked by how far each is from what popularity already says.

Every insight compares what happened with what raw popularity predicts, and
carries its effect (observed ÷ predicted: 1 is "nothing popularity does not
say"), the 95 % interval of that effect, its p-value, the data it rests on
(counts, windows, customers) and a suggested action. They are ranked by
*distance*: the log of the interval's bound nearest 1, a conservative "how
many times more (or less) than popularity says". An insight that only
repeats the bestseller list has distance 0 and ranks last; a huge effect
measured on three shoppers has a wide interval and ranks low too.

* **rising**: a product's activity (views, basket additions and purchases) in
  the recent window against its own baseline, beyond the whole shop's change
  between the two windows (popularity says: its share stays the same). Out
  of stock, it is a **restock** signal instead.
* **conversion falling**: an in-stock product's purchases per view, recent
  against baseline, beyond the whole shop's change in purchases per view
  (popularity says: it changes as the shop's does).
* **repeat** (by brand, by category): of the customers who bought it and then
  bought again, how many bought it again, against what chance by popularity
  gives (1 - (1 - share)^lines bought later, per customer).
* **brings back** (by brand, by category): customers whose first order holds
  it, how many ordered again within the return window, against every other
  new customer.
* **switching**: orders of one category by the same customer, brand A then
  brand B, against what the brands' shares predict.
* **bestseller**: the most bought products, for reference (distance 0).

Tests of one kind are many (every product, every brand): they are kept at a
5 % false discovery rate (Benjamini-Hochberg), and an insight whose interval
holds 1 is dropped. Only shoppers who count (consent) are read, and an
insight standing on fewer than ``k`` customers is suppressed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.insights.stats import (
    RateRatio,
    benjamini_hochberg,
    rate_ratio,
    two_proportions,
    two_sided_p,
    wilson,
    z_of,
)
from graph.insights.facts import Activity, ProductFacts, PurchaseLine

# Fewer events than this in both windows together: no test of a product.
MIN_EVENTS: Final = 10
FDR: Final = 0.05
BESTSELLERS: Final = 3


@dataclass(frozen=True)
class Windows:
    """The periods insights compare, ending ``now``."""

    now: datetime
    recent_days: int = 14
    baseline_days: int = 56
    loyalty_days: int = 365
    return_days: int = 60

    @property
    def split(self) -> datetime:
        return self.now - timedelta(days=self.recent_days)

    @property
    def start(self) -> datetime:
        return self.split - timedelta(days=self.baseline_days)


@dataclass(frozen=True)
class Insight:
    kind: str
    subject: str  # product:SKU, brand:ID, category:ID, switch:A>B
    title: str
    effect: float
    low: float
    high: float
    p_value: float
    basis: str
    shoppers: int
    action: str

    @property
    def distance(self) -> float:
        """Log of the interval's bound nearest 1: 0 when the interval holds 1."""
        if self.low > 1:
            return math.log(self.low)
        if self.high < 1:
            return -math.log(self.high)
        return 0.0

    @property
    def names(self) -> str:
        return self.subject.split(":", 1)[1]


@dataclass(frozen=True)
class Insights:
    ranked: tuple[Insight, ...]
    suppressed: int
    tested: int


def _label(facts: ProductFacts | None, sku: str) -> str:
    if facts is None or not facts.name:
        return sku
    return f"{facts.name} ({facts.brand_name})" if facts.brand_name else facts.name


def _interest(a: Activity, recent: bool) -> int:
    if recent:
        return a.views_recent + a.carts_recent + a.purchases_recent
    return a.views_before + a.carts_before + a.purchases_before


def _from_ratio(
    kind: str,
    subject: str,
    title: str,
    found: RateRatio,
    basis: str,
    shoppers: int,
    action: str,
) -> Insight:
    return Insight(
        kind, subject, title, found.ratio, found.low, found.high, found.p_value, basis,
        shoppers, action,
    )  # fmt: skip


def product_insights(
    activity: Mapping[str, Activity], facts: Mapping[str, ProductFacts], windows: Windows
) -> list[Insight]:
    """Rising, restock and falling-conversion candidates, one test per product each."""
    shop_recent = sum(_interest(a, True) for a in activity.values())
    shop_before = sum(_interest(a, False) for a in activity.values())
    views_recent = sum(a.views_recent for a in activity.values())
    views_before = sum(a.views_before for a in activity.values())
    bought_recent = sum(a.purchases_recent for a in activity.values())
    bought_before = sum(a.purchases_before for a in activity.values())
    # The whole shop's change in purchases per view: what popularity says for each.
    shift = (
        (bought_recent / views_recent) / (bought_before / views_before)
        if views_recent and views_before and bought_recent and bought_before
        else 0.0
    )
    span = f"the last {windows.recent_days} days against the {windows.baseline_days} before"
    found = []
    for sku, a in sorted(activity.items()):
        label, f = _label(facts.get(sku), sku), facts.get(sku)
        recent, before = _interest(a, True), _interest(a, False)
        if recent + before >= MIN_EVENTS and shop_recent and shop_before:
            rr = rate_ratio(recent, before, shop_recent, shop_before)
            basis = (
                f"{recent} views, basket additions and purchases in {span} ({before} before), "
                f"of {a.shoppers} customers; the whole shop: {shop_recent} and {shop_before}"
            )
            if f is not None and f.in_stock is False:
                found.append(_from_ratio(
                    "restock", f"product:{sku}",
                    f"{label} is out of stock and wanted {rr.ratio:.1f} times as much as before",
                    rr, basis, a.shoppers,
                    "Restock it, or point its page to what is in stock: shoppers keep coming "
                    "for it.",
                ))  # fmt: skip
            else:
                found.append(_from_ratio(
                    "rising", f"product:{sku}",
                    f"{label} is rising: {rr.ratio:.1f} times its own baseline, beyond the "
                    "shop's change",
                    rr, basis, a.shoppers,
                    "Check stock and sizes ahead of demand; feature it where it is not shown "
                    "yet.",
                ))  # fmt: skip
        bought = a.purchases_recent + a.purchases_before
        in_stock = f is None or f.in_stock is not False
        if in_stock and bought >= MIN_EVENTS and a.views_recent and a.views_before and shift:
            # Purchases per view against the product's own views, beyond the shop's
            # own change in purchases per view (a season of browsing lowers them all).
            cr = rate_ratio(
                a.purchases_recent, a.purchases_before, a.views_recent * shift, a.views_before
            )
            found.append(_from_ratio(
                "conversion", f"product:{sku}",
                f"{label} sells {cr.ratio:.2f} times as often per view as before, beyond the "
                "shop's change",
                cr,
                f"{a.purchases_recent} purchases of {a.views_recent} views in {span} "
                f"({a.purchases_before} of {a.views_before} before), {a.shoppers} customers; "
                f"the whole shop's purchases per view changed {shift:.2f} times",
                a.shoppers,
                "Look at what changed: price, sizes in stock, photos, delivery time.",
            ))  # fmt: skip
    return found


@dataclass(frozen=True)
class _Order:
    customer: str
    at: datetime
    brands: frozenset[tuple[str, str]]  # (id, name)
    categories: frozenset[tuple[str, str]]
    lines: tuple[PurchaseLine, ...]


def _orders(lines: Iterable[PurchaseLine]) -> dict[str, list[_Order]]:
    grouped: dict[tuple[str, str], list[PurchaseLine]] = defaultdict(list)
    for line in lines:
        grouped[(line.customer_id, line.order_id)].append(line)
    by_customer: dict[str, list[_Order]] = defaultdict(list)
    for (customer, _), found in grouped.items():
        by_customer[customer].append(
            _Order(
                customer,
                min(line.at for line in found),
                frozenset((x.brand, x.brand_name or x.brand) for x in found if x.brand),
                frozenset((x.category, x.category_name or x.category) for x in found if x.category),
                tuple(found),
            )
        )
    for orders in by_customer.values():
        orders.sort(key=lambda o: o.at)
    return by_customer


Pick = Callable[[_Order], frozenset[tuple[str, str]]]
AXES: Final[tuple[tuple[str, Pick, Callable[[PurchaseLine], str | None]], ...]] = (
    ("brand", lambda o: o.brands, lambda line: line.brand),
    ("category", lambda o: o.categories, lambda line: line.category),
)


def _repeat(by_customer: Mapping[str, list[_Order]], axis: str, pick: Pick,
            of_line: Callable[[PurchaseLine], str | None]) -> list[Insight]:  # fmt: skip
    lines = [line for orders in by_customer.values() for o in orders for line in o.lines]
    share: dict[str, float] = defaultdict(float)
    for line in lines:
        key = of_line(line)
        if key is not None:
            share[key] += 1 / len(lines)
    stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for orders in by_customer.values():
        seen: set[str] = set()
        for i, order in enumerate(orders):
            for key, name in pick(order):
                if key in seen:
                    continue
                seen.add(key)
                later = [line for o in orders[i + 1 :] for line in o.lines]
                if not later:
                    continue
                chance = 1 - (1 - share[key]) ** len(later)
                s = stats[(key, name)]
                s[0] += 1
                s[1] += any(of_line(line) == key for line in later)
                s[2] += chance
                s[3] += chance * (1 - chance)
    found = []
    for (key, name), (n, x, expected, variance) in sorted(stats.items()):
        if n < MIN_EVENTS or expected <= 0:
            continue
        low, high = wilson(int(x), int(n))
        p = two_sided_p((x - expected) / math.sqrt(variance)) if variance > 0 else 1.0
        ratio = x / expected
        found.append(Insight(
            f"repeat_{axis}", f"{axis}:{key}",
            f"Buyers of {name} come back for {name}: {int(x)} of {int(n)} "
            f"({x / n:.0%}), {ratio:.1f} times what its popularity gives",
            ratio, low * n / expected, high * n / expected, p,
            f"{int(n)} customers who bought {name} and bought again later; popularity "
            f"alone would bring back {expected:.1f} of them",
            int(n),
            f"Give {name}'s buyers reasons to return (new lines, restocks, offers).",
        ))  # fmt: skip
    return found


def _brings_back(by_customer: Mapping[str, list[_Order]], axis: str, pick: Pick,
                 windows: Windows) -> list[Insight]:  # fmt: skip
    """Customers whose first order holds X: how many ordered again within the window."""
    cutoff = windows.now - timedelta(days=windows.return_days)
    window = timedelta(days=windows.return_days)
    newcomers = [orders for orders in by_customer.values() if orders[0].at <= cutoff]
    returned = {
        id(orders): any(o.at > orders[0].at and o.at <= orders[0].at + window for o in orders[1:])
        for orders in newcomers
    }
    names = {key: name for orders in newcomers for key, name in pick(orders[0])}
    found = []
    for key, name in sorted(names.items()):
        group = [o for o in newcomers if key in {k for k, _ in pick(o[0])}]
        rest = [o for o in newcomers if key not in {k for k, _ in pick(o[0])}]
        x1, n1 = sum(returned[id(o)] for o in group), len(group)
        x0, n0 = sum(returned[id(o)] for o in rest), len(rest)
        if n1 < MIN_EVENTS or n0 < MIN_EVENTS or min(x1, x0) < 1:
            continue
        c = two_proportions(x1, n1, x0, n0)
        found.append(Insight(
            f"brings_back_{axis}", f"{axis}:{key}",
            f"Customers whose first order is {name} return {1 + c.lift:.1f} times as often "
            f"({c.rate_treatment:.0%} against {c.rate_control:.0%} within "
            f"{windows.return_days} days)",
            1 + c.lift, 1 + c.lift_low, 1 + c.lift_high, c.p_value,
            f"{n1} new customers whose first order held {name} ({x1} returned), "
            f"{n0} other new customers ({x0} returned)",
            n1,
            f"Welcome new customers with {name}: it brings them back."
            if c.lift > 0 else f"Follow up first orders of {name}: they bring fewer back.",
        ))  # fmt: skip
    return found


def _switching(by_customer: Mapping[str, list[_Order]]) -> list[Insight]:
    """Brand A then brand B in one category, by the same customer, against B's share there.

    Under popularity alone a customer who leaves A in category C picks B with
    B's share of C's purchase lines among the brands other than A; summed over
    every departure from A, that is how many moves to B popularity predicts.
    """
    moves: dict[tuple[str, str], int] = defaultdict(int)
    movers: dict[tuple[str, str], set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    in_category: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    departures: dict[tuple[str, str], int] = defaultdict(int)  # (brand, category)
    for orders in by_customer.values():
        for o in orders:
            for line in o.lines:
                if line.brand and line.category:
                    in_category[line.category][line.brand] += 1
                    names[line.brand] = line.brand_name or line.brand
    for customer, orders in by_customer.items():
        last: dict[str, str] = {}  # category -> brand last bought in it
        for order in orders:
            for line in order.lines:
                if not line.brand or not line.category:
                    continue
                before = last.get(line.category)
                if before is not None and before != line.brand:
                    moves[(before, line.brand)] += 1
                    movers[(before, line.brand)].add(customer)
                    departures[(before, line.category)] += 1
                last[line.category] = line.brand
    leaving: dict[str, int] = defaultdict(int)
    for (a, _), n in departures.items():
        leaving[a] += n
    found = []
    for (a, b), n in sorted(moves.items()):
        expected = 0.0
        for (brand, category), left in departures.items():
            if brand == a:
                counts = in_category[category]
                others = sum(counts.values()) - counts.get(a, 0)
                expected += left * counts.get(b, 0) / others if others else 0.0
        if n < MIN_EVENTS // 2 or expected <= 0:
            continue
        ratio = n / expected
        half = z_of() * math.sqrt(1 / (n + 0.5))
        found.append(Insight(
            "switching", f"switch:{a}>{b}",
            f"Customers leaving {names[a]} move to {names[b]}: {n} times, "
            f"{ratio:.1f} times what {names[b]}'s share predicts",
            ratio, ratio * math.exp(-half), ratio * math.exp(half),
            two_sided_p((n - expected) / math.sqrt(expected)),
            f"{n} changes from {names[a]} to {names[b]} within a category by "
            f"{len(movers[(a, b)])} customers; {leaving[a]} changes away from {names[a]} in "
            f"all, {expected:.1f} to {names[b]} expected",
            len(movers[(a, b)]),
            f"Compare {names[a]} with {names[b]} on price and range where they compete.",
        ))  # fmt: skip
    return found


def loyalty_insights(lines: Sequence[PurchaseLine], windows: Windows) -> list[Insight]:
    by_customer = _orders(lines)
    found = []
    for axis, pick, of_line in AXES:
        found += _repeat(by_customer, axis, pick, of_line)
        found += _brings_back(by_customer, axis, pick, windows)
    return found + _switching(by_customer)


def bestsellers(
    activity: Mapping[str, Activity], facts: Mapping[str, ProductFacts]
) -> list[Insight]:
    """The most bought products: what popularity already says (distance 0)."""
    top = sorted(
        activity.values(), key=lambda a: (-(a.purchases_recent + a.purchases_before), a.sku)
    )[:BESTSELLERS]
    return [
        Insight(
            "bestseller",
            f"product:{a.sku}",
            f"{_label(facts.get(a.sku), a.sku)} is a bestseller: "
            f"{a.purchases_recent + a.purchases_before} purchases",
            1.0,
            1.0,
            1.0,
            1.0,
            f"{a.purchases_recent + a.purchases_before} purchases by {a.shoppers} customers",
            a.shoppers,
            "Nothing new: the bestseller list already says this.",
        )
        for a in top
        if a.purchases_recent + a.purchases_before
    ]


def rank(candidates: Sequence[Insight], popular: Sequence[Insight], k: int) -> Insights:
    """Keep what survives the false discovery rate, the interval and k; rank by distance."""
    kept: list[Insight] = []
    by_kind: dict[str, list[Insight]] = defaultdict(list)
    for c in candidates:
        by_kind[c.kind].append(c)
    for found in by_kind.values():
        keep = benjamini_hochberg([c.p_value for c in found], FDR)
        kept += [c for c, ok in zip(found, keep, strict=True) if ok and c.distance > 0]
    shown = [c for c in [*kept, *popular] if c.shoppers >= k]
    suppressed = len(kept) + len(popular) - len(shown)
    ordered = sorted(shown, key=lambda c: (-c.distance, c.p_value, c.kind, c.subject))
    return Insights(tuple(ordered), suppressed, len(candidates))
