"""Shoppers with a known owner for every device: the scenario ``tightrope evaluate linking`` runs.

Generated from a seed, so a seed always gives the same people, devices and
visits. What makes linking hard is put in on purpose:

* **households** of one to four people on one home network, some of them
  customers and some not; half the households of two or more share a
  **family tablet**, on which members sometimes sign in; some members' tastes
  overlap (couples shopping together);
* **neighbours**: 15 % of households share their /24 with another household
  (the network prefix is all the linker sees);
* **crowds**: mobile carriers (phones off Wi-Fi: few prefixes, thousands of
  shoppers), cafes and offices, where customers meet strangers;
* **people with many devices**: a phone, often a laptop, sometimes a tablet,
  each with a realistic user agent (two phones in a house are often the same
  browser family);
* **customers without consent**: 40 % have not granted ``cross_device``
  (15 % refused it, 25 % were never asked);
* **visitors** who are no customers at all, at home and in the crowds;
* **popular products** everyone looks at (a quarter of views), so that
  looking at the same thing is weak evidence unless it is a specific thing.

A person's visits come in journeys: an intent (a few products from their own
taste) pursued over one to four sessions on different devices, minutes to
hours apart, the last ending in a purchase 35 % of the time (a sign-in at
checkout). Customers sign in on their main device on their first visit, and
on each other device at some visit with probability 0.3: those are the
proofs linking starts from. The devices nobody ever signs in on, owned by a
consenting customer, are what probabilistic linking should find.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from gateway.demo import ROOT_WEIGHTS, build_catalogue
from graph.model import Catalogue, Consent, Customer, CustomerBase, Event

END: Final = datetime(2026, 10, 1, tzinfo=UTC)
# A family tablet's owner is "shared:<household>".
SHARED: Final = "shared:"
DAYS: Final = 30

UAS: Final = {
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{v} Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.6367.{v} Mobile Safari/537.36",
    "samsung": "Mozilla/5.0 (Linux; Android 14; SM-S92{v}B) AppleWebKit/537.36 (KHTML, like "
    "Gecko) SamsungBrowser/24.{v} Chrome/117.0.0.0 Mobile Safari/537.36",
    "mac-chrome": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/12{v}.0.0.0 Safari/537.36",
    "mac-safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{v} Safari/605.1.15",
    "win-chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/12{v}.0.0.0 Safari/537.36",
    "win-edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.24{v}.51",
    "ipad": "Mozilla/5.0 (iPad; CPU OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.{v} Mobile/15E148 Safari/604.1",
    "android-tablet": "Mozilla/5.0 (Linux; Android 14; SM-X71{v}) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/124.0.6367.{v} Safari/537.36",
}
BROWSERS: Final = {
    "mobile": (("iphone", 0.55), ("android", 0.35), ("samsung", 0.10)),
    "desktop": (("mac-chrome", 0.3), ("mac-safari", 0.2), ("win-chrome", 0.3), ("win-edge", 0.2)),
    "tablet": (("ipad", 0.7), ("android-tablet", 0.3)),
}
# Where each kind of device is used: (home, carrier, cafe, office) weights.
WHERE: Final = {
    "mobile": (0.55, 0.35, 0.10, 0.0),
    "desktop": (0.75, 0.0, 0.10, 0.15),
    "tablet": (0.90, 0.0, 0.10, 0.0),
}


@dataclass(frozen=True)
class Scale:
    households: int = 250
    visitors: int = 300
    carriers: int = 3
    cafes: int = 8
    offices: int = 10
    products: int = 300


@dataclass
class Device:
    id: str
    kind: str
    user_agent: str
    owner: str  # a person's id, or "shared:<household>" for a family tablet


@dataclass
class Person:
    id: str
    customer: bool
    household: str | None
    home: str  # the home network's address
    consent: bool | None  # cross_device: granted, refused, never asked
    devices: list[Device] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)  # what they like, by SKU
    office: str | None = None


@dataclass(frozen=True)
class Visit:
    """One session: its events, each sent with the device's network and user agent."""

    start: datetime
    events: tuple[tuple[Event, str, str], ...]


@dataclass
class Scenario:
    seed: int
    catalogue: Catalogue
    customers: CustomerBase
    people: dict[str, Person]
    devices: dict[str, Device]
    visits: list[Visit]
    signed_in: dict[str, set[str]] = field(default_factory=dict)  # device -> customers

    def owner(self, device_id: str) -> str:
        return self.devices[device_id].owner

    def shared_by(self, device_id: str) -> str | None:
        """The household whose family tablet this is, or None."""
        owner = self.owner(device_id)
        return owner.removeprefix(SHARED) if owner.startswith(SHARED) else None

    def home_of(self, device_id: str) -> str | None:
        """The household the device is used in: its family's, or its owner's."""
        shared = self.shared_by(device_id)
        return shared if shared is not None else self.people[self.owner(device_id)].household

    def used_devices(self) -> set[str]:
        return {event.device_id for v in self.visits for event, _, _ in v.events if event.device_id}


