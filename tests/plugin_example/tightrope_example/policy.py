"""An example third-party consent policy: browser and mobile apps never see device data.

A retailer (or a regulator's reading of the law) may want rules beyond the
customer's consents. This one refuses the ``device`` category to ``public``
clients, whatever the purpose and whatever the customer granted; the host
combines it with every other policy (AND), so it can only take away.
"""

from __future__ import annotations

from tightrope import ClientKind, ConsentQuestion, DataCategory, Decision, hookimpl


class NoDevicesForPublicClients:
    # A plain method: the host also awaits ``async def decide``.
    def decide(self, question: ConsentQuestion) -> Decision:
        if question.client_kind is ClientKind.PUBLIC and DataCategory.DEVICE in question.categories:
            return question.deny("apps in a browser or on a phone never see device data")
        return question.allow()


@hookimpl
def register_consent_policies() -> list[NoDevicesForPublicClients]:
    return [NoDevicesForPublicClients()]
