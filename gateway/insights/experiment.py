"""Who sees what: the holdout group and the variants of an A/B test between blends.

Every shopper is assigned by a keyed hash of who they are (the customer's id,
else the device's, else the visit's), under the deployment's PII key, so the
same shopper lands in the same group in every request and every gateway
process, and nobody can choose their group or compute another's.

1. **Holdout.** A share of shoppers (``TIGHTROPE_HOLDOUT_SHARE``, 5 % by
   default) gets the non-personal baseline: no personal strategy runs for
   them, so what they see is what everyone sees (popular products, bought
   together). Comparing what they buy with what everyone else buys is what
   personalisation earns (gateway/insights/lift.py).
2. **An A/B test between blends** (``TIGHTROPE_EXPERIMENT``, as JSON, in the
   environment or the settings file): the shoppers not held out are split
   between named variants by their shares, each blended with its own
   strategy weights. The split hashes the experiment's name too, so a new
   experiment reshuffles the variants but never the holdout.

Only shoppers whose consent allows ``analytics`` are assigned: a shopper who
is not measured is never held out (they get the personal lists their other
consents allow) and never in a variant.
"""

from __future__ import annotations

import hashlib
import hmac

from gateway.experiment import (
    DEFAULT_BLEND,
    HOLDOUT,
    NOT_ASSIGNED,
    PERSONAL,
    Assignment,
    Experiment,
    Variant,
)
from gateway.strategies.types import Shopper

__all__ = [
    "DEFAULT_BLEND",
    "HOLDOUT",
    "NOT_ASSIGNED",
    "PERSONAL",
    "Assignment",
    "Experiment",
    "Variant",
    "assign",
    "subject_of",
    "uniform",
]


def subject_of(shopper: Shopper) -> str | None:
    """Who a shopper is, for their group: the customer, else the device, else the visit."""
    if shopper.customer_id is not None:
        return f"customer:{shopper.customer_id}"
    if shopper.device_id is not None:
        return f"device:{shopper.device_id}"
    if shopper.session_id is not None:
        return f"session:{shopper.session_id}"
    return None


def uniform(secret: str, *parts: str) -> float:
    """A number in [0, 1) that only the holder of ``secret`` can compute from ``parts``."""
    message = "\x1f".join(("tightrope experiment", *parts)).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(
    secret: str, subject: str, holdout_share: float, experiment: Experiment | None
) -> Assignment:
    """The group of the shopper ``subject`` (``customer:ID``, ``device:ID`` or ``session:ID``)."""
    if uniform(secret, HOLDOUT, subject) < holdout_share:
        return Assignment(arm=HOLDOUT, blend=HOLDOUT)
    if experiment is None:
        return NOT_ASSIGNED
    point = uniform(secret, "variant", experiment.name, subject)
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.share
        if point < edge:
            break
    return Assignment(
        arm=PERSONAL,
        blend=variant.name,
        experiment=experiment.name,
        weights=tuple(sorted(variant.weights.items())),
    )
