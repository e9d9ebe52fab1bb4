"""Bulk loading of catalogue, customers and events from CSV or JSON Lines files.

Three kinds of file, each a stream of rows (see docs/data.md for examples):

* ``catalogue``: rows whose ``record`` is ``brand``, ``category`` or ``product``;
* ``customers``: rows whose ``record`` is ``customer``, ``device`` or ``consent``;
* ``events``: one behavioural event per row (``event_id``, ``type``, ``at``, ...).

Every write is a MERGE on the row's id (events: on ``event_id``), so loading a
file twice changes nothing. A bad row is reported with its line number and the
reason and the good rows still load; a file that cannot be read at all raises
:class:`LoadError`. Catalogue and customer files are read whole, because rows
may refer to rows further down (a product to its brand); event files are
streamed in batches.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, LiteralString, TypeVar

from tqdm import tqdm

from graph.catalogue import bump_catalogue_version
from graph.driver import Graph
from graph.events import (
    DEFAULT_BATCH,
    RowError,
    boolean,
    number,
    parse_event,
    required_text,
    required_timestamp,
    text,
    timestamp,
    write_events,
)
from graph.model import (
    DEVICE_KINDS,
    PURPOSES,
    Brand,
    Catalogue,
    Category,
    Consent,
    Customer,
    CustomerBase,
    Device,
    DeviceLink,
    Event,
    Product,
)
from graph.pii import email_hmac

Kind = Literal["catalogue", "customers", "events"]
KINDS: Final[tuple[Kind, ...]] = ("catalogue", "customers", "events")
RECORDS: Final[dict[str, tuple[str, ...]]] = {
    "catalogue": ("brand", "category", "product"),
    "customers": ("customer", "device", "consent"),
}
T = TypeVar("T")


class LoadError(Exception):
    """The file cannot be loaded at all (unreadable, not CSV/JSON Lines, unknown kind)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class LoadReport:
    """Rows read, what was written per record or event type, and every bad row."""

    kind: Kind
    rows: int = 0
    written: Counter[str] = field(default_factory=Counter)  # upserted, or new events
    unchanged: Counter[str] = field(default_factory=Counter)  # events stored before
    bad: list[BadRow] = field(default_factory=list)


# -- Cypher -------------------------------------------------------------------

MERGE_BRANDS: LiteralString = """
UNWIND $rows AS r
MERGE (b:Brand {id: r.id})
SET b.name = r.name
"""

MERGE_CATEGORIES: LiteralString = """
UNWIND $rows AS r
MERGE (c:Category {id: r.id})
SET c.name = r.name
"""

# A category has one parent: a re-parented category loses its old link.
LINK_CATEGORIES: LiteralString = """
UNWIND $rows AS r
MATCH (c:Category {id: r.id})
OPTIONAL MATCH (c)-[old:PARENT]->(other:Category) WHERE other.id <> r.parent_id
DELETE old
WITH DISTINCT c, r
MATCH (p:Category {id: r.parent_id})
MERGE (c)-[:PARENT]->(p)
"""

MERGE_PRODUCTS: LiteralString = """
UNWIND $rows AS r
MATCH (b:Brand {id: r.brand_id})
MATCH (c:Category {id: r.category_id})
MERGE (p:Product {sku: r.sku})
SET p.name = r.name, p.price = r.price, p.in_stock = r.in_stock, p.brand_id = r.brand_id
WITH p, b, c
OPTIONAL MATCH (p)-[old:OF_BRAND|IN_CATEGORY]->(x) WHERE x <> b AND x <> c
DELETE old
WITH DISTINCT p, b, c
MERGE (p)-[:OF_BRAND]->(b)
MERGE (p)-[:IN_CATEGORY]->(c)
"""

MERGE_CUSTOMERS: LiteralString = """
UNWIND $rows AS r
MERGE (c:Customer {id: r.id})
ON CREATE SET c.created_at = r.created_at
SET c.email_hmac = coalesce(r.email_hmac, c.email_hmac)
"""

