"""A simulated shop with planted effects, for ``tightrope evaluate insights``.

Seeded: the same seed gives the same catalogue (the demo retailer's,
gateway/demo.py), customers and history. What is planted, and nothing else:

* **season**: in the last 14 days shoppers browse ``SEASON`` times as much,
  across the whole catalogue, so every product's raw counts grow (the
  bestsellers most of all) while no product's share changes;
* **rising products**: three products of middling popularity are picked
  ``GROWTH`` times as often in the last 14 days;
* **wanted, out of stock**: one more such product is out of stock and looked
  at ``GROWTH`` times as often in the last 14 days;
* **a loyal brand**: customers whose first order holds one brand of middling
  popularity come back (order again within 60 days) with probability
  ``RETURN_LOYAL`` instead of ``RETURN_BASE``;
* **a lift**: the serving part (gateway/evaluation/insights.py) makes a
  shopper shown personal recommendations buy with ``1 + LIFT`` times the base
  probability.

Everything else is popularity (a Zipf law over the products, the same every
day) and chance. Consent: ``analytics`` granted by 85 % of customers,
refused by 10 %, never answered by 5 % (the default regime, opt-in, leaves
them out); ``personalisation`` granted by everyone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from gateway.demo import build_catalogue
from graph import Event
from graph.model import Catalogue, Consent, Customer, CustomerBase, Product

PRODUCTS: Final = 240
HISTORY_DAYS: Final = 150
RECENT_DAYS: Final = 14
SEASON: Final = 1.3
GROWTH: Final = 3.0
RETURN_BASE: Final = 0.35
RETURN_LOYAL: Final = 0.70
RETURN_DAYS: Final = 60
LIFT: Final = 0.30
BASE_CONVERSION: Final = 0.20
# Of customers, who granted analytics, who refused it (the rest never answered).
GRANTED: Final = 0.85
REFUSED: Final = 0.10
# Browsing visits per customer and week, outside orders.
BROWSING_PER_WEEK: Final = 0.6


@dataclass(frozen=True)
class Planted:
    """What the scenario planted, to score the report against."""

    rising: tuple[str, ...]
    wanted: str
    loyal_brand: str
    bestsellers: tuple[str, ...]

    def subjects(self) -> dict[str, frozenset[str]]:
        """Each planted subject and the kinds of insight that find it."""
        found = {f"product:{sku}": frozenset({"rising"}) for sku in self.rising}
        found[f"product:{self.wanted}"] = frozenset({"restock"})
        found[f"brand:{self.loyal_brand}"] = frozenset({"brings_back_brand", "repeat_brand"})
        return found


@dataclass
class Shop:
    seed: int
    now: datetime
    catalogue: Catalogue
    customers: CustomerBase
    planted: Planted
    weights: dict[str, float]
    events: list[Event] = field(default_factory=list)

    @property
    def in_stock(self) -> list[Product]:
        return [p for p in self.catalogue.products if p.in_stock]


def _zipf(rng: random.Random, skus: list[str]) -> dict[str, float]:
    order = list(skus)
    rng.shuffle(order)
    return {sku: 1.0 / (rank + 1) for rank, sku in enumerate(order)}


def build(seed: int, customers: int, now: datetime) -> Shop:
    """The catalogue, customers with their consents, the plan; then the history."""
    rng = random.Random(f"{seed}:insights")  # noqa: S311 - a reproducible scenario
    cat = build_catalogue(PRODUCTS, seed)
    weights = _zipf(rng, [p.sku for p in cat.products])
    by_rank = sorted(weights, key=lambda s: -weights[s])
    middle = by_rank[15:60]
    rng.shuffle(middle)
    rising, wanted = tuple(middle[:3]), middle[3]
    brand_share: dict[str, float] = {}
    for p in cat.products:
        if p.brand_id:
            brand_share[p.brand_id] = brand_share.get(p.brand_id, 0.0) + weights[p.sku]
    brands = sorted(brand_share, key=lambda b: -brand_share[b])
    loyal = rng.choice(brands[4:12])
    products = tuple(
        Product(p.sku, p.name, p.price, p.brand_id, p.category_id,
                in_stock=False if p.sku == wanted else (True if p.sku in rising else p.in_stock))
        for p in cat.products
    )  # fmt: skip
    catalogue = Catalogue(cat.brands, cat.categories, products)
    stock = {p.sku for p in products if p.in_stock}
    planted = Planted(
        rising, wanted, loyal, tuple(s for s in by_rank if s in stock)[:10]
    )  # fmt: skip
    people = []
    consents = []
    for i in range(customers):
        cid = f"S{seed}-C{i:05d}"
        arrived = now - timedelta(days=rng.uniform(1, HISTORY_DAYS))
        people.append(Customer(cid, arrived))
        consents.append(Consent(cid, "personalisation", True, arrived, "1", "import"))
        draw = rng.random()
        if draw < GRANTED + REFUSED:
            consents.append(Consent(cid, "analytics", draw < GRANTED, arrived, "1", "import"))
    base = CustomerBase(tuple(people), (), (), tuple(consents))
    shop = Shop(seed, now, catalogue, base, planted, weights)
    shop.events = list(_history(shop, rng))
    return shop


class _Picker:
    """Products by popularity, with the planted growth in the recent window."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.brand = {p.sku: p.brand_id for p in shop.catalogue.products}
        skus = list(shop.weights)
        grown = set(shop.planted.rising) | {shop.planted.wanted}
        self.skus = skus
        self.before = [shop.weights[s] for s in skus]
        self.recent = [shop.weights[s] * (GROWTH if s in grown else 1.0) for s in skus]
        stock = {p.sku for p in shop.in_stock}
        self.buyable = [i for i, s in enumerate(skus) if s in stock]

    def recent_window(self, at: datetime) -> bool:
        return at >= self.shop.now - timedelta(days=RECENT_DAYS)

    def view(self, rng: random.Random, at: datetime) -> str:
        weights = self.recent if self.recent_window(at) else self.before
        return rng.choices(self.skus, weights)[0]

    def buy(self, rng: random.Random, at: datetime) -> str:
        weights = self.recent if self.recent_window(at) else self.before
        i = rng.choices(self.buyable, [weights[i] for i in self.buyable])[0]
        return self.skus[i]


