"""What the strategies that derive data from interactions share: indexing and co-occurrence.

Co-occurrence (how many owners — customers or sessions — have both of two
products) is the Gram matrix of the owner-by-product matrix. It is built one
owner at a time, so memory grows with the catalogue (products squared), never
with the number of shoppers; ``max_items`` bounds the catalogue side to the
products most interacted with.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from tightrope import Interaction

T = TypeVar("T")


@dataclass(frozen=True)
class Cooccurrence:
    """Products (by index), how many owners have each, and how many have each pair."""

    skus: list[str]
    counts: NDArray[np.float64]
    gram: NDArray[np.float64]


def run_id() -> str:
    """A fresh id for one recompute run (what it writes carries it)."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def cooccurrence(
    interactions: Sequence[Interaction], max_items: int, progress: bool, what: str
) -> Cooccurrence:
    """The co-occurrence of the ``max_items`` products with the most owners."""
    owners_of: dict[str, int] = defaultdict(int)
    baskets: dict[str, list[str]] = defaultdict(list)
    for i in interactions:
        owners_of[i.sku] += 1
        baskets[i.owner].append(i.sku)
    ranked = sorted(owners_of, key=lambda sku: (-owners_of[sku], sku))[:max_items]
    index = {sku: k for k, sku in enumerate(ranked)}
    gram = np.zeros((len(ranked), len(ranked)), dtype=np.float64)
    for basket in tqdm(baskets.values(), desc=what, unit=" shoppers", disable=not progress):
        idx = np.array(sorted({index[s] for s in basket if s in index}), dtype=np.intp)
        if idx.size:
            gram[np.ix_(idx, idx)] += 1.0
    counts = np.diag(gram).copy()
    return Cooccurrence(ranked, counts, gram)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size`` (one write transaction each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
