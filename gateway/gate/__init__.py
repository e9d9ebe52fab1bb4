"""The gate: the one place that decides who may see what.

Fields and strategies declare (scopes, row rule, purpose, data category); the
gate decides, resolvers only fetch. ``field_extensions`` holds the field
extensions, ``rows`` the row rules, ``scopes`` the one table of scopes by
client kind, ``declared`` the one check of what a plugin declared,
``policy`` the consent policies' types and their AND-combination,
``request`` the per-request gate (``info.context.gate``), ``loaders`` the
owned loaders, ``ids`` the device and session ids the gateway issues, and
``access_log`` the buffered access log. The gate imports no other room of
gateway/: what it needs of the plugins it is handed at start-up.
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
