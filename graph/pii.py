"""Keyed hashes of contact details and linking signals: matched, never held in the clear.

The key is the deployment's ``TIGHTROPE_PII_KEY``, read and validated once by
the gateway's settings (``Settings.pii_secret()``) and passed down to every
caller: nothing in graph/ reads the environment, so a key given in a settings
file is the key used. Every real deployment sets its own and keeps it
(changing it makes every stored hash unmatchable).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

# Development only: settings hand it out in dev mode when no key is configured,
# and refuse to serve or load outside dev mode without a real one.
DEV_PII_KEY: Final = "tightrope-dev-only-pii-key-not-for-production"


def email_hmac(email: str, key: str) -> str:
    """A keyed hash of a normalised email (trimmed, lower-cased)."""
    if not key:
        raise ValueError("email_hmac needs the deployment's PII key")
    normalised = email.strip().lower().encode()
    return hmac.new(key.encode(), normalised, hashlib.sha256).hexdigest()


def signal_hmac(kind: str, value: str, key: str) -> str:
    """A keyed hash of a linking signal: ``kind`` is ``network`` or ``user_agent``.

    What is hashed is already coarse (a network prefix, a browser family); the
    key keeps even that from being read back or matched outside this
    deployment. The kind is part of the hashed text, so one value never hashes
    alike as two kinds of signal. 128 bits are plenty for equality.
    """
    if not key:
        raise ValueError("signal_hmac needs the deployment's signals key")
    message = f"{kind}:{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]
