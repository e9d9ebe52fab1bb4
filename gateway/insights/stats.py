"""The statistics behind the figures: intervals and tests, each with its name (docs/insights.md).

Pure functions over counts, at 95 % unless told. Written out here (a few
lines each) rather than taken from a statistics package, so that the docs can
say exactly what is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

CONFIDENCE: Final = 0.95
_NORMAL = NormalDist()


def z_of(confidence: float = CONFIDENCE) -> float:
    """The two-sided normal quantile: 1.96 for 95 %."""
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def two_sided_p(z: float) -> float:
    return 2.0 * (1.0 - _NORMAL.cdf(abs(z)))


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (good for small counts and rates near 0)."""
    if trials <= 0:
        return (0.0, 1.0)
    z = z_of(confidence)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class TwoProportions:
    """Treatment against control: the relative lift, the difference, the test."""

    rate_treatment: float
    rate_control: float
    # Relative lift: rate_treatment / rate_control - 1, with the Katz log interval.
    lift: float
    lift_low: float
    lift_high: float
    # Absolute difference in rates, with the (unpooled) Wald interval.
    difference: float
    difference_low: float
    difference_high: float
    # Two-sided p-value of the pooled two-proportion z-test.
    p_value: float

    @property
    def significant(self) -> bool:
        """Whether the interval of the relative lift leaves out no effect at all."""
        return self.lift_low > 0 or self.lift_high < 0


METHOD: Final = (
    "two-proportion comparison: relative lift with the Katz log interval, difference with the "
    "Wald interval, p-value of the pooled two-proportion z-test"
)


def two_proportions(
    x_treatment: int,
    n_treatment: int,
    x_control: int,
    n_control: int,
    confidence: float = CONFIDENCE,
) -> TwoProportions:
    """Compare two conversion rates; both groups need at least one conversion."""
    if min(x_treatment, x_control) <= 0 or min(n_treatment, n_control) <= 0:
        raise ValueError("each group needs trials and at least one success")
    z = z_of(confidence)
    p1, p0 = x_treatment / n_treatment, x_control / n_control
    ratio = p1 / p0
    # Katz: log(RR) is close to normal with this standard error.
    se_log = math.sqrt((1 - p1) / x_treatment + (1 - p0) / x_control)
    low, high = ratio * math.exp(-z * se_log), ratio * math.exp(z * se_log)
    se_diff = math.sqrt(p1 * (1 - p1) / n_treatment + p0 * (1 - p0) / n_control)
    pooled = (x_treatment + x_control) / (n_treatment + n_control)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_treatment + 1 / n_control))
    p_value = two_sided_p((p1 - p0) / se_pooled) if se_pooled > 0 else 1.0
    return TwoProportions(
        p1,
        p0,
        ratio - 1,
        low - 1,
        high - 1,
        p1 - p0,
        p1 - p0 - z * se_diff,
        p1 - p0 + z * se_diff,
        p_value,
    )


@dataclass(frozen=True)
class RateRatio:
    """How much more often something happened in one period (or group) than another,
    relative to what the totals say: ``observed / expected``, with its interval."""

    ratio: float
    low: float
    high: float
    p_value: float

    @property
    def log_low(self) -> float:
        """The interval's bound nearest to "no change", as a log (0: no evidence)."""
        if self.low > 1:
            return math.log(self.low)
        if self.high < 1:
            return -math.log(self.high)
        return 0.0


def rate_ratio(
    recent: int,
    before: int,
    recent_total: float,
    before_total: float,
    confidence: float = CONFIDENCE,
) -> RateRatio:
    """Growth of a count against the same count's own baseline, beyond the totals' growth.

    ``recent`` of ``recent_total`` events now, ``before`` of ``before_total``
    in the baseline. Under no change the recent share of the item's
    ``recent + before`` events is the totals' recent share; the ratio of the
    two odds is the item's growth beyond the shop's. The interval is the
    log-normal one (with 0.5 added to each count, so an item absent from
    one period has one); the p-value the conditional binomial test's normal
    approximation.
    """
    if min(recent_total, before_total) <= 0:
        raise ValueError("both periods need events")
    a, b = recent + 0.5, before + 0.5
    ratio = (a / recent_total) / (b / before_total)
    z = z_of(confidence)
    se = math.sqrt(1 / a + 1 / b)
    n = recent + before
    share = recent_total / (recent_total + before_total)
    expected = n * share
    sd = math.sqrt(n * share * (1 - share)) if n else 0.0
    p_value = two_sided_p((recent - expected) / sd) if sd > 0 else 1.0
    return RateRatio(ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se), p_value)


def benjamini_hochberg(p_values: Sequence[float], rate: float = 0.05) -> list[bool]:
    """Which of many tests to keep so that at most ``rate`` of the kept are false, expected."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    m = len(p_values)
    cut = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rate * rank / m:
            cut = rank
    kept = set(order[:cut])
    return [i in kept for i in range(m)]
