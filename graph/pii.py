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


# Event ids sent with a customer's token are stored as ``~<tag>~<id>``
# (:func:`sender_prefix`); no sender may choose an id of that form itself.
SENDER_MARK: Final = "~"


def sender_prefix(customer_id: str, pii_key: str) -> str:
    """The namespace of the event ids a customer's own token sends.

    Ids are the sender's to choose, and a duplicate is a duplicate only from
    the same sender: otherwise a customer could send, under an id the shop's
    back end will use tomorrow (an order line ``O10051-1``), an event of their
    own, and the shop's real one would then be refused. So the ids of events
    sent for a customer (``as_customer``) are stored behind a keyed hash of
    that customer, and the shop's services and ``tightrope load`` share the
    plain namespace. The erasure finds a customer's ids by the same prefix.
    """
    if not pii_key:
        raise ValueError("sender_prefix needs the deployment's PII key")
    tag = hmac.new(
        pii_key.encode(), f"tightrope sender {customer_id}".encode(), hashlib.sha256
    ).hexdigest()[:20]
    return f"{SENDER_MARK}{tag}{SENDER_MARK}"


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
