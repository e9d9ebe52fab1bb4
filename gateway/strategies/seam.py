"""The one question the host asks before it calls a strategy: may it run for this request?

:func:`strategy_allowed` is called in exactly one place (gateway/strategies/
runner.py), once per registered strategy and request. A strategy it refuses is
not called at all; its reason is shown with the recommendations served instead.

This body is the interim rule, until the consent gate replaces it: a
non-personal strategy always runs; a personal one runs only for a subject
whose personal data the request may read — a visit (whoever may read the
session may read its recommendations: the ``session`` field decided that), or
a customer when the token was issued for that very customer and carries
``recommendations:read``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.strategies.types import Decision, Registered, Subject, SubjectKind

if TYPE_CHECKING:
    from gateway.context import Context

RECOMMENDATIONS_READ = "recommendations:read"


async def strategy_allowed(context: Context, strategy: Registered, subject: Subject) -> Decision:
    """Whether ``strategy`` may run for ``subject`` in this request, and why."""
    if not strategy.personal:
        return Decision(True, "reads nothing personal")
    if subject.kind is SubjectKind.PRODUCT:
        return Decision(False, "a product page has no shopper to personalise for")
    if subject.kind is SubjectKind.SESSION:
        return Decision(True, "the visit's own data")
    principal = context.principal
    if principal.customer_id != subject.id:
        return Decision(False, "personal recommendations are only for the customer's own token")
    if RECOMMENDATIONS_READ not in principal.scopes:
        return Decision(False, f"personal recommendations need the scope {RECOMMENDATIONS_READ}")
    return Decision(True, "the customer's own token")
