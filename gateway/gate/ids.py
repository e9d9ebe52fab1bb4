"""Device and session ids the gateway issues, and who may name which.

A browser or app holds a device id and, per visit, a session id. If it could
choose them, anyone who learned or guessed another shopper's id could sign in
"on" that device and read what was browsed there. So the ids a shopper's
device holds are issued here (``startVisit``), and cannot be guessed or forged:

    d1.<nonce>.<tag>            a device
    s1.<nonce>.<tag>            a session of one device

``nonce`` is 16 random bytes and ``tag`` the first 16 bytes of an HMAC-SHA256
of the kind and nonce (and, for a session, of its device's id) under a key
derived from the deployment's PII key; both base64url. Checking an id needs no
graph read, so every instance of the gateway checks every other's ids alike.
A session id is bound to its device: a session id alone, learned from a shared
link or a log, cannot be signed in from another device.

Who must use them: every sender but the shop's own back end. A token of a
first-party client with no customer (the retailer's services) and
``tightrope load`` name the ids they vouch for, whatever their form (ids the
shop issued before this rule, its own kiosks' ids). Any other token (a
customer's, whatever its client; a third party's) may name only issued ids,
and a session only together with the device it was issued for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

from gateway.principal import ClientKind, Principal

DEVICE: Final = "d1"
SESSION: Final = "s1"
NONCE_BYTES: Final = 16
TAG_BYTES: Final = 16
# "d1." + 22 + "." + 22 characters.
ID_LENGTH: Final = 3 + 22 + 1 + 22

NOT_ISSUED: Final = (
    "was not issued by this gateway: ask startVisit for the ids of a shopper's device"
)
NOT_OF_DEVICE: Final = "was not issued for this deviceId: ask startVisit for a session of it"
NEEDS_DEVICE: Final = "needs the deviceId it was issued for"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vouches(principal: Principal) -> bool:
    """Whether this sender names ids on its own word: the shop's own back end."""
    return principal.customer_id is None and principal.client_kind is ClientKind.FIRST_PARTY


class VisitIds:
    """Issues and checks the ids a shopper's device holds."""

    def __init__(self, pii_key: str) -> None:
        if not pii_key:
            raise ValueError("issued ids need the deployment's PII key")
        self._key = hmac.new(pii_key.encode(), b"tightrope visit ids", hashlib.sha256).digest()

    def _tag(self, kind: str, nonce: str, device_id: str = "") -> str:
        message = f"{kind}|{nonce}|{device_id}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:TAG_BYTES])

    def _issue(self, kind: str, device_id: str = "") -> str:
        nonce = _b64(secrets.token_bytes(NONCE_BYTES))
        return f"{kind}.{nonce}.{self._tag(kind, nonce, device_id)}"

    def _valid(self, kind: str, value: str, device_id: str = "") -> bool:
        if len(value) != ID_LENGTH:
            return False
        parts = value.split(".")
        if len(parts) != 3 or parts[0] != kind:
            return False
        return hmac.compare_digest(parts[2], self._tag(kind, parts[1], device_id))

    def new_device(self) -> str:
        return self._issue(DEVICE)

    def new_session(self, device_id: str) -> str:
        """A session of ``device_id``, which must be an issued device id."""
        if not self.is_device(device_id):
            raise ValueError(f"device id {NOT_ISSUED}")
        return self._issue(SESSION, device_id)

    def is_device(self, value: str) -> bool:
        return self._valid(DEVICE, value)

    def is_session_of(self, session_id: str, device_id: str) -> bool:
        return self._valid(SESSION, session_id, device_id)

    def is_session(self, value: str) -> bool:
        """Whether ``value`` has the form of an issued session id (its device unchecked)."""
        parts = value.split(".")
        return len(value) == ID_LENGTH and len(parts) == 3 and parts[0] == SESSION

    def problem(self, session_id: str | None, device_id: str | None) -> tuple[str, str] | None:
        """Why a sender that does not vouch may not name these ids: (field, reason), or None."""
        if device_id is not None and not self.is_device(device_id):
            return "device_id", NOT_ISSUED
        if session_id is None:
            return None
        if device_id is None:
            return "session_id", NEEDS_DEVICE
        if not self.is_session_of(session_id, device_id):
            return "session_id", NOT_ISSUED if not self.is_session(session_id) else NOT_OF_DEVICE
        return None
