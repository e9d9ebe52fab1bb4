"""Built-in plugin ``tightrope-consent``: the consent policy, and consents in the API.

The policy answers for every purpose but ``service`` (which needs scopes only):

1. the purpose x category table below says which kinds of data a purpose may
   ever read (analytics never reads an email address, whatever was granted);
2. the customer's own answer for the purpose decides, if they gave one;
3. a customer who never answered gets the deployment's default regime:
   ``opt_in`` (the default: nothing personal until granted) or ``opt_out``
   (``TIGHTROPE_CONSENT_REGIME=opt_out``: allowed until refused). An anonymous
   visitor never answered.

``me { consents { purpose granted updatedAt source } }`` shows what applies
(``consent:read``); ``setConsent(purpose, granted)`` changes it
(``consent:write``): every change is kept in the history with its time, source
and the policy version in force (``TIGHTROPE_CONSENT_POLICY_VERSION``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import strawberry
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tightrope import (
    PURPOSES,
    BadUserInput,
    Consent,
    ConsentQuestion,
    CustomerRef,
    DataCategory,
    Decision,
    FieldSpec,
    Graph,
    Manifest,
    Purpose,
    RequestGate,
    RowRule,
    Settings,
    consent_history,
    hookimpl,
    page_size,
)

Info = strawberry.Info

C = DataCategory
# Which categories each purpose may ever read; consent is then asked per purpose.
TABLE: Mapping[Purpose, frozenset[DataCategory]] = {
    Purpose.SERVICE: frozenset(DataCategory),
    Purpose.PERSONALISATION: frozenset(
        {C.PROFILE, C.PURCHASE_HISTORY, C.BROWSING_HISTORY, C.DEVICE, C.DERIVED_PREFERENCES}
    ),
    # Contact: whether an email address typed on a device is the customer's (a
    # keyed hash compared, never read out) may count towards a guess.
    Purpose.CROSS_DEVICE: frozenset({C.PROFILE, C.CONTACT, C.DEVICE, C.BROWSING_HISTORY}),
    Purpose.ANALYTICS: frozenset(
        {C.PURCHASE_HISTORY, C.BROWSING_HISTORY, C.DEVICE, C.DERIVED_PREFERENCES}
    ),
    Purpose.THIRD_PARTY_SHARING: frozenset(DataCategory),
    Purpose.MARKETING: frozenset({C.PROFILE, C.CONTACT, C.PURCHASE_HISTORY, C.DERIVED_PREFERENCES}),
}


class ConsentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_CONSENT_", extra="ignore")

    # For a customer who never answered for a purpose: refused (opt_in) or allowed (opt_out).
    regime: Literal["opt_in", "opt_out"] = "opt_in"
    # The version of the privacy policy a customer answers under; kept with each change.
    policy_version: str = Field(default="1", min_length=1, max_length=64)


@hookimpl
def register_settings() -> type[BaseSettings]:
    return ConsentSettings


class ConsentTable:
    """The policy: the table, then the customer's answer, then the default regime."""

    def __init__(self, settings: ConsentSettings) -> None:
        self.opt_out = settings.regime == "opt_out"

    async def decide(self, question: ConsentQuestion) -> Decision:
        purpose = question.purpose
        if purpose is Purpose.SERVICE:
            return question.allow()  # scopes only: no consent read
        outside = question.categories - TABLE[purpose]
        if outside:
            names = ", ".join(sorted(c.value for c in outside))
            return question.deny(f"{purpose.value} never reads {names}")
        answer = (await question.consents()).get(purpose.value)
        if answer is None:
            if self.opt_out:
                return question.allow()
            return question.deny(f"the customer has not granted {purpose.value}")
        if not answer.granted:
            return question.deny(f"the customer has not granted {purpose.value}")
        return question.allow()


@hookimpl
def register_consent_policies() -> list[ConsentTable]:
    return [ConsentTable(ConsentSettings())]


# -- the API ------------------------------------------------------------------


@strawberry.type(name="Consent", description="What applies to one purpose for this customer.")
class ConsentView:
    purpose: str
    granted: bool = strawberry.field(
        description="Whether the purpose may use the customer's data now: their answer, "
        "or the deployment's default regime if they never answered."
    )
    answered: bool = strawberry.field(description="Whether the customer ever answered.")
    updated_at: datetime | None = strawberry.field(description="When they last answered.")
    source: str | None = strawberry.field(
        description="Where: api, page, import, or gpc (the browser's Global Privacy Control)."
    )
    version: str | None = strawberry.field(description="The policy version they answered.")


@strawberry.type(description="One change of consent, as it was made; never altered.")
class ConsentChange:
    purpose: str
    granted: bool
    at: datetime
    source: str
    version: str


def _view(purpose: str, answer: Consent | None, opt_out: bool) -> ConsentView:
    if answer is None:
        return ConsentView(
            purpose=purpose,
            granted=opt_out,
            answered=False,
            updated_at=None,
            source=None,
            version=None,
        )
    return ConsentView(
        purpose=purpose,
        granted=answer.granted,
        answered=True,
        updated_at=answer.at,
        source=answer.source,
        version=answer.version,
    )


def _known(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise BadUserInput(
            f"unknown purpose {purpose!r}: one of {', '.join(PURPOSES)}", argument="purpose"
        )
    return purpose


async def customer_consents(root: CustomerRef, info: Info) -> list[ConsentView]:
    gate: RequestGate = info.context.gate
    answers = await gate.consents(root.id)  # the gate's read: one per request
    opt_out = info.context.plugin_settings(ConsentSettings).regime == "opt_out"
    return [_view(purpose, answers.get(purpose), opt_out) for purpose in PURPOSES]


async def customer_consent_history(
    root: CustomerRef, info: Info, purpose: str | None = None, first: int | None = None
) -> list[ConsentChange]:
    settings: Settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    graph: Graph = info.context.graph_for(info)
    changes = await consent_history(
        graph, root.id, size, None if purpose is None else _known(purpose)
    )
    return [
        ConsentChange(
            purpose=c.purpose, granted=c.granted, at=c.at, source=c.source, version=c.version
        )
        for c in changes
    ]


async def set_consent(root: Any, info: Info, purpose: str, granted: bool) -> ConsentView:
    gate: RequestGate = info.context.gate
    version = info.context.plugin_settings(ConsentSettings).policy_version
    # Where it was given (the API, or the privacy page) is the gate's to say.
    stored = await gate.set_consent(_known(purpose), granted, version=version)
    return _view(purpose, stored, opt_out=False)


@hookimpl
def register_fields() -> list[FieldSpec]:
    profile, service = DataCategory.PROFILE, Purpose.SERVICE
    read = frozenset({"consent:read"})
    return [
        FieldSpec(
            "Customer",
            "consents",
            list[ConsentView],
            customer_consents,
            description="For every purpose, whether it may use this customer's data.",
            data_category=profile,
            scopes=read,
            purpose=service,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec(
            "Customer",
            "consentHistory",
            list[ConsentChange],
            customer_consent_history,
            description="Every change of consent (of one purpose, if given), newest first.",
            data_category=profile,
            scopes=read,
            purpose=service,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec(
            "Mutation",
            "setConsent",
            ConsentView,
            set_consent,
            description="Grant or withdraw consent for a purpose. A withdrawal applies "
            "from the very next request, and plugins drop what they derived for it.",
            data_category=profile,
            scopes=frozenset({"consent:write"}),
            purpose=service,
            row=RowRule.SELF,
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset({DataCategory.PROFILE}),
        description=(
            "The consent policy (purpose x category), a customer's consents and their history."
        ),
    )
