"""What an experiment is, as the settings hold it, and the group a shopper is in.

The definitions only: who is assigned to which group, and what the groups
earn, is gateway/insights/ (experiment.py, lift.py). They live apart so that
the settings and the recommendation runner, which every room may import,
need nothing of the shop's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
