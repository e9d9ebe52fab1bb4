"""Who counts in the shop's figures, and which figures are too small to show.

Two rules, applied to every figure (docs/insights.md, "Privacy of the figures"):

1. **Consent.** Only what shoppers whose consent allows ``analytics`` did
   counts. The app's own consent policies decide, exactly as for a read: a
   customer's answer, else the deployment's regime (``opt_in``: not counted
   until granted; ``opt_out``: counted until refused). A visitor never signed
   in never answered, so the regime decides for all of them at once.
2. **At least k customers.** A figure is shown only if at least
   ``insights_min_customers`` distinct shoppers stand behind it; a smaller
   cell is *suppressed*: it is listed as such, without its numbers, so a
   merchandiser cannot read one shopper's behaviour out of it.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass
from typing import Final

from gateway.fields import DataCategory, Purpose
from gateway.gate.policy import ConsentQuestion, Policies
from graph import Graph

# The host asks in its own name, for what the figures read.
HOST: Final = "tightrope"
READS: Final = frozenset({DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY})


@dataclass(frozen=True)
class Counted:
    """Whose behaviour counts: these customers, and anonymous visitors or not."""

    customers: frozenset[str]
    anonymous: bool

    def allows(self, customer_id: str | None) -> bool:
        if customer_id is None:
            return self.anonymous
        return customer_id in self.customers


async def who_counts(policies: Policies, graph: Graph, customer_ids: Iterable[str]) -> Counted:
    """Of these customers, those whose consent allows analytics; and anonymous visitors."""
    wanted = sorted(set(customer_ids))
    decisions = await policies.decide_for_customers(graph, wanted, Purpose.ANALYTICS, READS, HOST)
    visitor = ConsentQuestion(Purpose.ANALYTICS, READS, None, None, None, HOST)
    anonymous = (await policies.decide(visitor)).allowed
    return Counted(frozenset(c for c, d in decisions.items() if d.allowed), anonymous)


def enough(shoppers: Collection[Hashable], k: int) -> bool:
    """Whether a cell stands on at least ``k`` distinct shoppers."""
    return len(set(shoppers)) >= k
