"""Batched reads answer many keys with one query; these put the rows back in key order.

A DataLoader needs exactly one answer per key, in the order of the keys, with
``None`` (or an empty list) where the graph holds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
Row = dict[str, Any]


def one_per_key(
    keys: Sequence[K], rows: Iterable[Row], make: Callable[[Row], T], key: str = "id"
) -> list[T | None]:
    """For each key, the value made from the row whose ``key`` column matches, or None."""
    found = {row[key]: make(row) for row in rows}
    return [found.get(k) for k in keys]


def many_per_key(
    keys: Sequence[K], rows: Iterable[Row], make: Callable[[Row], T], key: str = "of"
) -> list[list[T]]:
    """For each key, the values made from every row whose ``key`` column matches, in row order."""
    grouped: dict[Any, list[T]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(make(row))
    return [grouped.get(k, []) for k in keys]
