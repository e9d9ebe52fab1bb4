"""Loading one file, or the demo data, and reporting what became of every row.

Three kinds of file, each a stream of rows (see docs/data.md for examples):

* ``catalogue``: rows whose ``record`` is ``brand``, ``category`` or ``product``;
* ``customers``: rows whose ``record`` is ``customer``, ``device`` or ``consent``;
* ``events``: one behavioural event per row (``event_id``, ``type``, ``at``, ...).

Every write is a MERGE on the row's id (events: on ``event_id``), so loading a
file twice changes nothing. A bad row is reported with its line number and the
reason and the good rows still load; a file that cannot be read at all raises
:class:`~graph.ingest.files.LoadError`. Catalogue and customer files are read
whole, because rows may refer to rows further down (a product to its brand);
event files are streamed in batches.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from graph.driver import Graph
from graph.ingest.event_writer import WriteResult, write_events
from graph.ingest.events import parse_event
from graph.ingest.files import (
    RECORDS,
    BadRow,
    Kind,
    Row,
    check_file,
    count_lines,
    infer_kind,
    read_rows,
)
from graph.ingest.records import record_parsers
from graph.ingest.references import Parsed, load_catalogue, load_customers
from graph.ingest.rows import RowError
from graph.ingest.writers import (
    DEFAULT_BATCH,
    Withdrawal,
    write_catalogue,
    write_customer_base,
)
from graph.model import Catalogue, CustomerBase, Event
from graph.sealed import DataKeys

# Called after each batch of events is stored, with the batch and what became of
# it: how the gateway links devices from what a load stored (the identity linkers).
AfterWrite = Callable[[Sequence[Event], WriteResult], Awaitable[object]]


@dataclass
class LoadReport:
    """Rows read, what was written per record or event type, and every bad row."""

    kind: Kind
    rows: int = 0
    written: Counter[str] = field(default_factory=Counter)  # upserted, or new events
    unchanged: Counter[str] = field(default_factory=Counter)  # events stored before
    bad: list[BadRow] = field(default_factory=list)
    # Consents granted until a record of this load refused them: the plugins
    # are to be told (``consent_withdrawn``), as when a customer withdraws.
    withdrawn: list[Withdrawal] = field(default_factory=list)


async def load_file(
    graph: Graph,
    path: Path,
    kind: Kind | None = None,
    batch: int = DEFAULT_BATCH,
    progress: bool = True,
    *,
    pii_key: str,
    data_keys: DataKeys,
    after_write: AfterWrite | None = None,
) -> LoadReport:
    """Load one file; raise LoadError if it cannot be read at all.

    ``pii_key`` keys the hashes of customers' emails and the tombstones of
    erased customers (``Settings.pii_secret()``); ``data_keys`` seal their
    contact details (``Settings.data_keys_in_use()``); ``after_write`` is
    awaited after each batch of events is stored.
    """
    check_file(path)
    kind = kind or infer_kind(path)
    report = LoadReport(kind)
    total = count_lines(path)
    with tqdm(
        total=total, unit="line", file=sys.stderr, disable=not progress, desc=path.name
    ) as bar:
        rows = read_rows(path, report.bad)
        if kind == "events":
            await _load_events(graph, rows, report, batch, bar, pii_key, after_write)
        else:
            await _load_records(graph, rows, kind, report, batch, bar, pii_key, data_keys)
    report.bad.sort(key=lambda b: b.line)
    return report


# -- events: streamed in chunks -------------------------------------------------


@dataclass
class _ParsedChunk:
    events: list[Event]
    lines: list[int]  # the line of each event
    last_line: int


def _read_chunk(rows: Iterator[Row], batch: int, report: LoadReport) -> _ParsedChunk | None:
    """Read and validate up to ``batch`` rows; None at the end of the file."""
    events: list[Event] = []
    lines: list[int] = []
    last_line = 0
    for line, row in rows:
        report.rows += 1
        last_line = line
        try:
            event = parse_event(row)
        except RowError as exc:
            report.bad.append(BadRow(line, exc.field, exc.reason))
        else:
            events.append(event)
            lines.append(line)
        if report.rows % batch == 0:
            break
    return _ParsedChunk(events, lines, last_line) if last_line else None


async def _load_events(
    graph: Graph,
    rows: Iterator[Row],
    report: LoadReport,
    batch: int,
    bar: tqdm[Any],
    pii_key: str,
    after_write: AfterWrite | None,
) -> None:
    # Reading and validating the next chunk (in a thread) overlaps with Neo4j
    # writing the previous one: the client's work is then nearly free.
    writing: asyncio.Task[None] | None = None
    done_line = 0
    while True:
        try:
            chunk = await asyncio.to_thread(_read_chunk, rows, batch, report)
        finally:
            if writing is not None:
                await writing  # even when reading failed: never leave a write behind
        if chunk is None:
            break
        writing = asyncio.create_task(
            _write_chunk(graph, chunk, report, bar, done_line, pii_key, after_write)
        )
        done_line = chunk.last_line
    bar.update(bar.total - bar.n if bar.total else 0)


async def _write_chunk(
    graph: Graph,
    chunk: _ParsedChunk,
    report: LoadReport,
    bar: tqdm[Any],
    done_line: int,
    pii_key: str,
    after_write: AfterWrite | None,
) -> None:
    result = await write_events(
        graph, chunk.events, batch_size=max(1, len(chunk.events)), pii_key=pii_key
    )
    if after_write is not None:
        await after_write(chunk.events, result)
    report.written.update(result.created)
    report.unchanged.update(result.already_stored)
    for rejected in result.rejected:
        report.bad.append(BadRow(chunk.lines[rejected.index], rejected.field, rejected.reason))
    bar.update(chunk.last_line - done_line)


# -- catalogue and customers: read whole ----------------------------------------


async def _load_records(
    graph: Graph,
    rows: Iterator[Row],
    kind: Kind,
    report: LoadReport,
    batch: int,
    bar: tqdm[Any],
    pii_key: str,
    data_keys: DataKeys,
) -> None:
    allowed = RECORDS[kind]
    parsers = record_parsers(pii_key, data_keys)
    parsed: Parsed = {name: [] for name in allowed}
    for line, row in rows:
        report.rows += 1
        bar.update(1)
        record = row.get("record")
        if not isinstance(record, str) or record.strip() not in allowed:
            reason = (
                "is required"
                if record in (None, "")
                else f"{record!r} is not one of {', '.join(allowed)}"
            )
            report.bad.append(BadRow(line, "record", f"{reason} (in a {kind} file)"))
            continue
        try:
            parsed[record.strip()].append((line, parsers[record.strip()](row)))
        except RowError as exc:
            report.bad.append(BadRow(line, exc.field, exc.reason))
    if kind == "catalogue":
        written = await load_catalogue(graph, parsed, report.bad, batch)
    else:
        written = await load_customers(graph, parsed, report.bad, batch, pii_key, report.withdrawn)
    report.written.update(written)


# -- the demo ---------------------------------------------------------------------


async def load_demo(
    graph: Graph,
    catalogue: Catalogue,
    customers: CustomerBase,
    events: Iterable[Event],
    batch: int = DEFAULT_BATCH,
    progress: bool = True,
    total_events: int | None = None,
    *,
    pii_key: str,
    after_write: AfterWrite | None = None,
) -> LoadReport:
    """Load generated data through the same writers as files (``pii_key`` and
    ``after_write``: see load_file)."""
    report = LoadReport("events")
    await write_catalogue(graph, catalogue, batch)
    report.withdrawn += await write_customer_base(graph, customers, batch)
    report.written.update(
        brand=len(catalogue.brands),
        category=len(catalogue.categories),
        product=len(catalogue.products),
        customer=len(customers.customers),
        device=len(customers.devices),
        consent=len(customers.consents),
    )
    # Millions of objects no longer needed: each full garbage collection of the
    # event phase walked them, 1.5-2 s instead of 0.35 s (docs/data.md).
    del catalogue, customers
    with tqdm(
        total=total_events, unit="event", file=sys.stderr, disable=not progress, desc="demo events"
    ) as bar:
        stream = iter(events)
        while chunk := list(islice(stream, batch)):
            await _demo_chunk(graph, chunk, report, bar, pii_key, after_write)
    return report


async def _demo_chunk(
    graph: Graph,
    chunk: list[Event],
    report: LoadReport,
    bar: tqdm[Any],
    pii_key: str,
    after_write: AfterWrite | None,
) -> None:
    result = await write_events(graph, chunk, batch_size=len(chunk), pii_key=pii_key)
    if after_write is not None:
        await after_write(chunk, result)
    report.rows += len(chunk)
    report.written.update(result.created)
    report.unchanged.update(result.already_stored)
    # Generated data refers only to what it generated; a rejection here is a bug.
    for rejected in result.rejected:
        report.bad.append(BadRow(0, rejected.field, f"{rejected.event_id}: {rejected.reason}"))
    bar.update(len(chunk))
