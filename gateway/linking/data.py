"""What a linker may read: the evidence around its observation, by declared category.

Each linker gets a :class:`LinkerData` for each observation. It serves only
the categories the linker declared: :meth:`LinkerData.devices` and
:meth:`LinkerData.network` need ``device``, the products of devices and
customers ``browsing_history`` (and purchases ``purchase_history``), the
customers behind an email hash ``contact``. Asking for another raises the
gate's one error (gateway/gate/declared.py); the linker's proposals for that
observation are then dropped and the failure logged.

Two rules hold whatever a linker asks:

* a **public network** (seen within the window with more customers or more
  devices than the settings allow: a cafe, an office, a mobile carrier) is
  shown as public, with no devices: it is no evidence of anything;
* the products of a customer whose devices the linker may not link (the
  consent gate's answer, gateway/linking/seam.py) are never shown: a linker cannot use the
  browsing of someone it may not link.

Answers are shared by every linker of one decision (:class:`SharedReads`), so
two linkers asking about one network cost one read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from gateway.fields import DataCategory
from gateway.gate.declared import Undeclared, require_own
from gateway.gate.policy import Policies
from gateway.linking.rules import LinkRules
from gateway.linking.seam import linking_allowed
from gateway.linking.types import DETERMINISTIC, Observation, RegisteredLinker
from graph import Graph
from graph.link_evidence import (
    DeviceFacts,
    Peer,
    Seen,
    customers_with_email,
    device_facts,
    network_peers,
    popularity,
    products_of_customers,
    products_of_devices,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# Products of a device or customer a linker is shown, newest first.
MAX_PRODUCTS = 300


# Before the one check (gateway/gate/declared.py) this was an error class of its own.
UndeclaredLinkerCategory = Undeclared


@dataclass(frozen=True, slots=True)
class NetworkView:
    """A network as linking may use it: public (no devices shown), or its devices."""

    id: str
    public: bool
    customers: int  # customers with a device proved theirs seen on it in the window
    devices: int  # seen on it in the window (all still in the graph, when too many to read)
    peers: tuple[Peer, ...] = ()


class SharedReads:
    """The reads of one linking decision (one batch), shared by its linkers."""

    def __init__(
        self,
        graph: Graph,
        rules: LinkRules,
        policies: Policies,
        linkers: Collection[RegisteredLinker] = (),
    ) -> None:
        self.graph = graph
        self.rules = rules
        self.policies = policies
        self.linkers = {linker.name: linker for linker in linkers}
        self._memo: dict[tuple[str, Hashable], asyncio.Future[Any]] = {}

    async def _once(self, kind: str, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """``read()`` once per decision for each key, however many linkers ask."""
        found = self._memo.get((kind, key))
        if found is None:
            found = asyncio.ensure_future(read())
            self._memo[(kind, key)] = found
        result: V = await found
        return result

    async def allowed(
        self, customer_ids: Collection[str], linker: RegisteredLinker
    ) -> frozenset[str]:
        """Those of the customers whose devices ``linker`` may link probabilistically.

        The consent gate's policies decide (gateway/linking/seam.py), once per
        customer, linker's plugin and categories within this decision.
        """
        wanted = tuple(sorted(set(customer_ids)))
        asked = (linker.plugin, linker.categories)
        missing = [c for c in wanted if ("allowed", (asked, c)) not in self._memo]
        if missing:
            answers = asyncio.ensure_future(
                linking_allowed(
                    self.graph, self.policies, missing, linker.categories, linker.plugin
                )
            )
            for c in missing:
                self._memo[("allowed", (asked, c))] = asyncio.ensure_future(_pick(answers, c))
        results = [await self._memo[("allowed", (asked, c))] for c in wanted]
        return frozenset(c for c, ok in zip(wanted, results, strict=True) if ok)

    async def network(self, network_id: str, around: Observation) -> NetworkView | None:
        since = around.at - timedelta(days=self.rules.window_days)
        rules = self.rules

        async def read() -> NetworkView | None:
            found = await network_peers(self.graph, network_id, since, rules.public_devices * 8)
            if found is None:
                return None
            devices = len(found.peers) if found.total <= rules.public_devices * 8 else found.total
            customers = {
                link.customer_id
                for peer in found.peers
                for link in peer.device.links
                if link.method in DETERMINISTIC
            }
            public = rules.public(devices, len(customers))
            peers = () if public else found.peers
            return NetworkView(network_id, public, len(customers), devices, peers)

        return await self._once("network", (network_id, since.date()), read)


async def _pick(answers: asyncio.Future[dict[str, Any]], customer_id: str) -> bool:
    return bool((await answers)[customer_id].allowed)


class LinkerData:
    """One linker's window on one observation."""

    def __init__(self, linker: RegisteredLinker, decision: SharedReads) -> None:
        self._linker = linker
        self._decision = decision
        self.rules = decision.rules

    def _need(self, category: DataCategory) -> None:
        linker = self._linker
        require_own("linker", linker.name, linker.plugin, linker.categories, category)

    async def devices(self, ids: Collection[str]) -> dict[str, DeviceFacts]:
        """Devices' kinds, browser family hashes and links (needs DEVICE)."""
        self._need(DataCategory.DEVICE)
        wanted = tuple(sorted(set(ids)))
        return await self._decision._once(
            "devices", wanted, lambda: device_facts(self._decision.graph, wanted)
        )

    async def network(self, network_id: str, around: Observation) -> NetworkView | None:
        """The devices seen on a network in the window before ``around``; None if never seen.

        Needs DEVICE. A public network is shown with ``public`` set and no devices.
        """
        self._need(DataCategory.DEVICE)
        return await self._decision.network(network_id, around)

    async def allowed(self, customer_ids: Collection[str]) -> frozenset[str]:
        """Those of the customers whose devices may be linked probabilistically (no category)."""
        return await self._decision.allowed(customer_ids, self._linker)

    async def products_of_devices(
        self, ids: Collection[str], around: Observation
    ) -> dict[str, Seen]:
        """What each device's anonymous visits looked at or kept, and when last.

        Needs BROWSING_HISTORY; the window ends at ``around``.
        """
        self._need(DataCategory.BROWSING_HISTORY)
        since = around.at - timedelta(days=self.rules.window_days)
        wanted = tuple(sorted(set(ids)))
        return await self._decision._once(
            "device_products",
            (wanted, since.date()),
            lambda: products_of_devices(self._decision.graph, wanted, since, MAX_PRODUCTS),
        )

    async def products_of_customers(
        self, ids: Collection[str], around: Observation
    ) -> dict[str, Seen]:
        """What each customer looked at, kept (and bought, with PURCHASE_HISTORY), and when last.

        Needs BROWSING_HISTORY. Customers whose devices may not be linked are
        left out: their data is no linker's to read.
        """
        self._need(DataCategory.BROWSING_HISTORY)
        purchases = DataCategory.PURCHASE_HISTORY in self._linker.categories
        since = around.at - timedelta(days=self.rules.window_days)
        allowed = tuple(sorted(await self.allowed(ids)))
        return await self._decision._once(
            "customer_products",
            (allowed, since.date(), purchases),
            lambda: products_of_customers(
                self._decision.graph,
                allowed,
                since,
                MAX_PRODUCTS,
                sorted(DETERMINISTIC),
                purchases,
            ),
        )

    async def popularity(self, skus: Collection[str]) -> tuple[dict[str, int], int]:
        """Views of each product by everyone, and all views: an aggregate (no category)."""
        wanted = tuple(sorted(set(skus)))
        return await self._decision._once(
            "popularity", wanted, lambda: popularity(self._decision.graph, wanted)
        )

    async def customers_with_email(self, email_hash: str) -> tuple[str, ...]:
        """The customers whose stored email hash this is (needs CONTACT)."""
        self._need(DataCategory.CONTACT)

        async def read() -> tuple[str, ...]:
            found = await customers_with_email(self._decision.graph, [email_hash])
            return tuple(found.get(email_hash, ()))

        return await self._decision._once("email", email_hash, read)
