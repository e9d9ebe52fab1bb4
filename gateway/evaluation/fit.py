"""Fitting a linker's logistic model to an evaluation run (``tightrope evaluate linking --fit``).

A linker that reports the numbers behind its confidence
(``Proposal.features``) can be calibrated: every proposal of a run, with
whether it was right, is a sample; a logistic regression (Newton's method,
a small ridge penalty on the weights so that a feature that never varies
stays near 0) gives the bias and weights that make ``confidence`` the
probability of being right on this scenario. The built-in network linker's
constants came from seed 1 (docs/linking.md); other seeds check them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gateway.evaluation.linking import Samples

RIDGE = 1.0
STEPS = 50


def fit_logistic(samples: Samples) -> dict[str, dict[str, Any]]:
    """Per linker: ``bias``, ``weights`` by feature, and how many samples it saw."""
    fitted: dict[str, dict[str, Any]] = {}
    for linker in sorted(set(samples.linker)):
        rows = [i for i, name in enumerate(samples.linker) if name == linker]
        names = sorted({key for i in rows for key in samples.features[i]})
        x = np.array([[samples.features[i].get(n, 0.0) for n in names] for i in rows], float)
        y = np.array([1.0 if samples.truth[i] else 0.0 for i in rows])
        design = np.hstack([np.ones((len(rows), 1)), x])
        beta = np.zeros(design.shape[1])
        penalty = np.full(design.shape[1], RIDGE)
        penalty[0] = 0.0  # the bias is not shrunk
        for _ in range(STEPS):
            p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
            gradient = design.T @ (p - y) + penalty * beta
            hessian = (design.T * (p * (1 - p))) @ design + np.diag(penalty)
            step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), gradient)
            beta -= step
            if float(np.abs(step).max()) < 1e-8:
                break
        fitted[linker] = {
            "bias": round(float(beta[0]), 3),
            "weights": {n: round(float(w), 3) for n, w in zip(names, beta[1:], strict=True)},
            "samples": len(rows),
            "right": int(y.sum()),
        }
    return fitted
