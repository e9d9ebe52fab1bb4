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
from dataclasses import dataclass
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.strategies.types import Shopper

HOLDOUT: Final = "holdout"
PERSONAL: Final = "personal"
DEFAULT_BLEND: Final = "default"

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class Variant(BaseModel):
    """One variant: its name, its share of the shoppers not held out, its blend weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    share: float = Field(gt=0, le=1)
    # Strategy weights for the blend, over the blend's own (TIGHTROPE_BLEND_WEIGHTS).
    weights: dict[str, Annotated[float, Field(ge=0, le=1000)]] = Field(default_factory=dict)


class Experiment(BaseModel):
    """An A/B test between blends: the first variant is the control."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    variants: tuple[Variant, ...] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _shares_and_names(self) -> Self:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must differ")
        if HOLDOUT in names or DEFAULT_BLEND in names:
            raise ValueError(f"{HOLDOUT!r} and {DEFAULT_BLEND!r} are not variant names")
        total = sum(v.share for v in self.variants)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the variants' shares must add up to 1 (they add up to {total:g})")
        return self


@dataclass(frozen=True, slots=True)
class Assignment:
    """A shopper's group: ``arm`` personal or holdout, the ``blend`` (variant) name."""

    arm: str = PERSONAL
    blend: str = DEFAULT_BLEND
    experiment: str | None = None
    weights: tuple[tuple[str, float], ...] = ()

    @property
    def holdout(self) -> bool:
        return self.arm == HOLDOUT


NOT_ASSIGNED: Final = Assignment()


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
