"""Global Privacy Control: a browser's ``Sec-GPC: 1`` refuses marketing and third-party sharing.

California (CCPA regulations, 11 CCR § 7025) and Colorado (C.R.S.
§ 6-1-1313 and its rules, 4 CCR 904-3 Part 5) require a business to treat the
Global Privacy Control signal as the visitor's opt-out of the sale and
sharing of their personal data and of targeted advertising. tightrope
honours it as a refusal of ``marketing`` and ``third_party_sharing`` for the
visitor whose browser sends it:

* a **customer** (a request with a token issued for them, or their privacy
  page): each of the two purposes they had not refused becomes refused,
  recorded in their consent history like any answer, with source ``gpc``,
  at their first request that carries the signal; plugins are told as for any
  withdrawal, and the rest of that request already sees the refusal;
* a grant the customer makes **after** that, themselves (their privacy page
  or ``setConsent``), stands: the signal was recorded once and is not
  recorded against their later, explicit choice;
* an **anonymous visitor** has no consents to record (consents are a
  customer's), and nothing is read about an anonymous visitor for either
  purpose; once they sign in, their next request records it.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import HTTPConnection

from gateway.fields import Purpose
from gateway.gate import RequestGate
from graph import consent_history

HEADER: Final = "sec-gpc"
SOURCE: Final = "gpc"
# What the signal refuses.
PURPOSES: Final = (Purpose.MARKETING, Purpose.THIRD_PARTY_SHARING)
# Answers a customer gave themselves.
OWN_ANSWERS: Final = ("api", "page")


def sends_gpc(request: HTTPConnection | None) -> bool:
    """Whether the browser behind the request sends ``Sec-GPC: 1``."""
    return request is not None and request.headers.get(HEADER, "").strip() == "1"


async def honour_gpc(gate: RequestGate, version: str) -> list[str]:
    """Record the refusals the signal means for the gate's customer; the purposes recorded."""
    customer = gate.principal.customer_id
    if customer is None:
        return []
    current = await gate.consents(customer)
    recorded = []
    for purpose in PURPOSES:
        answer = current.get(purpose.value)
        if answer is not None and not answer.granted:
            continue
        if answer is not None and answer.source in OWN_ANSWERS:
            # A grant of their own after the signal was recorded is their choice.
            history = await consent_history(gate.graph, customer, 50, purpose.value)
            if any(h.source == SOURCE and h.at <= answer.at for h in history):
                continue
        await gate.set_consent(purpose.value, False, source=SOURCE, version=version)
        recorded.append(purpose.value)
    return recorded
