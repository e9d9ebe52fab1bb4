"""Parsing one field of a row: the value helpers every record and event parser shares.

CSV gives every value as a string and JSON gives typed values, so each parser
accepts both, and treats an empty string as a missing value. A bad value raises
:class:`RowError` naming the field and the reason, which the loader turns into
``line N: field: reason`` and ``trackEvents`` into an error at the event's index.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

MAX_ID_LENGTH: Final = 200


class RowError(ValueError):
    """A row or event is invalid: ``field`` names the culprit, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def is_missing(value: object) -> bool:
    """None or a blank string: what an empty CSV cell and a JSON null both mean."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def text(row: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """A non-empty identifier or name."""
    value = row.get(name)
    if is_missing(value):
        if required:
            raise RowError(name, "is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError(name, f"must be a string, not {type(value).__name__}")
    result = str(value).strip()
    if len(result) > MAX_ID_LENGTH:
        raise RowError(name, f"is longer than {MAX_ID_LENGTH} characters")
    return result


def required_text(row: Mapping[str, Any], name: str) -> str:
    value = text(row, name)
    assert value is not None
    return value


def timestamp(row: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp that states its timezone (``Z`` or ``+01:00``)."""
    value = row.get(name)
    if is_missing(value):
        if required:
            raise RowError(name, "is required")
        return None
    if isinstance(value, datetime):
        parsed = value  # parsed already (a GraphQL DateTime)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RowError(name, f"{value!r} is not an ISO 8601 timestamp") from None
    else:
        raise RowError(name, f"must be an ISO 8601 string, not {type(value).__name__}")
    if parsed.tzinfo is None:
        raise RowError(name, f"{value!r} has no timezone (add Z or an offset such as +01:00)")
    return parsed


def required_timestamp(row: Mapping[str, Any], name: str) -> datetime:
    value = timestamp(row, name)
    assert value is not None
    return value


def integer(row: Mapping[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = row.get(name)
    if is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RowError(name, f"must be a whole number, not {type(value).__name__}")
    try:
        result = int(value)
    except ValueError:
        raise RowError(name, f"{value!r} is not a whole number") from None
    if minimum is not None and result < minimum:
        raise RowError(name, f"must be at least {minimum}")
    return result


def number(row: Mapping[str, Any], name: str, *, minimum: float | None = None) -> float | None:
    value = row.get(name)
    if is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowError(name, f"must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except ValueError:
        raise RowError(name, f"{value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise RowError(name, "must be a finite number")
    if minimum is not None and result < minimum:
        raise RowError(name, f"must be at least {minimum}")
    return result


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def boolean(row: Mapping[str, Any], name: str, *, default: bool | None = None) -> bool:
    value = row.get(name)
    if is_missing(value):
        if default is None:
            raise RowError(name, "is required")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RowError(name, f"{value!r} is not true or false")
