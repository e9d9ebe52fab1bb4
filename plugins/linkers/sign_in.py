"""Built-in plugin ``tightrope-sign-in-linker``: a sign-in makes the device the customer's.

A ``login`` event proves that the customer had the device in hand: the
device (the event's, or its session's) is theirs, with confidence 1. The host
checks that the observation holds that very sign-in, and accepts nothing else
under the method ``login``, whoever proposes it.
"""

from __future__ import annotations

from datetime import datetime

from tightrope import (
    CROSS_DEVICE,
    LOGIN,
    DataCategory,
    Evidence,
    LinkerData,
    Manifest,
    Observation,
    Proposal,
    Settings,
    hookimpl,
)


def day(at: datetime) -> str:
    """A date as a customer reads it: "2 March 2026"."""
    return f"{at.day} {at:%B %Y}"


class SignInLinker:
    name = "sign-in"
    purpose = CROSS_DEVICE
    categories = frozenset({DataCategory.DEVICE})

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        first: dict[str, Proposal] = {}
        for sign_in in sorted(observation.sign_ins, key=lambda s: s.at):
            if sign_in.customer_id in first:
                continue
            text = f"You signed in on this device on {day(sign_in.at)}"
            first[sign_in.customer_id] = Proposal(
                observation.device_id,
                sign_in.customer_id,
                LOGIN,
                1.0,
                (Evidence("SIGNED_IN", text),),
            )
        return list(first.values())


@hookimpl
def register_identity_linkers(settings: Settings) -> list[SignInLinker]:
    return [SignInLinker()]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({CROSS_DEVICE}),
        categories=frozenset({DataCategory.DEVICE}),
        description="Links a device to the customer who signed in on it (confidence 1).",
    )
