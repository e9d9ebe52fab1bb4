"""The ``linker`` kind of ``tightrope plugin new``: an identity linker and its tests.

Kept apart from gateway/authoring/scaffold.py only for size; the templates use the same
words (``$name``, ``$cls``, ``$summary``).
"""

from __future__ import annotations

LINKER = '''\
"""$summary

An identity linker: it proposes whose a device is, and the host decides.
This one says a device nobody signed in on is probably the customer's when it
shows up on a home network where exactly one customer signed in, on another
device, within the hour before. It reads device data only (networks as keyed
hashes), for ``cross_device``: the host links on its word only a customer who
consented to that, only when it is sure enough
(``TIGHTROPE_LINKING_MIN_CONFIDENCE``), and never the devices of a public
network (it shows them to no linker).
"""

from __future__ import annotations

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
    hookimpl,
)

READS = frozenset({DataCategory.DEVICE})
WITHIN = timedelta(hours=1)
# A claim, not a measurement: measure it on your own data before relying on it.
CONFIDENCE = 0.95


class $cls:
    name = "$name"
    purpose = CROSS_DEVICE
    categories = READS

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        if observation.sign_ins or observation.network is None:
            return []  # a sign-in proves more than this linker could
        network = await data.network(observation.network, observation)
        if network is None or network.public:
            return []
        owners = set()
        for peer in network.peers:
            if peer.device.id == observation.device_id:
                continue
            if not observation.first_at - WITHIN <= peer.last_at <= observation.at:
                continue
            owners |= {
                link.customer_id for link in peer.device.links if link.method in DETERMINISTIC
            }
        if len(owners) != 1:
            return []  # nobody, or a household: the network cannot tell them apart
        text = "Used on the network you signed in on, within the hour"
        evidence = (Evidence("SAME_NETWORK_SOON_AFTER", text),)
        return [Proposal(observation.device_id, owners.pop(), "$name", CONFIDENCE, evidence)]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=READS,
        description="$summary",
    )


@hookimpl
def register_identity_linkers() -> list[$cls]:
    return [$cls()]
'''

LINKER_TEST = '''\
"""$name, asked by a real gateway over a seeded graph (tightrope's fixtures)."""

from datetime import UTC, datetime, timedelta
from typing import Any

HOME = "81.2.69.142"  # a household's public address: its /24 is the network
DEVICES = "{ me { devices { id link { method confidence evidence } } } }"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def event(kind: str, device: str, minutes: int, **more: str) -> dict[str, Any]:
    at = (START + timedelta(minutes=minutes)).isoformat()
    return {
        "eventId": f"{device}-{minutes}",
        "type": kind,
        "at": at,
        "deviceId": device,
        "sessionId": f"{device}-visit",
        "network": HOME,
        **more,
    }


async def sign_in(app: Any, customer: str, device: str, consents: list[str]) -> str:
    token = await app.token(customer, ["devices:read"], consents=consents)
    # The shop's own back end forwards the sign-in: it may name the device ids
    # it keeps (a customer's own token names only ids from startVisit).
    shop = await app.token(None, ["events:write"])
    await app.track([event("LOGIN", device, 0, customerId=customer)], token=shop)
    return token


async def anonymous_visit(app: Any, device: str) -> None:
    # sku-08: nothing alice looked at, so the built-in network linker (which
    # weighs shared products) stays unsure and this linker's word is the one.
    shop = await app.token(None, ["events:write"])
    await app.track([event("VIEW", device, 20, sku="sku-08")], token=shop)


async def linked(app: Any, token: str) -> dict[str, Any]:
    body = await app.query(DEVICES, token=token)
    assert "errors" not in body, body
    return {d["id"]: d["link"] for d in body["data"]["me"]["devices"]}


async def test_a_device_on_the_home_network_soon_after_is_linked(tightrope_app: Any) -> None:
    token = await sign_in(tightrope_app, "alice", "alice-laptop", ["cross_device"])
    await anonymous_visit(tightrope_app, "new-tablet")
    link = (await linked(tightrope_app, token))["new-tablet"]
    assert link["method"] == "$name"
    assert link["confidence"] == 0.95
    assert link["evidence"] == ["Used on the network you signed in on, within the hour"]


async def test_without_cross_device_consent_nothing_is_linked(tightrope_app: Any) -> None:
    token = await sign_in(tightrope_app, "alice", "alice-laptop", [])
    await anonymous_visit(tightrope_app, "new-tablet")
    assert "new-tablet" not in await linked(tightrope_app, token)


async def test_a_household_is_not_told_apart(tightrope_app: Any) -> None:
    token = await sign_in(tightrope_app, "alice", "alice-laptop", ["cross_device"])
    await sign_in(tightrope_app, "bob", "bob-phone", ["cross_device"])
    await anonymous_visit(tightrope_app, "new-tablet")
    assert "new-tablet" not in await linked(tightrope_app, token)
'''
