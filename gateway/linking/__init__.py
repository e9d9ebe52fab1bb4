"""The host side of identity linking: linker types, signals, the consent seam, rules, runner, queue.

Plugins import these names from ``gateway`` (gateway/__init__.py), never from here.
"""

from gateway.linking.data import LinkerData, NetworkView, UndeclaredLinkerCategory
from gateway.linking.maintenance import (
    confirm_device,
    forget_guesses,
    reject_device,
    unlink_device,
)
from gateway.linking.queue import LinkQueue
from gateway.linking.rules import LinkRules
from gateway.linking.runner import LinkingService, observe
from gateway.linking.seam import linking_allowed
from gateway.linking.signals import IgnoredSignal, SignalKeys, read_signals
from gateway.linking.types import (
    CROSS_DEVICE,
    DETERMINISTIC,
    EMAIL,
    LOGIN,
    Arrival,
    EventSignals,
    Evidence,
    IdentityLinker,
    LinkReport,
    Observation,
    Outcome,
    Proposal,
    RegisteredLinker,
    SignIn,
    Verdict,
)

__all__ = [
    "CROSS_DEVICE",
    "DETERMINISTIC",
    "EMAIL",
    "LOGIN",
    "Arrival",
    "EventSignals",
    "Evidence",
    "IdentityLinker",
    "IgnoredSignal",
    "LinkQueue",
    "LinkReport",
    "LinkRules",
    "LinkerData",
    "LinkingService",
    "NetworkView",
    "Observation",
    "Outcome",
    "Proposal",
    "RegisteredLinker",
    "SignIn",
    "SignalKeys",
    "UndeclaredLinkerCategory",
    "Verdict",
    "confirm_device",
    "forget_guesses",
    "linking_allowed",
    "observe",
    "read_signals",
    "reject_device",
    "unlink_device",
]
