"""Built-in plugin ``tightrope-insights``: the shop's figures for its back office.

The host records every list recommendations serve and the events sent back
from lists (gateway/insights/); this plugin answers for that data as for any
personal data a plugin keeps: a customer's export holds the lists served to
them and what they sent back from them, their erasure removes both, and a
withdrawal of ``analytics`` removes them too (they were kept only to count).
"""

from __future__ import annotations

from typing import Any

from tightrope import (
    DataCategory,
    Graph,
    Manifest,
    Purpose,
    erase_served,
    export_served,
    hookimpl,
)


async def _export(customer_id: str, graph: Graph) -> dict[str, Any] | None:
    found = await export_served(graph, customer_id)
    return found if found["lists"] or found["events"] else None


@hookimpl
def export_customer_data(customer_id: str, graph: Graph) -> Any:
    return _export(customer_id, graph)


@hookimpl
def erase_customer_data(customer_id: str, graph: Graph) -> Any:
    return erase_served(graph, customer_id)


@hookimpl
def consent_withdrawn(customer_id: str, purpose: str, graph: Graph) -> Any:
    if purpose != Purpose.ANALYTICS.value:
        return None
    return erase_served(graph, customer_id)


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.ANALYTICS}),
        categories=frozenset({DataCategory.BROWSING_HISTORY, DataCategory.PURCHASE_HISTORY}),
        description="The shop's figures: what the lists served led to (export and erasure of "
        "the lists served to a customer).",
    )
