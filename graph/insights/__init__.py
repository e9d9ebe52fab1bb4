"""The shop's figures in the graph: served lists, what they led to, and the reads behind them.

Host-only: nothing here is part of the plugin API. The gateway's analytics
(gateway/insights/) write and read through these modules.
"""

from graph.insights.holdings import (
    KINDS,
    REMOVE,
    Held,
    Noted,
    Use,
    holdings,
    note_uses,
    remove_kind,
    uses_since,
)
from graph.insights.holdings import (
    STATEMENTS as HOLDINGS_STATEMENTS,
)
from graph.insights.served import (
    STATEMENTS as SERVED_STATEMENTS,
)
from graph.insights.served import (
    ListEventRecord,
    PurchaseRow,
    ServedRecord,
    erase_served,
    export_served,
    list_event_key,
    list_events_between,
    purchases_between,
    served_between,
    write_list_events,
    write_served,
)

STATEMENTS = (*SERVED_STATEMENTS, *HOLDINGS_STATEMENTS)

__all__ = [
    "KINDS",
    "REMOVE",
    "STATEMENTS",
    "Held",
    "ListEventRecord",
    "Noted",
    "PurchaseRow",
    "ServedRecord",
    "Use",
    "erase_served",
    "export_served",
    "holdings",
    "list_event_key",
    "list_events_between",
    "note_uses",
    "purchases_between",
    "remove_kind",
    "served_between",
    "uses_since",
    "write_list_events",
    "write_served",
]
