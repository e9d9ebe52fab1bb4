"""The references every figure stands next to: popularity, and ``implicit``'s ALS and BPR.

They see exactly the training part the gateway's strategies see, and rank the
items the user did not interact with in training. ``implicit`` is an optional
dependency (``pip install tightrope[evaluate]``); without it those rows are
left out with a note.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from gateway.evaluation.protocol import K, Split


def popularity(split: Split) -> dict[str, list[str]]:
    """The items with the most training interactions, minus each user's own."""
    counts = Counter(r.item for ratings in split.train.values() for r in ratings)
    ranked = [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    out = {}
    for user, ratings in split.train.items():
        seen = {r.item for r in ratings}
        out[user] = [item for item in ranked if item not in seen][:K]
    return out


def implicit_models(split: Split, seed: int) -> dict[str, dict[str, list[str]]]:
    """Top-``K`` lists of ``implicit``'s ALS and BPR, fitted on the training part."""
    import numpy as np
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    users = split.users
    items = sorted(split.train_items)
    user_index = {u: i for i, u in enumerate(users)}
    item_index = {item: j for j, item in enumerate(items)}
    rows, cols = [], []
    for user, ratings in split.train.items():
        for r in {r.item for r in ratings}:
            rows.append(user_index[user])
            cols.append(item_index[r])
    matrix = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    out: dict[str, dict[str, list[str]]] = {}
    ids = np.arange(len(users))
    # implicit runs its own threads; BLAS's pool on top of them only slows it
    # down (the library checks, and warns, when a model is made).
    with threadpool_limits(1, "blas"):
        # Hyperparameters: the best of a small grid on seed 1 (docs/recommendations.md),
        # as for our own strategies; the libraries' defaults score lower.
        models: dict[str, Any] = {
            "als": AlternatingLeastSquares(
                factors=16,
                regularization=0.1,
                alpha=1.0,
                iterations=15,
                random_state=seed,
                num_threads=2,
            ),
            "bpr": BayesianPersonalizedRanking(
                factors=32,
                learning_rate=0.005,
                regularization=0.01,
                iterations=100,
                random_state=seed,
                num_threads=2,
            ),
        }
        for name, model in models.items():
            model.fit(matrix, show_progress=False)
            found, _ = model.recommend(ids, matrix, N=K, filter_already_liked_items=True)
            out[name] = {users[u]: [items[j] for j in found[u] if j >= 0] for u in ids}
    return out
