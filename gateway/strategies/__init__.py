"""The host side of recommendation strategies: their types, the seam, the runner.

Plugins import these names from ``gateway`` (gateway/__init__.py), never from here.
"""

from gateway.strategies.data import OtherSubject, StrategyData, UndeclaredCategory
from gateway.strategies.maintenance import (
    Recomputed,
    RecomputeFailed,
    forget_customer,
    recompute,
)
from gateway.strategies.runner import RecommendationService
from gateway.strategies.seam import strategy_allowed
from gateway.strategies.types import (
    NOT_PERSONAL,
    PERSONALISATION,
    BlendRequest,
    Candidate,
    CustomersAllowed,
    ForgetsCustomers,
    Reason,
    Recommendation,
    Recommender,
    Recomputes,
    Registered,
    ServedList,
    Shopper,
    Skipped,
    StrategyDecision,
    StrategyResult,
    Subject,
    SubjectKind,
)

__all__ = [
    "NOT_PERSONAL",
    "PERSONALISATION",
    "BlendRequest",
    "Candidate",
    "CustomersAllowed",
    "ForgetsCustomers",
    "OtherSubject",
    "Reason",
    "Recommendation",
    "RecommendationService",
    "Recommender",
    "RecomputeFailed",
    "Recomputed",
    "Recomputes",
    "Registered",
    "ServedList",
    "Shopper",
    "Skipped",
    "StrategyData",
    "StrategyDecision",
    "StrategyResult",
    "Subject",
    "SubjectKind",
    "UndeclaredCategory",
    "forget_customer",
    "recompute",
    "strategy_allowed",
]
