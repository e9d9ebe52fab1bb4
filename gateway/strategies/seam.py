"""The one question the host asks before it calls a strategy: may it run for this request?

:func:`strategy_allowed` is called in exactly one place (gateway/strategies/
runner.py), once per registered strategy and request. A strategy it refuses is
not called at all; its reason is shown with the recommendations served instead.

A non-personal strategy always runs. A personal one, for a customer, runs only
when the consent gate allows its purpose and declared categories for that
customer and this client (one call: the request gate's ``decide``, which also
writes the read to the customer's access log); the Customer field's row rule
and scope already decided that the token may ask about this customer at all.
For a visit, the ``session`` field's row rule decided who may read it. An
anonymous visit's in-session data is the visit's own; a visit signed in as a
customer is that customer's browsing, so their consent decides, as it does
for the customer's own recommendations: a withdrawal bites here too.
"""

from __future__ import annotations

from gateway.fields import Purpose
from gateway.gate import RequestGate
from gateway.strategies.types import Registered, StrategyDecision, Subject, SubjectKind


async def strategy_allowed(
    gate: RequestGate, strategy: Registered, subject: Subject, signed_in_as: str | None = None
) -> StrategyDecision:
    """Whether ``strategy`` may run for ``subject`` in this request, and why.

    ``signed_in_as``: for a visit, the customer it was signed in as (None for
    an anonymous one).
    """
    if not strategy.personal:
        return StrategyDecision(True, "reads nothing personal")
    if subject.kind is SubjectKind.PRODUCT:
        return StrategyDecision(False, "a product page has no shopper to personalise for")
    if subject.kind is SubjectKind.CATEGORY:
        return StrategyDecision(False, "a category page has no shopper to personalise for")
    customer = subject.id
    if subject.kind is SubjectKind.SESSION:
        if signed_in_as is None:
            return StrategyDecision(True, "the visit's own data")
        customer = signed_in_as
    decision = await gate.decide(
        purpose=Purpose(strategy.purpose),
        categories=strategy.categories,
        plugin=strategy.plugin,
        customer_id=customer,
        read=f"strategy {strategy.name}",
    )
    if decision.allowed:
        return StrategyDecision(True, "the customer's consent allows it")
    return StrategyDecision(
        False,
        decision.reason or "the customer's consent does not allow it",
        decision.purpose.value,
        decision.categories,
    )
