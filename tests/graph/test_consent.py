"""Consents in the graph: a load keeps the history too, and never twice."""

from __future__ import annotations

from datetime import UTC, datetime

from graph import Consent, Customer, Graph, consent_history, consents_of_customers
from graph.ingest import write_customer_base
from graph.model import CustomerBase


def base(*consents: Consent) -> CustomerBase:
    return CustomerBase((Customer("C1", None),), (), (), consents)


async def test_a_load_keeps_every_answer_in_the_history_once(clean_graph: Graph) -> None:
    newer = Consent("C1", "marketing", False, datetime(2025, 6, 1, tzinfo=UTC), "2", "import")
    older = Consent("C1", "marketing", True, datetime(2025, 1, 1, tzinfo=UTC), "1", "import")
    await write_customer_base(clean_graph, base(newer))
    await write_customer_base(clean_graph, base(older, newer))  # a second load, older included
    [current] = await consents_of_customers(clean_graph, ["C1"])
    history = await consent_history(clean_graph, "C1", limit=10)
    # The older answer does not replace the newer one, but it is in the history, once.
    assert current["marketing"].granted is False
    assert [(c.granted, c.version) for c in history] == [(False, "2"), (True, "1")]
