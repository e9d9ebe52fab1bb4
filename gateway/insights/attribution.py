"""What each list led to, and the figures per strategy, placement and blend.

**The attribution rule** (docs/insights.md says why it was chosen):

* an *impression* is one item of a served list: a list of ten is ten;
* a *click* is a view sent "from list X" (``listId``) of a product the list
  showed; an *add-to-cart* likewise. Each counts once per list and product;
* a *conversion* is a purchase line. It counts for a list when it was sent
  from that list, or else when the same shopper's last click on the same
  product (from any list) came at most ``window`` before the purchase: last
  click, same product, one list per purchase. Its revenue is the line's price
  times its quantity.

Each item is credited to the strategy that chose it (the strategy at its
position), its list's placement and its list's blend (``holdout`` for the
holdout group's lists). The functions here are pure: the caller reads the
graph, decides who counts (gateway/insights/privacy.py) and hands over rows.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from gateway.insights.experiment import subject_of
from gateway.insights.privacy import Counted
from gateway.strategies.types import Shopper
from graph.insights import ListEventRecord, PurchaseRow, ServedRecord

DIMENSIONS: Final = ("strategy", "placement", "blend")
HOLDOUT: Final = "holdout"


def shopper_of(served: ServedRecord) -> str:
    """Who a list was for: the customer if known (now), else the device, else the visit."""
    who = Shopper(served.customer_id, served.session_id, served.device_id)
    return subject_of(who) or f"list:{served.id}"


def blend_of(served: ServedRecord) -> str:
    return HOLDOUT if served.arm == HOLDOUT else served.blend


@dataclass(frozen=True)
class Credit:
    """One item of one list that something is credited to."""

    list: ServedRecord
    position: int  # 1-based

    @property
    def strategy(self) -> str:
        return self.list.strategies[self.position - 1]

    def keys(self) -> dict[str, str]:
        return {
            "strategy": self.strategy,
            "placement": self.list.placement,
            "blend": blend_of(self.list),
        }


@dataclass(frozen=True)
class Conversion:
    """A purchase line credited to a list item, directly or by the last click."""

    credit: Credit
    purchase: PurchaseRow
    direct: bool

    @property
    def revenue(self) -> float:
        return self.purchase.price * self.purchase.qty


@dataclass
class Tally:
    shoppers: set[str] = field(default_factory=set)
    impressions: int = 0
    clicks: int = 0
    add_to_carts: int = 0
    conversions: int = 0
    revenue: float = 0.0


@dataclass(frozen=True)
class Performance:
    """The figures of one strategy, placement or blend (``None``: suppressed)."""

    dimension: str
    name: str
    shoppers: int
    suppressed: bool
    impressions: int | None
    clicks: int | None
    add_to_carts: int | None
    conversions: int | None
    revenue: float | None

    @property
    def ctr(self) -> float | None:
        """Clicks per impression."""
        if self.impressions is None or self.clicks is None or not self.impressions:
            return None
        return self.clicks / self.impressions

    @property
    def rpm(self) -> float | None:
        """Revenue per thousand impressions."""
        if self.impressions is None or self.revenue is None or not self.impressions:
            return None
        return 1000.0 * self.revenue / self.impressions


def _credit(served: ServedRecord, sku: str, position: int | None) -> Credit | None:
    """The item of the list the event names; None when the list never showed the product."""
    in_list = position is not None and 1 <= position <= len(served.skus)
    if in_list and position is not None and served.skus[position - 1] == sku:
        return Credit(served, position)
    if sku in served.skus:
        return Credit(served, served.skus.index(sku) + 1)
    return None


@dataclass(frozen=True)
class Attributed:
    """Every credited event of a period."""

    impressions: tuple[Credit, ...]
    clicks: tuple[Credit, ...]
    add_to_carts: tuple[Credit, ...]
    conversions: tuple[Conversion, ...]


def attribute(
    lists: Iterable[ServedRecord],
    events: Iterable[ListEventRecord],
    purchases: Iterable[PurchaseRow],
    counted: Counted,
    since: datetime,
    window: timedelta,
) -> Attributed:
    """Credit impressions, clicks, add-to-carts and purchases to list items.

    ``lists`` may start before ``since`` (a click early in the period may
    come from a list served just before it); only what happened from
    ``since`` on is counted. Only shoppers ``counted`` allows count.
    """
    by_id = {s.id: s for s in lists if counted.allows(s.customer_id)}
    impressions = tuple(
        Credit(s, p) for s in by_id.values() if s.at >= since for p in range(1, len(s.skus) + 1)
    )
    seen: dict[tuple[str, str, str], Credit] = {}
    direct: dict[tuple[str, str, datetime], Credit] = {}
    # Per (customer, product): click times in order, and what each credits.
    touches: dict[tuple[str, str], list[tuple[datetime, Credit]]] = defaultdict(list)
    for e in events:
        served = by_id.get(e.list_id)
        if served is None or not counted.allows(e.customer_id) or e.at < since:
            continue
        credit = _credit(served, e.sku, e.position)
        if credit is None:
            continue
        if e.type == "purchase":
            if e.customer_id is not None:
                direct[(e.customer_id, e.sku, e.at)] = credit
            continue
        seen.setdefault((e.type, served.id, e.sku), credit)
        if e.customer_id is not None:
            touches[(e.customer_id, e.sku)].append((e.at, credit))
    for found in touches.values():
        found.sort(key=lambda t: t[0])
    conversions = []
    for p in purchases:
        if p.at < since or not counted.allows(p.customer_id):
            continue
        credit = direct.get((p.customer_id, p.sku, p.at))
        if credit is not None:
            conversions.append(Conversion(credit, p, direct=True))
            continue
        found = touches.get((p.customer_id, p.sku), [])
        last = bisect_right([at for at, _ in found], p.at) - 1
        if last >= 0 and p.at - found[last][0] <= window:
            conversions.append(Conversion(found[last][1], p, direct=False))
    return Attributed(
        impressions,
        tuple(c for (kind, _, _), c in seen.items() if kind == "view"),
        tuple(c for (kind, _, _), c in seen.items() if kind == "add_to_cart"),
        tuple(conversions),
    )


def performance(attributed: Attributed, k: int) -> list[Performance]:
    """Figures per strategy, placement and blend, and for all lists (``all``).

    A row whose impressions come from fewer than ``k`` distinct shoppers is
    suppressed.
    """
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)

    def rows(credit: Credit) -> Sequence[Tally]:
        keys = [("all", "all lists"), *credit.keys().items()]
        return [tallies[key] for key in keys]

    for credit in attributed.impressions:
        for t in rows(credit):
            t.impressions += 1
            t.shoppers.add(shopper_of(credit.list))
    for credit in attributed.clicks:
        for t in rows(credit):
            t.clicks += 1
    for credit in attributed.add_to_carts:
        for t in rows(credit):
            t.add_to_carts += 1
    for conversion in attributed.conversions:
        for t in rows(conversion.credit):
            t.conversions += 1
            t.revenue += conversion.revenue
    out = []
    for (dimension, name), t in sorted(tallies.items(), key=_order):
        hidden = len(t.shoppers) < k
        out.append(
            Performance(
                dimension,
                name,
                len(t.shoppers),
                hidden,
                None if hidden else t.impressions,
                None if hidden else t.clicks,
                None if hidden else t.add_to_carts,
                None if hidden else t.conversions,
                None if hidden else round(t.revenue, 2),
            )
        )
    return out


def _order(item: tuple[tuple[str, str], Tally]) -> tuple[int, str]:
    (dimension, name), _ = item
    order = ("all", *DIMENSIONS)
    return (order.index(dimension), name)
