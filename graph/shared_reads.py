"""The reads that share one statement in a planned request (graph/together.py).

A customer, their purchases, recently viewed products and baskets (theirs
and a visit's), and their consents: what a request about one customer reads
at its start (gateway/graphql/prepared/ahead.py). One list, so that there is
one statement, planned once by the warm-up.
"""

from __future__ import annotations

from graph.consent import CONSENTS_OF_CUSTOMERS
from graph.customers import CUSTOMERS_BY_ID
from graph.history import (
    CARTS_OF_CUSTOMERS,
    CARTS_OF_SESSIONS,
    PURCHASES_OF_CUSTOMERS,
    VIEWS_OF_CUSTOMERS,
    VIEWS_OF_SESSIONS,
)
from graph.together import Shared

SHARED_READS = Shared(
    (
        CUSTOMERS_BY_ID,
        PURCHASES_OF_CUSTOMERS,
        VIEWS_OF_CUSTOMERS,
        VIEWS_OF_SESSIONS,
        CARTS_OF_CUSTOMERS,
        CARTS_OF_SESSIONS,
        CONSENTS_OF_CUSTOMERS,
    )
)
