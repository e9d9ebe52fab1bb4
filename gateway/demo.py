"""A seeded, realistic-looking fashion and apparel retailer.

The shape matters more than the names, because strategies and linkers are
judged on it:

* buying is sporadic and heavy-tailed: about a third of registered customers
  buy nothing in the year, most buyers buy once or twice, a few buy often;
* browsing is heavy-tailed too, and much of it is anonymous: visitors who never
  sign in account for a large share of sessions;
* customers use several devices (phone, laptop, tablet), not all of them linked
  yet; a session starts anonymous and some sign in part-way (a ``login`` event),
  which is how a device becomes linked;
* each customer holds a different mix of consent states per purpose: granted,
  refused, withdrawn, or never asked.

Everything is drawn from ``random.Random`` seeded per part (catalogue,
customers, events), so the same seed always gives the same data, and the event
stream is a generator: a million events never sit in memory at once.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from graph.model import (
    PURPOSES,
    Brand,
    Catalogue,
    Category,
    Consent,
    Contact,
    Customer,
    CustomerBase,
    Device,
    DeviceKind,
    DeviceLink,
    Event,
    Product,
)
from graph.pii import email_hmac
from graph.sealed import DataKeys, seal_contact

# The demo's year ends at a fixed instant, so a seed means the same data whenever it runs.
WINDOW_END: Final = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_START: Final = WINDOW_END - timedelta(days=365)


# -- catalogue ----------------------------------------------------------------

# (name, price tier): invented names; the tier multiplies the category's base price.
BRANDS: Final = (
    ("Northwind Atelier", 2.2),
    ("Linea Verde", 1.4),
    ("Harbour & Pine", 1.0),
    ("Kestrel", 0.8),
    ("Maison Ardent", 2.8),
    ("Blue Fjord Denim", 1.1),
    ("Oakhurst", 1.3),
    ("Saltmarsh", 0.9),
    ("Velour Lane", 1.6),
    ("Tidewater", 0.7),
    ("Copperleaf", 1.2),
    ("Ember & Ash", 1.5),
    ("Fieldnote", 0.9),
    ("Lumen Knit", 1.3),
    ("Stonebridge", 1.8),
    ("Wren Studio", 1.0),
    ("Alder Row", 0.6),
    ("Marlowe", 2.0),
    ("Quill & Thread", 1.1),
    ("Brightwater Sport", 0.9),
)

# root -> [(leaf or sub-tree name, base price, product nouns)]; a tuple of
# children instead of nouns makes a third level.
_Leaf = tuple[str, float, tuple[str, ...]]
TREE: Final[dict[str, tuple[_Leaf | tuple[str, tuple[_Leaf, ...]], ...]]] = {
    "Women": (
        ("Dresses", 69.0, ("Wrap Dress", "Midi Dress", "Slip Dress", "Shirt Dress", "Maxi Dress")),
        ("Tops", 29.0, ("Blouse", "Tank Top", "Camisole", "Tunic")),
        ("Knitwear", 59.0, ("Cardigan", "Jumper", "Roll Neck")),
        ("Jeans", 65.0, ("Straight Jeans", "Wide-Leg Jeans", "Skinny Jeans")),
        ("Skirts", 45.0, ("Pleated Skirt", "Denim Skirt", "Midi Skirt")),
        ("Coats & Jackets", 129.0, ("Trench Coat", "Wool Coat", "Puffer Jacket", "Blazer")),
        (
            "Shoes",
            (
                ("Boots", 119.0, ("Ankle Boots", "Knee Boots", "Chelsea Boots")),
                ("Sneakers", 79.0, ("Canvas Sneakers", "Leather Trainers")),
                ("Heels", 89.0, ("Block Heels", "Slingbacks", "Court Shoes")),
            ),
        ),
        ("Bags", 95.0, ("Tote Bag", "Crossbody Bag", "Clutch")),
    ),
    "Men": (
        ("Shirts", 49.0, ("Oxford Shirt", "Linen Shirt", "Flannel Shirt")),
        ("T-Shirts", 22.0, ("Crew Tee", "Pocket Tee", "Polo Shirt")),
        ("Knitwear", 65.0, ("Crew Jumper", "Quarter-Zip", "Cardigan")),
        ("Jeans", 69.0, ("Slim Jeans", "Straight Jeans", "Tapered Jeans")),
        ("Trousers", 59.0, ("Chinos", "Cargo Trousers", "Wool Trousers")),
        ("Coats & Jackets", 149.0, ("Parka", "Overcoat", "Bomber Jacket", "Field Jacket")),
        (
            "Shoes",
            (
                ("Boots", 129.0, ("Chelsea Boots", "Work Boots")),
                ("Sneakers", 85.0, ("Runners", "Court Sneakers")),
                ("Formal", 110.0, ("Derby Shoes", "Loafers")),
            ),
        ),
        ("Suits", 249.0, ("Two-Piece Suit", "Suit Jacket")),
    ),
    "Kids": (
        ("Girls", 25.0, ("Party Dress", "Leggings", "Hoodie")),
        ("Boys", 25.0, ("Joggers", "Graphic Tee", "Rain Jacket")),
        ("Baby", 19.0, ("Bodysuit Set", "Sleepsuit", "Knitted Hat")),
    ),
    "Accessories": (
        ("Scarves", 35.0, ("Wool Scarf", "Silk Scarf")),
        ("Hats", 29.0, ("Beanie", "Bucket Hat", "Fedora")),
        ("Belts", 39.0, ("Leather Belt", "Woven Belt")),
        ("Sunglasses", 79.0, ("Aviators", "Round Sunglasses")),
        ("Jewellery", 49.0, ("Hoop Earrings", "Pendant Necklace", "Signet Ring")),
    ),
}

ADJECTIVES: Final = (
    "Black", "Navy", "Ivory", "Camel", "Olive", "Burgundy", "Striped", "Floral",
    "Linen", "Organic Cotton", "Merino", "Cashmere-Blend", "Recycled", "Washed",
    "Cropped", "Relaxed", "Tailored", "Ribbed",
)  # fmt: skip

# Share of a root's shoppers: most customers shop one side of the tree.
ROOT_WEIGHTS: Final = {"Women": 0.52, "Men": 0.33, "Kids": 0.10, "Accessories": 0.05}


def _slug(*parts: str) -> str:
    return "-".join(p.lower().replace(" & ", "-").replace(" ", "-") for p in parts)


def build_catalogue(products: int, seed: int) -> Catalogue:
    rng = random.Random(f"{seed}:catalogue")
    brands = tuple(Brand(f"b{i + 1:02d}", name) for i, (name, _) in enumerate(BRANDS))
    tiers = {b.id: tier for b, (_, tier) in zip(brands, BRANDS, strict=True)}
    categories: list[Category] = []
    leaves: list[tuple[str, float, tuple[str, ...]]] = []  # (id, base price, nouns)
    for root, children in TREE.items():
        root_id = _slug(root)
        categories.append(Category(root_id, root))
        for child in children:
            child_id = _slug(root, child[0])
            categories.append(Category(child_id, child[0], root_id))
            if len(child) == 3:
                leaves.append((child_id, child[1], child[2]))
                continue
            for name, base, nouns in child[1]:
                leaf_id = _slug(root, child[0], name)
                categories.append(Category(leaf_id, name, child_id))
                leaves.append((leaf_id, base, nouns))
    # Leaves get products in proportion to their root's share of shoppers.
    leaf_weights = [ROOT_WEIGHTS[_root_name(leaf_id)] for leaf_id, _, _ in leaves]
    items: list[Product] = []
    for n in range(products):
        leaf_id, base, nouns = rng.choices(leaves, leaf_weights)[0]
        brand = rng.choice(brands)
        price = base * tiers[brand.id] * math.exp(rng.gauss(0, 0.25))
        items.append(
            Product(
                sku=f"SKU-{n + 1:06d}",
                name=f"{brand.name} {rng.choice(ADJECTIVES)} {rng.choice(nouns)}",
                price=max(4.99, round(price) - 0.01),
                brand_id=brand.id,
                category_id=leaf_id,
                in_stock=rng.random() < 0.92,
            )
        )
    return Catalogue(brands, tuple(categories), tuple(items))


def _root_name(category_id: str) -> str:
    return next(root for root in TREE if category_id.startswith(_slug(root)))


# -- customers ----------------------------------------------------------------

# (kind, weight, user-agent families)
DEVICE_TYPES: Final[tuple[tuple[DeviceKind, float, tuple[str, ...]], ...]] = (
    ("mobile", 0.55, ("Mobile Safari", "Chrome Mobile", "Samsung Internet", "Shop app")),
    ("desktop", 0.30, ("Chrome", "Safari", "Firefox", "Edge")),
    ("tablet", 0.15, ("Mobile Safari", "Chrome Mobile", "Shop app")),
)

# Per purpose: weights of (granted, refused, withdrawn, never asked).
CONSENT_MIX: Final = {
    "personalisation": (0.62, 0.10, 0.06, 0.22),
    "cross_device": (0.40, 0.18, 0.05, 0.37),
    "analytics": (0.55, 0.20, 0.05, 0.20),
    "third_party_sharing": (0.10, 0.40, 0.05, 0.45),
    "marketing": (0.35, 0.30, 0.10, 0.25),
}


# The evidence of the links the generator makes up (method ``demo``).
DEMO_GUESS: Final = "Made up by the demo generator: no linker decided this link"


@dataclass(frozen=True, slots=True)
class _Shopper:
    """What the event generator needs to know about one customer."""

    customer_id: str
    devices: tuple[tuple[str, DeviceKind], ...]  # linked and not-yet-linked
    root: str
    orders: int  # purchase occasions in the year
    browses: int  # sessions without a purchase


def _random_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    return start + timedelta(seconds=int(rng.random() * span))


def _orders_in_year(rng: random.Random) -> int:
    """Sporadic, heavy-tailed buying: most buyers buy once or twice a year."""
    if rng.random() < 0.35:
        return 0
    r = rng.random()
    if r < 0.56:
        return 1
    if r < 0.80:
        return 2
    if r < 0.90:
        return 3
    return min(40, 4 + int(rng.paretovariate(1.4)))


def _device_count(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4), (0.28, 0.40, 0.22, 0.10))[0]


def _customers(customers: int, seed: int, pii_key: str) -> tuple[CustomerBase, list[_Shopper]]:
    rng = random.Random(f"{seed}:customers")
    roots = list(ROOT_WEIGHTS)
    root_weights = list(ROOT_WEIGHTS.values())
    people: list[Customer] = []
    devices: list[Device] = []
    links: list[DeviceLink] = []
    consents: list[Consent] = []
    shoppers: list[_Shopper] = []
    for n in range(customers):
        cid = f"C{n + 1:06d}"
        created = _random_time(rng, WINDOW_START - timedelta(days=3 * 365), WINDOW_END)
        people.append(Customer(cid, created, email_hmac(f"customer{n + 1}@example.test", pii_key)))
        owned: list[tuple[str, DeviceKind]] = []
        for d in range(_device_count(rng)):
            kind, _, families = rng.choices(DEVICE_TYPES, [t[1] for t in DEVICE_TYPES])[0]
            device_id = f"d{n + 1:06d}-{d + 1}"
            owned.append((device_id, kind))
            first = created + timedelta(days=rng.random() * 30)
            # The first device is where the account was opened. Others are
            # known from an earlier login (an import of the retailer's own
            # records), made up as a guess, or not known at all yet: the event
            # stream's sign-ins link some of them through the real linkers.
            r = rng.random()
            if d > 0 and r >= 0.75:
                continue
            devices.append(Device(device_id, kind, rng.choice(families), first, first))
            if d == 0 or r < 0.55:
                links.append(
                    DeviceLink(device_id, cid, "login", 1.0, first, "Signed in (imported record)")
                )
            else:
                # No linker decided these: they exist so that a demo shows links
                # below TIGHTROPE_HISTORY_MIN_LINK_CONFIDENCE, and say so.
                confidence = round(0.55 + rng.random() * 0.35, 2)
                links.append(DeviceLink(device_id, cid, "demo", confidence, first, DEMO_GUESS))
        for purpose in PURPOSES:
            state = rng.choices(range(4), CONSENT_MIX[purpose])[0]
            if state == 3:
                continue  # never asked: no edge at all
            at = _random_time(rng, created, max(created, WINDOW_END) + timedelta(seconds=1))
            source = rng.choice(("web", "web", "app", "store"))
            version = rng.choice(("2024-03", "2025-09"))
            consents.append(Consent(cid, purpose, state == 0, at, version, source))
        browses = min(300, int(rng.lognormvariate(1.0, 1.1)))
        shoppers.append(
            _Shopper(
                cid,
                tuple(owned),
                rng.choices(roots, root_weights)[0],
                _orders_in_year(rng),
                browses,
            )
        )
    base = CustomerBase(tuple(people), tuple(devices), tuple(links), tuple(consents))
    return base, shoppers


GIVEN_NAMES: Final = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noor",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
)
FAMILY_NAMES: Final = (
    "Adeyemi",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
)


def _with_contacts(base: CustomerBase, seed: int, keys: DataKeys) -> CustomerBase:
    """The customers with invented names, their demo emails and some phone numbers, sealed."""
    rng = random.Random(f"{seed}:contacts")  # its own stream: the rest of the data is unchanged
    people = []
    for n, customer in enumerate(base.customers):
        contact = Contact(
            email=f"customer{n + 1}@example.test",
            name=f"{rng.choice(GIVEN_NAMES)} {rng.choice(FAMILY_NAMES)}",
            phone=f"+44 7700 9{rng.randrange(100_000):05d}" if rng.random() < 0.6 else None,
        )
        people.append(replace(customer, contact_enc=seal_contact(contact, customer.id, keys)))
    return replace(base, customers=tuple(people))


# -- events -------------------------------------------------------------------

# Share of events that come from registered customers; the rest come from
# visitors who never sign in.
CUSTOMER_SHARE: Final = 0.55


class _EventStream:
    """Builds sessions one at a time and numbers their events."""

    def __init__(self, catalogue: Catalogue, seed: int) -> None:
        self.rng = random.Random(f"{seed}:events")
        self.seed = seed
        self.events = 0
        self.sessions = 0
        products = catalogue.products
        # Popularity is Zipf-like: a few products draw most views.
        order = list(range(len(products)))
        self.rng.shuffle(order)
        weights = [0.0] * len(products)
        for rank, index in enumerate(order):
            weights[index] = 1.0 / (rank + 1) ** 0.9
        self.by_root: dict[str, tuple[list[Product], list[float]]] = {}
        for root in TREE:
            picked = [
                i
                for i, p in enumerate(products)
                if p.category_id is not None and _root_name(p.category_id) == root
            ]
            if picked:
                cumulative = _cumulative([weights[i] for i in picked])
                self.by_root[root] = ([products[i] for i in picked], cumulative)
        self.all = (list(products), _cumulative(weights))

    def _product(self, root: str) -> Product:
        pool, cumulative = self.by_root.get(root, self.all)
        if self.rng.random() < 0.15:  # wander outside the usual department
            pool, cumulative = self.all
        return self.rng.choices(pool, cum_weights=cumulative)[0]

    def _event(self, **fields: object) -> Event:
        self.events += 1
        return Event(event_id=f"e{self.seed}-{self.events}", **fields)  # type: ignore[arg-type]

    def session(
        self,
        device: str,
        kind: DeviceKind,
        root: str,
        at: datetime,
        customer: str | None,
        buys: bool,
        signs_in: bool,
    ) -> list[Event]:
        rng = self.rng
        self.sessions += 1
        sid = f"s{self.seed}-{self.sessions}"
        channel = "app" if kind != "desktop" and rng.random() < 0.3 else "web"
        common = {"session_id": sid, "device_id": device, "channel": channel}
        out: list[Event] = []
        views = 1 + min(40, int(rng.expovariate(1 / (5.0 if customer else 2.5))))
        login_after = rng.randrange(views) if customer and (signs_in or buys) else -1
        cart: list[Product] = []
        for v in range(views):
            product = self._product(root)
            out.append(self._event(type="view", at=at, sku=product.sku, **common))
            at += timedelta(seconds=rng.randint(15, 240))
            if rng.random() < (0.25 if buys else 0.06):
                cart.append(product)
                out.append(self._event(type="add_to_cart", at=at, sku=product.sku, **common))
                at += timedelta(seconds=rng.randint(5, 60))
            if v == login_after:
                out.append(self._event(type="login", at=at, customer_id=customer, **common))
                at += timedelta(seconds=rng.randint(5, 30))
        if buys and customer:
            if not cart:
                cart.append(self._product(root))
                out.append(self._event(type="add_to_cart", at=at, sku=cart[0].sku, **common))
            order_id = f"o{self.seed}-{self.sessions}"
            at += timedelta(seconds=rng.randint(60, 600))
            for line, product in enumerate(cart[:4]):
                if line and rng.random() < 0.4:
                    continue  # left in the cart
                qty = 1 if rng.random() < 0.9 else 2
                out.append(
                    self._event(
                        type="purchase", at=at, sku=product.sku, customer_id=customer,
                        qty=qty, price=product.price, order_id=order_id, **common,
                    )
                )  # fmt: skip
        return out


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _season_time(rng: random.Random) -> datetime:
    """A moment in the year, busier from mid-November to the new year."""
    if rng.random() < 0.25:
        start = datetime(WINDOW_START.year, 11, 15, tzinfo=UTC)
        return _random_time(rng, start, start + timedelta(days=47))
    return _random_time(rng, WINDOW_START, WINDOW_END)


class DemoData:
    """The demo retailer for one seed and size; each part is reproducible on its own."""

    def __init__(
        self,
        customers: int = 1000,
        products: int = 400,
        events: int = 50_000,
        seed: int = 7,
        *,
        pii_key: str,
        data_keys: DataKeys | None = None,
    ) -> None:
        if customers < 1 or products < 1 or events < 0:
            raise ValueError("customers and products must be at least 1, events at least 0")
        self.customers = customers
        self.products = products
        self.events = events
        self.seed = seed
        # Demo customers sign in as customerN@example.test: hashed with the deployment's key.
        self.pii_key = pii_key
        # With data keys, customers have contact details too, sealed (a fresh
        # nonce each time: the ciphertext differs from run to run, the contact not).
        self.data_keys = data_keys

    def catalogue(self) -> Catalogue:
        return build_catalogue(self.products, self.seed)

    def customer_base(self) -> CustomerBase:
        base = _customers(self.customers, self.seed, self.pii_key)[0]
        if self.data_keys is None:
            return base
        return _with_contacts(base, self.seed, self.data_keys)

    def event_stream(self) -> Iterator[Event]:
        """Exactly ``events`` events: customers' sessions interleaved with anonymous visitors'."""
        stream = _EventStream(self.catalogue(), self.seed)
        _, shoppers = _customers(self.customers, self.seed, self.pii_key)
        rng = stream.rng
        visitors = 0
        from_customers = 0
        produced = 0
        pending = iter(self._customer_sessions(stream, shoppers))
        while produced < self.events:
            # Keep customers' share of events near CUSTOMER_SHARE while they last.
            batch: list[Event] | None = None
            if from_customers <= CUSTOMER_SHARE * produced:
                batch = next(pending, None)
                if batch is not None:
                    from_customers += len(batch)
            if batch is None:
                visitors += 1
                batch = []
                device = f"v{self.seed}-{visitors}"
                kind, _, _ = rng.choices(DEVICE_TYPES, [t[1] for t in DEVICE_TYPES])[0]
                root = rng.choices(list(ROOT_WEIGHTS), list(ROOT_WEIGHTS.values()))[0]
                # Most visitors come once; a few come back many times.
                returns = 1 if rng.random() < 0.7 else 1 + min(30, int(rng.paretovariate(1.3)))
                for _ in range(returns):
                    batch += stream.session(
                        device, kind, root, _season_time(rng), None, False, False
                    )
            yield from batch[: self.events - produced]
            produced = min(self.events, produced + len(batch))

    def _customer_sessions(
        self, stream: _EventStream, shoppers: list[_Shopper]
    ) -> Iterator[list[Event]]:
        rng = stream.rng
        for shopper in shoppers:
            plan = [True] * shopper.orders + [False] * shopper.browses
            rng.shuffle(plan)
            weights = [3.0 if k == "mobile" else 1.0 for _, k in shopper.devices]
            for buys in plan:
                device, kind = rng.choices(shopper.devices, weights)[0]
                # Sessions begin anonymous; a quarter of browsing sessions sign
                # in part-way, and checkout always asks for a login.
                signs_in = rng.random() < 0.25
                yield stream.session(
                    device,
                    kind,
                    shopper.root,
                    _season_time(rng),
                    shopper.customer_id,
                    buys,
                    signs_in,
                )
