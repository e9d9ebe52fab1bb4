"""Built-in plugin ``tightrope-network-linker``: a calibrated guess from a shared network.

Two devices on the same home network, used close together in time, looking at
the same products, are probably one shopper's: the phone used to compare
prices and the laptop the basket was filled on. The same network alone is not
enough (a household shares it, and so do neighbours behind one prefix), which
is why what was looked at weighs most.

For an observation carrying a network, on a network that is not public (the
host hides public ones, gateway/linking/data.py):

* if nothing proves whose the device is, it is scored against every customer
  with a proved device on that network;
* if the device is proved a customer's (a sign-in now or before), every device
  on the network that nothing proves is scored, and proposed for that
  customer: the laptop browsed anonymously yesterday is found when the phone
  signs in today.

Candidates are only customers with a *proved* device there (a sign-in, an
email): one guess never leads to another. Each (device, customer) pair gets a
confidence from a logistic model over a few features (:func:`features`),
whose constants ``tightrope evaluate linking --fit`` can refit on the
evaluation's households (docs/linking.md says how well they score), and the
evidence in words. Everything is proposed; the host
applies the threshold, the consent and the limits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tightrope import (
    CROSS_DEVICE,
    DETERMINISTIC,
    DataCategory,
    Evidence,
    LinkerData,
    Manifest,
    Observation,
    Proposal,
    Settings,
    hookimpl,
)

METHOD = "probabilistic"
# Hours within which two devices' visits count as one sitting, and two looks
# at one product as one errand.
CLOSE_HOURS = 3.0
ERRAND_HOURS = 6.0

# The model: confidence = logistic(BIAS + sum of WEIGHTS[name] * feature).
# Fitted (logistic regression, then rounded) on the proposals of one
# evaluation run, seed 7 of the default scenario, and checked on seeds 1 to 3
# (docs/linking.md). What weighs most against a guess: the customer already
# has a phone (or computer) of the same kind proved there, which is what a
# household member's second phone looks like; and a tablet, which is as often
# the family's as anyone's.
BIAS = 0.6
WEIGHTS: Mapping[str, float] = {
    "share": -0.4,
    "errand": 1.4,
    "margin": 1.0,
    "log_products": -1.6,
    "alone": 0.3,
    "unseen_rivals": -0.3,
    "close": 0.5,
    "same_browser": -0.4,
    "kind_owned": -3.5,
    "tablet": -1.1,
    "kind_owned_tablet": -0.6,
    "family_tablet": -0.3,
    "strangers": -0.1,
    "rivals": 0.3,
}


@dataclass(frozen=True, slots=True)
class Seen:
    """A device on the network: what it is and when it was last there."""

    device_id: str
    kind: str | None
    user_agent: str | None
    at: datetime


def rarity(views: int, total: int) -> float:
    """How much looking at a product says about who looked: little for a bestseller."""
    return math.log((total + 1) / (views + 1)) if total else 1.0


def features(
    products: Mapping[str, datetime],
    theirs: Mapping[str, datetime],
    rivals: Sequence[Mapping[str, datetime]],
    unseen_rivals: int,
    gap_hours: float,
    same_browser: bool,
    weight: Mapping[str, float],
) -> dict[str, float]:
    """The numbers the confidence is made of, for one device and one candidate customer.

    ``products``: what the device looked at, and when; ``theirs``: the same
    for the customer; ``rivals``: for the other candidates on the network
    whose data may be read; ``unseen_rivals``: other customers there whose
    data may not be read; ``gap_hours``: between the device and the
    customer's nearest device on the network; ``weight``: each product's
    :func:`rarity` (1 if absent).
    """

    def share(other: Mapping[str, datetime]) -> float:
        mass = sum(weight.get(sku, 1.0) for sku in products)
        both = sum(weight.get(sku, 1.0) for sku in products if sku in other)
        return both / mass if mass else 0.0

    errand = sum(
        weight.get(sku, 1.0)
        for sku, at in products.items()
        if sku in theirs and abs((theirs[sku] - at).total_seconds()) <= ERRAND_HOURS * 3600
    )
    mine = share(theirs)
    rival = max((share(r) for r in rivals), default=0.0)
    return {
        "share": mine,
        "errand": math.log1p(errand),
        "margin": mine - rival,
        "log_products": math.log1p(len(products)),
        "alone": 1.0 if not rivals and not unseen_rivals else 0.0,
        "unseen_rivals": float(unseen_rivals),
        "close": 1.0 if gap_hours <= CLOSE_HOURS else 0.0,
        "same_browser": 1.0 if same_browser else 0.0,
    }


def kinds(
    kind: str | None, owned: Sequence[str | None], strangers: int, rivals: int
) -> dict[str, float]:
    """What the kinds of devices say: people seldom have two phones, families share tablets.

    ``kind``: the scored device's; ``owned``: the customer's proved devices'
    there; ``strangers``: other devices there nothing proves; ``rivals``:
    other customers with a proved device there.
    """
    tablet = kind == "tablet"
    same = kind is not None and kind in owned
    return {
        "kind_owned": 1.0 if same and not tablet else 0.0,
        "tablet": 1.0 if tablet else 0.0,
        "kind_owned_tablet": 1.0 if same and tablet else 0.0,
        "family_tablet": 1.0 if tablet and strangers + rivals > 0 else 0.0,
        "strangers": float(strangers),
        "rivals": float(rivals),
    }


def confidence(values: Mapping[str, float]) -> float:
    z = BIAS + sum(WEIGHTS[name] * value for name, value in values.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _yours(kind: str | None) -> str:
    named = {"mobile": "phone", "desktop": "computer", "tablet": "tablet", "kiosk": "kiosk"}
    return f"your {named[kind]}" if kind in named else "one of your devices"


def evidence(
    values: Mapping[str, float], overlap: int, nearest: Seen, gap: float
) -> tuple[Evidence, ...]:
    """Why, in the customer's words: only what is true of their own devices and browsing."""
    yours = _yours(nearest.kind)
    said = [Evidence("SAME_NETWORK", f"Used on the same network as {yours}")]
    if values["close"]:
        minutes = max(1, round(gap * 60))
        when = f"{minutes} minutes" if minutes < 120 else f"{round(gap)} hours"
        said.append(Evidence("CLOSE_IN_TIME", f"Used within {when} of {yours}"))
    if overlap:
        things = "product" if overlap == 1 else "products"
        said.append(Evidence("SAME_PRODUCTS", f"Looked at {overlap} {things} you also looked at"))
    if values["same_browser"]:
        said.append(Evidence("SAME_BROWSER", f"Uses the same kind of browser as {yours}"))
    return tuple(said)


