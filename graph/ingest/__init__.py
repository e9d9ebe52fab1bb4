"""Ingestion: catalogue, customers and events into the graph, from files or the API.

One module a concern, each usable on its own:

* :mod:`~graph.ingest.rows`: parsing one field (text, timestamps, numbers, booleans);
* :mod:`~graph.ingest.files`: reading CSV or JSON Lines rows with their line numbers;
* :mod:`~graph.ingest.records`: catalogue and customer records from rows;
* :mod:`~graph.ingest.events`: behavioural events from rows or API input;
* :mod:`~graph.ingest.cypher`: every statement ingestion runs;
* :mod:`~graph.ingest.writers`: batched MERGE writers for records;
* :mod:`~graph.ingest.event_writer`: the one idempotent write path for events;
* :mod:`~graph.ingest.references`: records written only when what they name exists;
* :mod:`~graph.ingest.load`: loading a file or the demo, with a report of every row.
"""

from graph.ingest.event_writer import Rejected, WriteResult, write_events
from graph.ingest.events import parse_event
from graph.ingest.files import KINDS, BadRow, Kind, LoadError, infer_kind
from graph.ingest.load import LoadReport, load_demo, load_file
from graph.ingest.rows import RowError
from graph.ingest.writers import DEFAULT_BATCH, graph_counts, write_catalogue, write_customer_base

__all__ = [
    "DEFAULT_BATCH",
    "KINDS",
    "BadRow",
    "Kind",
    "LoadError",
    "LoadReport",
    "Rejected",
    "RowError",
    "WriteResult",
    "graph_counts",
    "infer_kind",
    "load_demo",
    "load_file",
    "parse_event",
    "write_catalogue",
    "write_customer_base",
    "write_events",
]