class _Builder:
    def __init__(self, seed: int, scale: Scale) -> None:
        self.rng = random.Random(f"{seed}:linking")  # noqa: S311 - a reproducible scenario
        self.seed = seed
        self.scale = scale
        self.catalogue = build_catalogue(scale.products, seed)
        self.people: dict[str, Person] = {}
        self.devices: dict[str, Device] = {}
        self.visits: list[Visit] = []
        self.signed_in: dict[str, set[str]] = {}
        self._events = 0
        self._sessions = 0
        skus = [p.sku for p in self.catalogue.products]
        self.popular = skus[:20]
        self.by_root: dict[str, list[str]] = {root: [] for root in ROOT_WEIGHTS}
        for p in self.catalogue.products:
            root = next(r for r in ROOT_WEIGHTS if (p.category_id or "").startswith(r.lower()))
            self.by_root[root].append(p.sku)
        self.blocks: list[str] = []

    # -- networks ----------------------------------------------------------------

    def _block(self) -> str:
        """A /24 of a residential provider: 15 % of the time a neighbour's."""
        if self.blocks and self.rng.random() < 0.15:
            return self.rng.choice(self.blocks)
        block = f"{self.rng.randint(80, 95)}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}"
        self.blocks.append(block)
        return block

    def _home(self) -> str:
        return f"{self._block()}.{self.rng.randint(2, 254)}"

    def _carrier(self) -> str:
        # Carrier-grade NAT: a few public prefixes shared by everyone on the carrier.
        carrier = 100 + self.rng.randrange(self.scale.carriers)
        block = f"{carrier}.{40 + self.rng.randrange(3)}.{self.rng.randrange(4)}"
        return f"{block}.{self.rng.randint(1, 254)}"

    def _cafe(self) -> str:
        return f"{110 + self.rng.randrange(self.scale.cafes)}.20.30.{self.rng.randint(1, 254)}"

    # -- people ---------------------------------------------------------------------

    def _pool(self) -> list[str]:
        root = self.rng.choices(list(ROOT_WEIGHTS), list(ROOT_WEIGHTS.values()))[0]
        own = self.rng.sample(self.by_root[root], min(40, len(self.by_root[root])))
        other = self.rng.choice(list(ROOT_WEIGHTS))
        return own + self.rng.sample(self.by_root[other], min(8, len(self.by_root[other])))

    def _device(self, owner: str, kind: str, device_id: str) -> Device:
        names, weights = zip(*BROWSERS[kind], strict=True)
        browser = self.rng.choices(names, weights)[0]
        agent = UAS[browser].format(v=self.rng.randint(1, 6))
        device = Device(device_id, kind, agent, owner)
        self.devices[device.id] = device
        return device

    def _person(self, pid: str, customer: bool, household: str | None, home: str) -> Person:
        consent: bool | None = None
        if customer:
            r = self.rng.random()
            consent = True if r < 0.6 else (False if r < 0.75 else None)
        person = Person(pid, customer, household, home, consent)
        person.devices.append(self._device(pid, "mobile", f"{pid}-phone"))
        if self.rng.random() < 0.7:
            person.devices.append(self._device(pid, "desktop", f"{pid}-laptop"))
        if self.rng.random() < 0.25:
            person.devices.append(self._device(pid, "tablet", f"{pid}-tablet"))
        person.pool = self._pool()
        if self.rng.random() < 0.5:
            person.office = f"{130 + self.rng.randrange(self.scale.offices)}.50.60"
        self.people[pid] = person
        return person

    def build(self) -> Scenario:
        shared: dict[str, Device] = {}
        members: dict[str, list[Person]] = {}
        for h in range(self.scale.households):
            hid = f"h{h + 1:04d}"
            home = self._home()
            size = self.rng.choices((1, 2, 3, 4), (0.40, 0.35, 0.15, 0.10))[0]
            people = []
            for m in range(size):
                customer = self.rng.random() < 0.75
                prefix = "C" if customer else "V"
                people.append(self._person(f"{prefix}{h + 1:04d}{m}", customer, hid, home))
            if size >= 2 and self.rng.random() < 0.3:  # a couple shopping together
                a, b = people[0], people[1]
                b.pool = a.pool[:12] + b.pool[12:]
            if size >= 2 and self.rng.random() < 0.5:
                shared[hid] = self._device(f"shared:{hid}", "tablet", f"{hid}-family-tablet")
            members[hid] = people
        for v in range(self.scale.visitors):
            self._person(f"X{v + 1:04d}", False, None, self._home())
        for person in self.people.values():
            self._visits(person, shared.get(person.household or ""))
        self.visits.sort(key=lambda visit: visit.start)
        return Scenario(
            self.seed,
            self.catalogue,
            self._customer_base(),
            self.people,
            self.devices,
            self.visits,
            self.signed_in,
        )

    def _customer_base(self) -> CustomerBase:
        customers = []
        consents = []
        created = END - timedelta(days=400)
        for person in self.people.values():
            if not person.customer:
                continue
            customers.append(Customer(person.id, created))
            if person.consent is not None:
                consents.append(Consent(person.id, "cross_device", person.consent, created))
        return CustomerBase(tuple(customers), (), (), tuple(consents))

    # -- visits ---------------------------------------------------------------------

    def _network(self, person: Person, device: Device) -> str:
        if device.owner.startswith("shared:"):
            return person.home
        home, carrier, cafe, office = WHERE[device.kind]
        if person.office is None:
            office = 0.0
        where = self.rng.choices(
            ("home", "carrier", "cafe", "office"), (home, carrier, cafe, office)
        )[0]
        if where == "home":
            return person.home
        if where == "carrier":
            return self._carrier()
        if where == "cafe":
            return self._cafe()
        return f"{person.office}.{self.rng.randint(2, 254)}"

    def _visits(self, person: Person, family_tablet: Device | None) -> None:
        rng = self.rng
        devices = list(person.devices) + ([family_tablet] if family_tablet else [])
        main = (
            person.devices[0]
            if rng.random() < 0.6 or len(person.devices) == 1
            else person.devices[1]
        )
        will_sign_in = {d.id for d in devices if d is main or rng.random() < 0.3}
        journeys = rng.randint(2, 7)
        starts = sorted(
            END - timedelta(days=DAYS) + timedelta(seconds=rng.random() * (DAYS - 1) * 86400)
            for _ in range(journeys)
        )
        first_visit = True
        for start in starts:
            intent = rng.sample(person.pool, rng.randint(3, 6))
            sessions = rng.choices((1, 2, 3, 4), (0.3, 0.35, 0.2, 0.15))[0]
            buys = person.customer and rng.random() < 0.35
            at = start
            for s in range(sessions):
                device = main if s == 0 and first_visit else rng.choice(devices)
                last = s == sessions - 1
                sign_in = person.customer and (
                    (first_visit and device is main)
                    or (device.id in will_sign_in and rng.random() < 0.5)
                    or (last and buys)
                )
                self._session(person, device, at, intent, sign_in, last and buys)
                first_visit = False
                at += timedelta(minutes=rng.choice((5, 15, 30, 60, 120, 180)) * rng.random() + 2)

    def _session(
        self,
        person: Person,
        device: Device,
        at: datetime,
        intent: Sequence[str],
        sign_in: bool,
        buys: bool,
    ) -> None:
        rng = self.rng
        self._sessions += 1
        sid = f"s{self.seed}-{self._sessions}"
        network = self._network(person, device)
        start = at
        rows: list[tuple[Event, str, str]] = []

        def add(**fields: Any) -> None:
            self._events += 1
            event = Event(
                event_id=f"e{self.seed}-{self._events}",
                at=at,
                session_id=sid,
                device_id=device.id,
                **fields,
            )
            rows.append((event, network, device.user_agent))

        views = rng.randint(2, 7)
        login_after = rng.randrange(min(3, views)) if sign_in else -1
        cart: list[str] = []
        for v in range(views):
            r = rng.random()
            if r < 0.25:
                sku = rng.choice(self.popular)
            elif r < 0.4:
                sku = rng.choice(person.pool)
            else:
                sku = rng.choice(intent)
            add(type="view", sku=sku)
            at += timedelta(seconds=rng.randint(20, 200))
            if sku in intent and rng.random() < (0.4 if buys else 0.1):
                cart.append(sku)
                add(type="add_to_cart", sku=sku)
            if v == login_after:
                add(type="login", customer_id=person.id)
                self.signed_in.setdefault(device.id, set()).add(person.id)
        if buys:
            if login_after < 0:  # checkout asks for a sign-in
                add(type="login", customer_id=person.id)
                self.signed_in.setdefault(device.id, set()).add(person.id)
            for sku in cart[:3] or [intent[0]]:
                add(type="purchase", sku=sku, customer_id=person.id, qty=1, order_id=sid)
        self.visits.append(Visit(start, tuple(rows)))


def build(seed: int, scale: Scale | None = None) -> Scenario:
    """The scenario of ``seed`` (the default scale unless given)."""
    return _Builder(seed, scale or Scale()).build()
