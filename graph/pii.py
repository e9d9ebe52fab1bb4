"""Keyed hashes of contact details: the graph matches an email without holding it.

``TIGHTROPE_PII_KEY`` is the secret. Without it a built-in key marked dev-only is
used, and the gateway refuses to serve outside dev mode; every real deployment
sets its own and keeps it (changing it makes every stored hash unmatchable).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

# Development default only: a deployment sets TIGHTROPE_PII_KEY to a secret.
DEV_PII_KEY: Final = "tightrope-dev-only-pii-key-not-for-production"


def email_hmac(email: str, key: str | None = None) -> str:
    """A keyed hash of a normalised email (trimmed, lower-cased)."""
    secret = key or os.environ.get("TIGHTROPE_PII_KEY") or DEV_PII_KEY
    normalised = email.strip().lower().encode()
    return hmac.new(secret.encode(), normalised, hashlib.sha256).hexdigest()
