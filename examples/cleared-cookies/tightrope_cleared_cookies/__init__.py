"""Cleared cookies: a browser that comes back on its home network under a new device id.

A shopper who clears their cookies (or whose browser drops them) comes back
as a device nobody has seen. If, within a few minutes of a customer's signed-in
visit, a new device turns up on the same home network with the same browser
family and kind of device, it is most likely the same browser: this linker
proposes it as that customer's.

What it reads: device data only (networks and browser families, both as keyed
hashes, and devices' links), for ``cross_device``. What the host adds: it
links on this linker's word only customers who consented to ``cross_device``,
only at or above ``TIGHTROPE_LINKING_MIN_CONFIDENCE``, never on a public
network (it shows none to linkers), and never against the customer's own
"this device is not mine".

It is off until ``TIGHTROPE_CLEARED_COOKIES_MINUTES`` is set (the window, in
minutes, 1 to 120): its confidence is a claim, and a retailer should measure
it on their own traffic (``tightrope evaluate linking``) before turning it on.
"""

from __future__ import annotations

import os
from datetime import timedelta

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

NAME = "cleared-cookies"
READS = frozenset({DataCategory.DEVICE})
CONFIDENCE = 0.95
WINDOW_VARIABLE = "TIGHTROPE_CLEARED_COOKIES_MINUTES"


class ClearedCookies:
    name = NAME
    purpose = CROSS_DEVICE
    categories = READS

    def __init__(self, window: timedelta) -> None:
        self.window = window

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        if observation.sign_ins or not (observation.network and observation.user_agent):
            return []  # a sign-in proves it anyway; without both signals there is nothing to go on
        this = (await data.devices([observation.device_id])).get(observation.device_id)
        if this is not None and this.links:
            return []  # not a new device: it is someone's already
        network = await data.network(observation.network, observation)
        if network is None or network.public:
            return []
        owners: set[str] = set()
        for peer in network.peers:
            device = peer.device
            if device.id == observation.device_id:
                continue
            if (
                device.user_agent != observation.user_agent
                or device.kind != observation.device_kind
            ):
                continue
            if not observation.first_at - self.window <= peer.last_at <= observation.at:
                continue
            owners |= {link.customer_id for link in device.links if link.method in DETERMINISTIC}
        if len(owners) != 1:
            return []  # no one, or a household sharing one browser: cannot tell them apart
        minutes = int(self.window.total_seconds() // 60)
        text = f"The same browser on your network, within {minutes} minutes of your signed-in visit"
        evidence = (Evidence("SAME_BROWSER_SOON_AFTER", text),)
        return [Proposal(observation.device_id, owners.pop(), NAME, CONFIDENCE, evidence)]


def window() -> timedelta | None:
    """The configured window; None (off) when unset. A bad value stops start-up."""
    raw = os.environ.get(WINDOW_VARIABLE, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 120:
        raise ValueError(f"{WINDOW_VARIABLE} must be a whole number of minutes, 1 to 120")
    return timedelta(minutes=int(raw))


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=READS,
        description="Links a new device to the customer whose browser it most likely is, "
        "when it appears on their home network soon after their signed-in visit.",
    )


@hookimpl
def register_identity_linkers(settings: Settings) -> list[ClearedCookies]:
    found = window()
    return [] if found is None else [ClearedCookies(found)]
