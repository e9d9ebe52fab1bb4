"""Built-in plugin ``tightrope-email-linker``: an email given on a device points to its owner.

When an event carries an email address (a guest checkout, a newsletter form
on the device), its keyed hash is compared with customers' stored ones.

* An address the shop's back end says was verified (``emailVerified``: a
  confirmed checkout, a link clicked in a mail) proves the device the
  customer's: proposed with the method ``email`` and confidence 1. The host
  accepts ``email`` only when the observation holds that customer's verified
  hash, and, for a customer's own token, only for that customer.
* An address only typed proves nothing: anyone can type anyone's address into
  a guest checkout on their own device. It is proposed as a guess
  (``typed_email``, confidence ``TYPED_CONFIDENCE``), below the default
  threshold for a link: the host asks the customer's ``cross_device`` consent,
  and a customer sees it among their suggested devices, to confirm or reject.
"""

from __future__ import annotations

from typing import Final

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

# A typed address says the person at the device knew the customer's address:
# the customer, or a member of their household, or anyone else who knows it.
TYPED_CONFIDENCE: Final = 0.6
TYPED_EMAIL: Final = "typed_email"


class EmailLinker:
    name = "email"
    purpose = CROSS_DEVICE
    categories = frozenset({DataCategory.DEVICE, DataCategory.CONTACT})

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        proposals = []
        for emails, method, confidence, text in (
            (observation.emails, EMAIL, 1.0, "Your verified email address was used on this device"),
            (
                observation.typed_emails,
                TYPED_EMAIL,
                TYPED_CONFIDENCE,
                "Your email address was typed on this device",
            ),
        ):
            for email in emails:
                owners = await data.customers_with_email(email)
                # Two customers with one address: the address proves neither.
                if len(owners) != 1:
                    continue
                proposals.append(
                    Proposal(
                        observation.device_id,
                        owners[0],
                        method,
                        confidence,
                        (Evidence("SAME_EMAIL", text),),
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
        description="Links a device to the one customer whose verified email was used on it "
        "(confidence 1); a typed one is only a guess.",
    )