MERGE_DEVICE_RECORDS: LiteralString = """
UNWIND $rows AS r
MERGE (d:Device {id: r.id})
SET d.kind = coalesce(r.kind, d.kind), d.ua_family = coalesce(r.ua_family, d.ua_family),
    d.first_seen = CASE WHEN d.first_seen IS NULL OR r.first_seen < d.first_seen
                        THEN r.first_seen ELSE d.first_seen END,
    d.last_seen = CASE WHEN d.last_seen IS NULL OR r.last_seen > d.last_seen
                       THEN r.last_seen ELSE d.last_seen END
"""

MERGE_LINKS: LiteralString = """
UNWIND $rows AS r
MATCH (d:Device {id: r.device_id})
MATCH (c:Customer {id: r.customer_id})
MERGE (d)-[u:USED_BY]->(c)
SET u.method = r.method, u.confidence = r.confidence, u.linked_at = r.linked_at,
    u.evidence = r.evidence
"""

# One consent edge per (customer, purpose) holds the current state; an older
# record never overwrites a newer one.
MERGE_CONSENTS: LiteralString = """
UNWIND $rows AS r
MATCH (c:Customer {id: r.customer_id})
MERGE (p:Purpose {name: r.purpose})
MERGE (c)-[k:CONSENT {purpose: r.purpose}]->(p)
WITH k, r WHERE k.at IS NULL OR k.at <= r.at
SET k.granted = r.granted, k.at = r.at, k.version = r.version, k.source = r.source
"""

