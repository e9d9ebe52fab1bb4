"""The one question before a probabilistic link: may this customer's devices be guessed at?

:func:`linking_allowed` is called in exactly two places, both in this package:
by the host before it writes a probabilistic link (gateway/linking/rules.py),
and by the data a linker reads, so that a linker never sees the browsing of a
customer it could not link anyway (gateway/linking/data.py). A deterministic
link (the customer signed in on the device, or gave their email there) does
not ask: it joins the device only to the customer who proved it.

This body is the interim rule, until the consent gate (issue 9) replaces it:
the customer's current ``cross_device`` consent as the graph holds it
(``(:Customer)-[:CONSENT {purpose, granted}]->(:Purpose)``). No answer is no
consent: linking is opt-in.
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.linking.types import CROSS_DEVICE
from gateway.strategies import Decision
from graph import Graph
from graph.link_evidence import consents_to


async def linking_allowed(graph: Graph, customer_ids: Collection[str]) -> dict[str, Decision]:
    """For each customer, whether their devices may be linked probabilistically, and why."""
    answers = await consents_to(graph, customer_ids, CROSS_DEVICE)
    decisions = {}
    for customer_id in customer_ids:
        answer = answers.get(customer_id)
        if answer is True:
            decisions[customer_id] = Decision(True, f"{CROSS_DEVICE} consent granted")
        elif answer is False:
            decisions[customer_id] = Decision(False, f"{CROSS_DEVICE} consent refused or withdrawn")
        else:
            decisions[customer_id] = Decision(False, f"{CROSS_DEVICE} consent never given")
    return decisions
