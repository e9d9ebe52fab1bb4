"""Reading a catalogue, customers or events file: CSV or JSON Lines rows with line numbers.

A line that cannot be read as a row (bad CSV quoting, a field count that does
not match the header, a JSON line that is not an object) becomes a
:class:`BadRow` and reading goes on; a file that cannot be read at all (missing,
not UTF-8, no recognisable header) raises :class:`LoadError`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

Kind = Literal["catalogue", "customers", "events"]
KINDS: Final[tuple[Kind, ...]] = ("catalogue", "customers", "events")
# The values of the `record` column each kind of file may hold.
RECORDS: Final[dict[str, tuple[str, ...]]] = {
    "catalogue": ("brand", "category", "product"),
    "customers": ("customer", "device", "consent"),
}

Row = tuple[int, dict[str, Any]]  # (line number, fields)


class LoadError(Exception):
    """The file cannot be loaded at all (unreadable, not CSV/JSON Lines, unknown kind)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


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


def check_file(path: Path) -> None:
    """Raise :class:`LoadError` unless ``path`` is an existing regular file."""
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
