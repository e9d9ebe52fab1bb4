"""An example third party's identity linker: a loyalty-card scanner that guesses greedily.

It shows what a linker plugin looks like, and gives the tests a linker the
host must hold back: it proposes the observed device for every customer named
in ``TIGHTROPE_EXAMPLE_LINK_CUSTOMERS`` (comma-separated), sure of itself
(0.99), under the method ``TIGHTROPE_EXAMPLE_LINK_METHOD`` (``loyalty-card``
unless set). Without customers it proposes nothing.
"""

from __future__ import annotations

import os

from tightrope import (
    CROSS_DEVICE,
    DataCategory,
    Evidence,
    LinkerData,
    Manifest,
    Observation,
    Proposal,
    hookimpl,
)


class LoyaltyLinker:
    name = "example-loyalty"
    purpose = CROSS_DEVICE
    categories = frozenset({DataCategory.DEVICE})

    def __init__(self, customers: list[str], method: str) -> None:
        self.customers = customers
        self.method = method

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        text = "Your loyalty card was scanned on this device"
        return [
            Proposal(
                observation.device_id,
                customer,
                self.method,
                0.99,
                (Evidence("LOYALTY_CARD", text),),
            )
            for customer in self.customers
        ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=frozenset({DataCategory.DEVICE}),
        description="A greedy loyalty-card linker the tests hold back.",
    )


@hookimpl
def register_identity_linkers() -> list[LoyaltyLinker]:
    named = os.environ.get("TIGHTROPE_EXAMPLE_LINK_CUSTOMERS", "")
    method = os.environ.get("TIGHTROPE_EXAMPLE_LINK_METHOD", "loyalty-card")
    return [LoyaltyLinker([c.strip() for c in named.split(",") if c.strip()], method)]