MISSING: dict[str, LiteralString] = {
    "brand": "UNWIND $ids AS id OPTIONAL MATCH (n:Brand {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "category": "UNWIND $ids AS id OPTIONAL MATCH (n:Category {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "customer": "UNWIND $ids AS id OPTIONAL MATCH (n:Customer {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
    "device": "UNWIND $ids AS id OPTIONAL MATCH (n:Device {id: id}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
}

# Each count comes from Neo4j's counts store, so this stays cheap on big graphs.
GRAPH_COUNTS: LiteralString = """
CALL () { MATCH (n:Brand) RETURN count(n) AS brands }
CALL () { MATCH (n:Category) RETURN count(n) AS categories }
CALL () { MATCH (n:Product) RETURN count(n) AS products }
CALL () { MATCH (n:Customer) RETURN count(n) AS customers }
CALL () { MATCH (n:Device) RETURN count(n) AS devices }
CALL () { MATCH (n:Session) RETURN count(n) AS sessions }
CALL () { MATCH ()-[r:USED_BY]->() RETURN count(r) AS device_links }
CALL () { MATCH ()-[r:CONSENT]->() RETURN count(r) AS consents }
CALL () { MATCH ()-[r:VIEWED]->() RETURN count(r) AS views }
CALL () { MATCH ()-[r:ADDED_TO_CART]->() RETURN count(r) AS carts }
CALL () { MATCH ()-[r:PURCHASED]->() RETURN count(r) AS purchases }
CALL () { MATCH ()-[r:SIGNED_IN_AS]->() RETURN count(r) AS logins }
RETURN brands, categories, products, customers, devices, sessions, device_links, consents,
       views, carts, purchases, logins
"""


async def graph_counts(graph: Graph) -> dict[str, int]:
    """How many of each node and relationship the graph holds."""
    return dict((await graph.read(GRAPH_COUNTS))[0])


# -- writers for model objects (also used by the demo) ------------------------


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _write(
    graph: Graph, query: LiteralString, rows: Sequence[dict[str, Any]], batch: int
) -> None:
    for chunk in _chunks(rows, batch):
        await graph.write(query, {"rows": list(chunk)})


async def write_catalogue(graph: Graph, cat: Catalogue, batch: int = DEFAULT_BATCH) -> None:
    """Upsert brands, categories (parents may come in any order) and products."""
    await _write(graph, MERGE_BRANDS, [asdict(b) for b in cat.brands], batch)
    await _write(graph, MERGE_CATEGORIES, [asdict(c) for c in cat.categories], batch)
    parents = [{"id": c.id, "parent_id": c.parent_id} for c in cat.categories if c.parent_id]
    await _write(graph, LINK_CATEGORIES, parents, batch)
    await _write(graph, MERGE_PRODUCTS, [asdict(p) for p in cat.products], batch)
    # Every process's catalogue cache drops what it holds within about a second.
    await bump_catalogue_version(graph)


async def write_customer_base(graph: Graph, base: CustomerBase, batch: int = DEFAULT_BATCH) -> None:
    """Upsert customers, then devices and their links, then consents."""
    # Each record's fields are exactly its statement's parameters.
    for statement, records in (
        (MERGE_CUSTOMERS, base.customers),
        (MERGE_DEVICE_RECORDS, base.devices),
        (MERGE_LINKS, base.links),
        (MERGE_CONSENTS, base.consents),
    ):
        await _write(graph, statement, [asdict(r) for r in records], batch)


# -- parsing catalogue and customer rows --------------------------------------


def _brand(row: Mapping[str, Any]) -> Brand:
    return Brand(required_text(row, "id"), required_text(row, "name"))


def _category(row: Mapping[str, Any]) -> Category:
    cid = required_text(row, "id")
    parent = text(row, "parent_id", required=False)
    if parent == cid:
        raise RowError("parent_id", "a category cannot be its own parent")
    return Category(cid, required_text(row, "name"), parent)


def _product(row: Mapping[str, Any]) -> Product:
    price = number(row, "price", minimum=0)
    if price is None:
        raise RowError("price", "is required")
    return Product(
        sku=required_text(row, "sku"),
        name=required_text(row, "name"),
        price=price,
        brand_id=required_text(row, "brand_id"),
        category_id=required_text(row, "category_id"),
        in_stock=boolean(row, "in_stock", default=True),
    )


def _customer_parser(pii_key: str) -> Callable[[Mapping[str, Any]], Customer]:
    """The customer row parser for one load: emails are hashed with the deployment's key."""

    def parse(row: Mapping[str, Any]) -> Customer:
        email = text(row, "email", required=False)
        if email is not None and "@" not in email:
            raise RowError("email", "is not an email address")
        return Customer(
            required_text(row, "id"),
            required_timestamp(row, "created_at"),
            email_hmac(email, pii_key) if email else text(row, "email_hmac", required=False),
        )

    return parse


def _device(row: Mapping[str, Any]) -> tuple[Device, DeviceLink | None]:
    kind = required_text(row, "kind")
    if kind not in DEVICE_KINDS:
        raise RowError("kind", f"{kind!r} is not one of {', '.join(DEVICE_KINDS)}")
    first = required_timestamp(row, "first_seen")
    last = timestamp(row, "last_seen", required=False) or first
    ua_family = text(row, "ua_family", required=False) or ""
    device = Device(required_text(row, "id"), kind, ua_family, first, last)
    customer = text(row, "customer_id", required=False)
    if customer is None:
        return device, None
    confidence = number(row, "confidence", minimum=0.0)
    if confidence is not None and confidence > 1.0:
        raise RowError("confidence", "must be between 0 and 1")
    link = DeviceLink(
        device.id,
        customer,
        text(row, "method", required=False) or "import",
        1.0 if confidence is None else confidence,
        timestamp(row, "linked_at", required=False) or first,
        text(row, "evidence", required=False),
    )
    return device, link


def _consent(row: Mapping[str, Any]) -> Consent:
    purpose = required_text(row, "purpose")
    if purpose not in PURPOSES:
        raise RowError("purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
    return Consent(
        required_text(row, "customer_id"),
        purpose,
        boolean(row, "granted"),
        required_timestamp(row, "at"),
        text(row, "version", required=False) or "1",
        text(row, "source", required=False) or "import",
    )


# -- reading files ------------------------------------------------------------

Row = tuple[int, dict[str, Any]]  # (line number, fields)


def _format(path: Path, first_line: str) -> Literal["csv", "jsonl"]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def _open(path: Path) -> Any:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _first_line(path: Path) -> str:
    with _open(path) as handle:
        try:
            for line in handle:
                if line.strip():
                    return str(line)
        except UnicodeDecodeError as exc:
            raise LoadError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from exc
        except OSError as exc:
            raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    raise LoadError(f"{path} is empty")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise LoadError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise LoadError(f"cannot read {path}: not a regular file")


def count_lines(path: Path) -> int:
    """Lines in the file, for the progress bar (cheap: reads bytes, decodes nothing)."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def read_rows(path: Path, bad: list[BadRow]) -> Iterator[Row]:
    """Yield (line, fields) for each row; unparseable lines go to ``bad``."""
    fmt = _format(path, _first_line(path))
    with _open(path) as handle:
        try:
            if fmt == "csv":
                yield from _csv_rows(path, handle, bad)
            else:
                yield from _jsonl_rows(path, handle, bad)
        except UnicodeDecodeError as exc:
            raise LoadError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from exc
        except OSError as exc:
            raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _csv_rows(path: Path, handle: Iterable[str], bad: list[BadRow]) -> Iterator[Row]:
    reader = csv.reader(handle)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise LoadError(f"{path} is empty") from None
    except csv.Error as exc:
        raise LoadError(f"{path}: the CSV header cannot be read: {exc}") from exc
    if not {"record", "event_id", "type"} & set(header):
        raise LoadError(
            f"{path}: the CSV header names neither `record` nor `event_id`/`type`: "
            "not a tightrope catalogue, customers or events file"
        )
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            bad.append(BadRow(line, "csv", str(exc)))
            continue
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            bad.append(
                BadRow(line, "csv", f"has {len(values)} fields, the header has {len(header)}")
            )
            continue
        yield line, dict(zip(header, values, strict=True))


def _jsonl_rows(path: Path, handle: Iterable[str], bad: list[BadRow]) -> Iterator[Row]:
    good = 0
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(line, "json", f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(value, dict):
            bad.append(
                BadRow(line, "json", f"a JSON object was expected, not {type(value).__name__}")
            )
            continue
        good += 1
        yield line, value
    if good == 0 and bad:
        raise LoadError(f"{path}: no line is a JSON object; is this a JSON Lines file?")


def infer_kind(path: Path) -> Kind:
    """Guess the kind of file from its first row that says."""
    ignored: list[BadRow] = []
    for _, row in read_rows(path, ignored):
        record = row.get("record")
        if isinstance(record, str) and record.strip():
            for kind, records in RECORDS.items():
                if record.strip() in records:
                    return kind  # type: ignore[return-value]
            continue
        if "event_id" in row or "type" in row:
            return "events"
    raise LoadError(
        f"cannot tell what {path} holds: no row has a known `record` "
        f"({', '.join(r for rs in RECORDS.values() for r in rs)}) or an event `type`; "
        "pass --kind"
    )


# -- loading ------------------------------------------------------------------


async def load_file(
    graph: Graph,
    path: Path,
    kind: Kind | None = None,
    batch: int = DEFAULT_BATCH,
    progress: bool = True,
    *,
    pii_key: str,
) -> LoadReport:
    """Load one file; raise LoadError if it cannot be read at all.

    ``pii_key`` keys the hashes of customers' emails (``Settings.pii_secret()``).
    """
    _check_file(path)
    kind = kind or infer_kind(path)
    report = LoadReport(kind)
    total = count_lines(path)
    with tqdm(
        total=total, unit="line", file=sys.stderr, disable=not progress, desc=path.name
    ) as bar:
        rows = read_rows(path, report.bad)
        if kind == "events":
            await _load_events(graph, rows, report, batch, bar)
        else:
            await _load_records(graph, rows, kind, report, batch, bar, pii_key)
    report.bad.sort(key=lambda b: b.line)
    return report


@dataclass
class _ParsedChunk:
    events: list[Event]
    lines: dict[str, list[int]]  # event_id -> the lines it appeared on
    last_line: int


def _read_chunk(rows: Iterator[Row], batch: int, report: LoadReport) -> _ParsedChunk | None:
    """Read and validate up to ``batch`` rows; None at the end of the file."""
    events: list[Event] = []
    lines: dict[str, list[int]] = {}
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
            lines.setdefault(event.event_id, []).append(line)
        if report.rows % batch == 0:
            break
    return _ParsedChunk(events, lines, last_line) if last_line else None


async def _load_events(
    graph: Graph, rows: Iterator[Row], report: LoadReport, batch: int, bar: tqdm[Any]
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
        writing = asyncio.create_task(_write_chunk(graph, chunk, report, bar, done_line))
        done_line = chunk.last_line
    bar.update(bar.total - bar.n if bar.total else 0)


async def _write_chunk(
    graph: Graph, chunk: _ParsedChunk, report: LoadReport, bar: tqdm[Any], done_line: int
) -> None:
    result = await write_events(graph, chunk.events, batch_size=max(1, len(chunk.events)))
    report.written.update(result.created)
    report.unchanged.update(result.already_stored)
    for rejected in result.rejected:
        at = chunk.lines[rejected.event_id]
        line = at[-1] if rejected.field == "event_id" else at[0]
        report.bad.append(BadRow(line, rejected.field, rejected.reason))
    bar.update(chunk.last_line - done_line)


def _parsers(pii_key: str) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    return {
        "brand": _brand,
        "category": _category,
        "product": _product,
        "customer": _customer_parser(pii_key),
        "device": _device,
        "consent": _consent,
    }


async def _load_records(
    graph: Graph,
    rows: Iterator[Row],
    kind: Kind,
    report: LoadReport,
    batch: int,
    bar: tqdm[Any],
    pii_key: str,
) -> None:
    allowed = RECORDS[kind]
    parsers = _parsers(pii_key)
    parsed: dict[str, list[tuple[int, Any]]] = {name: [] for name in allowed}
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
        await _load_catalogue(graph, parsed, report, batch)
    else:
        await _load_customers(graph, parsed, report, batch)


async def _unknown(graph: Graph, what: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    rows = await graph.read(MISSING[what], {"ids": sorted(ids)})
    return set(rows[0]["missing"])


def _keep(
    items: list[tuple[int, T]],
    report: LoadReport,
    test: Callable[[T], tuple[str, str] | None],
) -> list[T]:
    """Items that pass ``test``; each failure (field, reason) becomes a bad row."""
    kept = []
    for line, item in items:
        problem = test(item)
        if problem is None:
            kept.append(item)
        else:
            report.bad.append(BadRow(line, *problem))
    return kept


async def _load_catalogue(
    graph: Graph, parsed: dict[str, list[tuple[int, Any]]], report: LoadReport, batch: int
) -> None:
    brands: list[Brand] = [b for _, b in parsed["brand"]]
    categories: list[tuple[int, Category]] = parsed["category"]
    # A parent must be in the file or in the graph, and itself be loadable:
    # drop categories whose ancestry is broken until nothing changes.
    in_graph_missing = await _unknown(
        graph,
        "category",
        {c.parent_id for _, c in categories if c.parent_id} - {c.id for _, c in categories},
    )
    in_file = {c.id for _, c in categories}
    ok = list(categories)
    while True:
        ids = {c.id for _, c in ok}
        good = [
            (line, c)
            for line, c in ok
            if not c.parent_id
            or c.parent_id in ids
            or (c.parent_id not in in_file and c.parent_id not in in_graph_missing)
        ]
        if len(good) == len(ok):
            break
        ok = good
    ok_ids = {id(c) for _, c in ok}
    kept_categories = _keep(
        categories,
        report,
        lambda c: None if id(c) in ok_ids else ("parent_id", f"unknown category {c.parent_id!r}"),
    )
    await write_catalogue(graph, Catalogue(tuple(brands), tuple(kept_categories), ()), batch)
    products: list[tuple[int, Product]] = parsed["product"]
    no_brand = await _unknown(graph, "brand", {p.brand_id for _, p in products})
    no_category = await _unknown(graph, "category", {p.category_id for _, p in products})

    def product_ok(p: Product) -> tuple[str, str] | None:
        if p.brand_id in no_brand:
            return ("brand_id", f"unknown brand {p.brand_id!r}")
        if p.category_id in no_category:
            return ("category_id", f"unknown category {p.category_id!r}")
        return None

    kept_products = _keep(products, report, product_ok)
    await write_catalogue(graph, Catalogue((), (), tuple(kept_products)), batch)
    report.written.update(
        brand=len(brands), category=len(kept_categories), product=len(kept_products)
    )


async def _load_customers(
    graph: Graph, parsed: dict[str, list[tuple[int, Any]]], report: LoadReport, batch: int
) -> None:
    customers: list[Customer] = [c for _, c in parsed["customer"]]
    await write_customer_base(graph, CustomerBase(tuple(customers), (), (), ()), batch)
    devices: list[tuple[int, tuple[Device, DeviceLink | None]]] = parsed["device"]
    consents: list[tuple[int, Consent]] = parsed["consent"]
    referenced = {link.customer_id for _, (_, link) in devices if link} | {
        c.customer_id for _, c in consents
    }
    no_customer = await _unknown(graph, "customer", referenced)
    kept_devices = _keep(
        devices,
        report,
        lambda d: (
            ("customer_id", f"unknown customer {d[1].customer_id!r}")
            if d[1] and d[1].customer_id in no_customer
            else None
        ),
    )
    kept_consents = _keep(
        consents,
        report,
        lambda c: (
            ("customer_id", f"unknown customer {c.customer_id!r}")
            if c.customer_id in no_customer
            else None
        ),
    )
    base = CustomerBase(
        (),
        tuple(d for d, _ in kept_devices),
        tuple(link for _, link in kept_devices if link),
        tuple(kept_consents),
    )
    await write_customer_base(graph, base, batch)
    report.written.update(
        customer=len(customers), device=len(kept_devices), consent=len(kept_consents)
    )


async def load_demo(
    graph: Graph,
    catalogue: Catalogue,
    customers: CustomerBase,
    events: Iterable[Event],
    batch: int = DEFAULT_BATCH,
    progress: bool = True,
    total_events: int | None = None,
) -> LoadReport:
    """Load generated data through the same writers as files."""
    report = LoadReport("events")
    await write_catalogue(graph, catalogue, batch)
    await write_customer_base(graph, customers, batch)
    report.written.update(
        brand=len(catalogue.brands),
        category=len(catalogue.categories),
        product=len(catalogue.products),
        customer=len(customers.customers),
        device=len(customers.devices),
        consent=len(customers.consents),
    )
    with tqdm(
        total=total_events, unit="event", file=sys.stderr, disable=not progress, desc="demo events"
    ) as bar:
        chunk: list[Event] = []
        for event in events:
            chunk.append(event)
            if len(chunk) >= batch:
                await _demo_chunk(graph, chunk, report, bar)
                chunk = []
        await _demo_chunk(graph, chunk, report, bar)
    return report


async def _demo_chunk(graph: Graph, chunk: list[Event], report: LoadReport, bar: tqdm[Any]) -> None:
    if not chunk:
        return
    result = await write_events(graph, chunk, batch_size=len(chunk))
    report.rows += len(chunk)
    report.written.update(result.created)
    report.unchanged.update(result.already_stored)
    # Generated data refers only to what it generated; a rejection here is a bug.
    for rejected in result.rejected:
        report.bad.append(BadRow(0, rejected.field, f"{rejected.event_id}: {rejected.reason}"))
    bar.update(len(chunk))
