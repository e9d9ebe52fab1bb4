"""Built-in plugin ``tightrope-email-linker``: an email given on a device makes it its owner's.

When an event carries an email address (a guest checkout, a newsletter form
on the device), its keyed hash is compared with customers' stored ones; the
device is proposed as the customer's whose it is, with confidence 1. The host
accepts the method ``email`` only when the observation holds that customer's
hash, and, for a customer's own token, only for that customer.
"""

from __future__ import annotations

from tightrope import (
    CROSS_DEVICE,
    EMAIL,
    DataCategory,
    Evidence,
    LinkerData,
    Manifest,
    Observation,
    Proposal,
    Settings,
    hookimpl,
)


class EmailLinker:
    name = "email"
    purpose = CROSS_DEVICE
    categories = frozenset({DataCategory.DEVICE, DataCategory.CONTACT})

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        proposals = []
        for email in observation.emails:
            owners = await data.customers_with_email(email)
            # Two customers with one address: the address proves neither.
            if len(owners) != 1:
                continue
            text = "Your email address was entered on this device"
            proposals.append(
                Proposal(
                    observation.device_id, owners[0], EMAIL, 1.0, (Evidence("SAME_EMAIL", text),)
                )
            )
        return proposals


@hookimpl
def register_identity_linkers(settings: Settings) -> list[EmailLinker]:
    return [EmailLinker()]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=frozenset({DataCategory.DEVICE, DataCategory.CONTACT}),
        description="Links a device to the one customer whose email hash was entered on it "
        "(confidence 1).",
    )
