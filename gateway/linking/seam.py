"""The one question before a probabilistic link: may this customer's devices be guessed at?

The answer is the consent gate's, not linking's own: :func:`linking_allowed`
asks the app's consent policies (``register_consent_policies``, the same
:class:`~gateway.gate.Policies` every gated field and strategy is decided by)
the question "may this linker read these categories of the customer's data
for ``cross_device``?". With the built-in ``tightrope-consent`` policy that is
its purpose x category table, then the customer's own answer, then the
deployment's regime (opt-in unless configured otherwise).

It is called in exactly two places, both in this package: by the host before
it writes a probabilistic link (gateway/linking/rules.py), and by the data a
linker reads, so that a linker never sees the browsing of a customer it
could not link anyway (gateway/linking/data.py). A deterministic link (the
customer signed in on the device, or gave their email there) does not ask:
it joins the device only to the customer who proved it.

Linking runs after the response, with no client: the question has no
``client_id`` or ``client_kind``. Nothing is cached beyond one batch's
decision (gateway/linking/data.py), so a withdrawal bites on the next batch.
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.fields import DataCategory, Purpose
from gateway.gate.policy import Decision, Policies
from graph import Graph


async def linking_allowed(
    graph: Graph,
    policies: Policies,
    customer_ids: Collection[str],
    categories: frozenset[DataCategory],
    plugin: str,
) -> dict[str, Decision]:
    """For each customer, whether ``plugin``'s linker may link their devices, and why."""
    return await policies.decide_for_customers(
        graph, customer_ids, Purpose.CROSS_DEVICE, categories, plugin
    )
