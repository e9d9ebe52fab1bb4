"""The Microsoft Recommenders benchmark's protocol: a 75/25 split per user, top-10 metrics.

Each user's interactions are shuffled (seeded) and the first 75 % (rounded)
go to training, so every user is in both parts. A model ranks, for each user,
items they did not interact with in training; the top ``k`` are compared with
the user's test items, relevance binary:

* precision@k: hits / k; recall@k: hits / the user's test items;
* nDCG@k: DCG of the hits over the DCG of a perfect list of min(k, test items);
* MAP@k: the mean, over hits, of precision at each hit's rank, divided by
  min(k, test items) (the benchmark's older ``map_at_k`` divided by all test
  items, which gives smaller numbers);
* catalogue coverage: distinct items recommended to anyone / items in training.

Every figure is averaged over users, for all users and for the sparsest third
(the users with the fewest training interactions).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.evaluation.movielens import Rating

K = 10
TRAIN_SHARE = 0.75


@dataclass(frozen=True)
class Split:
    train: dict[str, list[Rating]]
    test: dict[str, set[str]]

    @property
    def users(self) -> list[str]:
        return sorted(self.train, key=lambda u: (len(u), u))

    def sparse_third(self) -> list[str]:
        """The third of the users with the fewest training interactions."""
        by_size = sorted(self.users, key=lambda u: (len(self.train[u]), len(u), u))
        return by_size[: max(1, len(by_size) // 3)]

    @property
    def train_items(self) -> set[str]:
        return {r.item for ratings in self.train.values() for r in ratings}


def stratified_split(ratings: Sequence[Rating], seed: int) -> Split:
    """75 % of each user's interactions (at random, seeded) to training, the rest to test."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    by_user: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_user[rating.user].append(rating)
    train: dict[str, list[Rating]] = {}
    test: dict[str, set[str]] = {}
    for user in sorted(by_user, key=lambda u: (len(u), u)):
        mine = sorted(by_user[user], key=lambda r: (r.at, r.item))
        rng.shuffle(mine)
        cut = round(TRAIN_SHARE * len(mine))
        train[user] = mine[:cut]
        test[user] = {r.item for r in mine[cut:]}
    return Split(train, test)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    users: int

    def as_dict(self) -> dict[str, float]:
        return {
            f"precision@{K}": self.precision,
            f"recall@{K}": self.recall,
            f"ndcg@{K}": self.ndcg,
            f"map@{K}": self.map,
            "coverage": self.coverage,
            "users": self.users,
        }


def score(
    recommended: Mapping[str, Sequence[str]],
    test: Mapping[str, set[str]],
    users: Sequence[str],
    catalogue: int,
) -> Scores:
    """Mean top-``K`` figures over ``users`` (a user without a list scores 0)."""
    totals = [0.0, 0.0, 0.0, 0.0]
    shown: set[str] = set()
    for user in users:
        relevant = test[user]
        top = list(recommended.get(user, ()))[:K]
        shown.update(top)
        hits = [item in relevant for item in top]
        ideal = min(K, len(relevant))
        if not relevant:
            continue
        found = 0
        precisions = 0.0
        for rank, hit in enumerate(hits, start=1):
            if hit:
                found += 1
                precisions += found / rank
        dcg = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(hits, start=1) if hit)
        idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal + 1))
        totals[0] += found / K
        totals[1] += found / len(relevant)
        totals[2] += dcg / idcg
        totals[3] += precisions / ideal
    n = max(1, len(users))
    return Scores(
        totals[0] / n,
        totals[1] / n,
        totals[2] / n,
        totals[3] / n,
        len(shown) / max(1, catalogue),
        len(users),
    )
