"""The gate: the one place that decides who may see what.

Fields and strategies declare (scopes, row rule, purpose, data category); the
gate decides, resolvers only fetch. ``fields`` holds the field extensions,
``rows`` the row rules, ``policy`` the consent policies' types and their
AND-combination, ``request`` the per-request gate (``info.context.gate``)
and ``access_log`` the buffered access log.
"""

from gateway.gate.access_log import AccessLog, hand_over_reads
from gateway.gate.field_extensions import RowGate, ScopeGate, extensions_for
from gateway.gate.policy import (
    ConsentPolicy,
    ConsentQuestion,
    Decision,
    Policies,
)
from gateway.gate.request import Gatekeeper, RequestGate

__all__ = [
    "AccessLog",
    "ConsentPolicy",
    "ConsentQuestion",
    "Decision",
    "Gatekeeper",
    "Policies",
    "RequestGate",
    "RowGate",
    "ScopeGate",
    "extensions_for",
    "hand_over_reads",
]