class NetworkLinker:
    name = "network"
    purpose = CROSS_DEVICE
    # What cross_device may read (the consent policy's table): no purchases.
    categories = frozenset({DataCategory.DEVICE, DataCategory.BROWSING_HISTORY})

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        if observation.network is None:
            return []
        view = await data.network(observation.network, observation)
        if view is None or view.public:
            return []
        here: dict[str, Seen] = {}
        owners: dict[str, list[Seen]] = defaultdict(list)  # customer -> proved devices here
        proved_devices: set[str] = set()
        for peer in view.peers:
            d = peer.device
            seen = Seen(d.id, d.kind, d.user_agent, peer.last_at)
            here[d.id] = seen
            for link in d.links:
                if link.method in DETERMINISTIC:
                    owners[link.customer_id].append(seen)
                    proved_devices.add(d.id)
        me = here.get(observation.device_id)
        if me is None:
            return []
        # This batch's sign-ins are proof too, though not written yet.
        mine = {s.customer_id for s in observation.sign_ins}
        mine |= {c for c, seen in owners.items() if any(s.device_id == me.device_id for s in seen)}
        for customer in mine:
            if me not in owners[customer]:
                owners[customer].append(me)
        if mine:
            targets = [
                s for s in here.values() if s.device_id not in proved_devices | {me.device_id}
            ]
        else:
            targets = [me]
        if not targets or not owners:
            return []
        allowed = await data.allowed(owners)
        products = await data.products_of_devices([t.device_id for t in targets], observation)
        theirs = await data.products_of_customers(allowed, observation)
        skus = {sku for seen in (*products.values(), *theirs.values()) for sku in seen}
        views, total = await data.popularity(skus)
        weight = {sku: rarity(views.get(sku, 0), total) for sku in skus}
        # Devices here that nothing proves, beside the one scored: a household's
        # visitors, or the customer's own other devices.
        unproved = set(here) - proved_devices - ({me.device_id} if mine else set())
        proposals = []
        for target in targets:
            for customer in sorted((mine or set(owners)) & allowed):
                proposals.append(
                    self._score(
                        target,
                        customer,
                        owners,
                        allowed,
                        products,
                        theirs,
                        weight,
                        len(unproved - {target.device_id}),
                    )
                )
        return proposals

    def _score(
        self,
        target: Seen,
        customer: str,
        owners: Mapping[str, list[Seen]],
        allowed: frozenset[str],
        products: Mapping[str, Mapping[str, datetime]],
        theirs: Mapping[str, Mapping[str, datetime]],
        weight: Mapping[str, float],
        strangers: int = 0,
    ) -> Proposal:
        own = [s for s in owners[customer] if s.device_id != target.device_id]
        nearest = min(own, key=lambda s: abs((s.at - target.at).total_seconds()), default=target)
        gap = abs((nearest.at - target.at).total_seconds()) / 3600
        looked = products.get(target.device_id, {})
        known = theirs.get(customer, {})
        rivals = [theirs.get(c, {}) for c in owners if c != customer and c in allowed]
        unseen = sum(1 for c in owners if c != customer and c not in allowed)
        same_browser = target.user_agent is not None and any(
            s.user_agent == target.user_agent for s in own
        )
        values = features(looked, known, rivals, unseen, gap, same_browser, weight)
        values.update(kinds(target.kind, [s.kind for s in own], strangers, len(owners) - 1))
        overlap = sum(1 for sku in looked if sku in known)
        return Proposal(
            target.device_id,
            customer,
            METHOD,
            confidence(values),
            evidence(values, overlap, nearest, gap),
            values,
        )


@hookimpl
def register_identity_linkers(settings: Settings) -> list[NetworkLinker]:
    # Opt-in (settings.linking_probabilistic): its guesses are not precise
    # enough to be made for every deployment (docs/linking.md has the figures).
    return [NetworkLinker()] if settings.linking_probabilistic else []


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=frozenset({DataCategory.DEVICE, DataCategory.BROWSING_HISTORY}),
        description="Guesses, with a calibrated confidence, that devices on one home network "
        "that browse alike are one shopper's.",
    )
