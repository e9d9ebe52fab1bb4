"""A stricter consent regime for one market: a consent counts only while it is recent.

Some markets expect a customer to renew a consent after a while. A deployment
that serves such a market sets ``TIGHTROPE_RENEWAL_MARKET`` to one of
``TIGHTROPE_RENEWAL_STRICT_MARKETS`` (default ``de``); then a consent older
than ``TIGHTROPE_RENEWAL_MAX_AGE_DAYS`` (default 365) is treated as not given,
for every purpose but ``service``. Elsewhere the policy allows everything,
leaving the decision to the other policies: the host ANDs them, so a policy
can only take away.

The policy reads no data itself: ``question.consents()`` is the host's read of
the customer's consents, made once per request. Its manifest declares nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tightrope import ConsentQuestion, Decision, Manifest, Purpose, hookimpl


class RenewalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_RENEWAL_")

    market: str = ""
    strict_markets: str = "de"
    max_age_days: int = Field(default=365, ge=0)


class ConsentRenewal:
    def __init__(self, settings: RenewalSettings) -> None:
        strict = {m.strip().lower() for m in settings.strict_markets.split(",") if m.strip()}
        self.strict = settings.market.strip().lower() in strict
        self.max_age = timedelta(days=settings.max_age_days)

    async def decide(self, question: ConsentQuestion) -> Decision:
        if not self.strict or question.purpose is Purpose.SERVICE:
            return question.allow()
        if question.customer_id is None:
            return question.allow()  # an anonymous visit holds no consent to renew
        consent = (await question.consents()).get(question.purpose.value)
        too_old = consent is not None and datetime.now(UTC) - consent.at >= self.max_age
        if consent is not None and consent.granted and too_old:
            return question.deny(
                f"consent to {question.purpose.value} is older than {self.max_age.days} days: "
                "in this market it must be renewed"
            )
        return question.allow()


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(description="Consents expire unless renewed, in the markets that ask it.")


@hookimpl
def register_settings() -> type[RenewalSettings]:
    return RenewalSettings


@hookimpl
def register_consent_policies() -> list[ConsentRenewal]:
    return [ConsentRenewal(RenewalSettings())]