def _history(shop: Shop, rng: random.Random) -> Iterator[Event]:
    picker = _Picker(shop)
    loyal = shop.planted.loyal_brand
    n = 0

    def event(kind: str, at: datetime, **fields: object) -> Event:
        nonlocal n
        n += 1
        return Event(event_id=f"h{shop.seed}-{n}", type=kind, at=at, **fields)  # type: ignore[arg-type]

    for person in shop.customers.customers:
        assert person.created_at is not None
        cid, at, k = person.id, person.created_at, 0
        back: float | None = None
        while at < shop.now and k < 6:
            session = f"{cid}-o{k}"
            yield event("login", at - timedelta(minutes=10), session_id=session, customer_id=cid)
            viewed = [picker.view(rng, at) for _ in range(rng.randint(1, 3))]
            for j, sku in enumerate(viewed):
                yield event("view", at - timedelta(minutes=9 - j), session_id=session, sku=sku)
            stock = {p.sku for p in shop.in_stock}
            lines = [s for s in viewed if s in stock and rng.random() < 0.7][:1]
            lines += [picker.buy(rng, at) for _ in range(rng.randint(1, 2) - len(lines))]
            for j, sku in enumerate(dict.fromkeys(lines)):
                yield event("purchase", at + timedelta(seconds=j), customer_id=cid, sku=sku,
                            qty=1, order_id=f"{cid}-{k}")  # fmt: skip
            if back is None:  # the first order decides how likely they come back
                back = RETURN_LOYAL if any(picker.brand[s] == loyal for s in lines) else RETURN_BASE
            if rng.random() >= back:
                break
            at, k = at + timedelta(days=rng.uniform(3, RETURN_DAYS)), k + 1
        yield from _browsing(shop, picker, rng, person.id, person.created_at, event)


def _browsing(
    shop: Shop,
    picker: _Picker,
    rng: random.Random,
    cid: str,
    since: datetime,
    event: Callable[..., Event],
) -> Iterator[Event]:
    """Visits without an order: more of them in the season's last weeks."""
    week, at = 0, since
    while at < shop.now:
        rate = BROWSING_PER_WEEK * (SEASON if picker.recent_window(at) else 1.0)
        if rng.random() < min(1.0, rate):
            session = f"{cid}-b{week}"
            yield event("login", at, session_id=session, customer_id=cid)
            for j in range(rng.randint(1, 3)):
                sku = picker.view(rng, at)
                yield event("view", at + timedelta(minutes=1 + j), session_id=session, sku=sku)
        week += 1
        at = since + timedelta(days=7 * week) + timedelta(hours=rng.uniform(0, 48))
