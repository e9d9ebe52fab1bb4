"""The shop's figures in the graph: served lists, what they led to, and the reads behind them.

Host-only: nothing here is part of the plugin API. The gateway's analytics
(gateway/insights/) write and read through these modules.
"""

from graph.insights.served import (
    PRUNE_LIST_EVENTS,
    PRUNE_SERVED,
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
from graph.insights.served import (
    STATEMENTS as SERVED_STATEMENTS,
)

STATEMENTS = SERVED_STATEMENTS

__all__ = [
    "PRUNE_LIST_EVENTS",
    "PRUNE_SERVED",
    "STATEMENTS",
    "ListEventRecord",
    "PurchaseRow",
    "ServedRecord",
    "erase_served",
    "export_served",
    "list_event_key",
    "list_events_between",
    "purchases_between",
    "served_between",
    "write_list_events",
    "write_served",
]
