"""The one question the host asks before it calls a strategy: may it run for this request?

:func:`strategy_allowed` is called in exactly one place (gateway/strategies/
runner.py), once per registered strategy and request. A strategy it refuses is
not called at all; its reason is shown with the recommendations served instead.

A non-personal strategy always runs. A personal one, for a customer, runs only
when the consent gate allows its purpose and declared categories for that
customer and this client (one call: ``context.consent.decide``, which also
writes the read to the customer's access log); the Customer field's row rule
and scope already decided that the token may ask about this customer at all.
For a visit, the ``session`` field's row rule decided who may read it; its
in-session data is the visit's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.fields import Purpose
from gateway.strategies.types import Registered, StrategyDecision, Subject, SubjectKind

if TYPE_CHECKING:
    from gateway.context import Context


async def strategy_allowed(
    context: Context, strategy: Registered, subject: Subject
) -> StrategyDecision:
    """Whether ``strategy`` may run for ``subject`` in this request, and why."""
    if not strategy.personal:
        return StrategyDecision(True, "reads nothing personal")
    if subject.kind is SubjectKind.PRODUCT:
        return StrategyDecision(False, "a product page has no shopper to personalise for")
    if subject.kind is SubjectKind.SESSION:
        return StrategyDecision(True, "the visit's own data")
    decision = await context.consent.decide(
        purpose=Purpose(strategy.purpose),
        categories=strategy.categories,
        plugin=strategy.plugin,
        customer_id=subject.id,
        read=f"strategy {strategy.name}",
    )
    if decision.allowed:
        return StrategyDecision(True, "the customer's consent allows it")
    return StrategyDecision(False, decision.reason or "the customer's consent does not allow it")
