"""Contact details sealed at rest: AES-256-GCM under a data key, with the key's id in each value.

A customer's contact details (email, name, phone) are stored on the Customer
node as one sealed value, ``contact_enc``::

    v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>

The key id says which data key sealed it, so keys can be rotated without
downtime: every process is given the current key (which seals) and the older
ones (which still open what they sealed), and ``tightrope keys rotate-data``
re-seals every value under the current key; then the old key can go. The
customer's id is bound in as associated data, so a sealed value copied onto
another customer does not open. A dump of the graph holds only ciphertext;
looking a customer up by email uses the keyed hash (graph/pii.py), never this.

The keys come from the gateway's validated settings (``TIGHTROPE_DATA_KEYS``,
``Settings.data_keys_in_use()``) and are passed down: nothing in graph/ reads
the environment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from graph.model import Contact

VERSION: Final = "v1"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
KEY_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class SealError(Exception):
    """A sealed value cannot be opened: unknown key id, damaged, or not this customer's."""


@dataclass(frozen=True)
class DataKey:
    id: str
    secret: bytes

    def __repr__(self) -> str:  # never the secret, in a log line or a traceback
        return f"DataKey({self.id!r})"


@dataclass(frozen=True)
class DataKeys:
    """The key that seals (``current``) and every key that may still open (``current`` too)."""

    current: DataKey
    older: tuple[DataKey, ...] = ()

    def by_id(self, key_id: str) -> DataKey | None:
        for key in (self.current, *self.older):
            if key.id == key_id:
                return key
        return None


# Development only: settings hand it out in dev mode when no key is configured,
# and refuse to serve or load outside dev mode without a real one.
DEV_DATA_KEY: Final = DataKey("dev", hashlib.sha256(b"tightrope-dev-only-data-key").digest())
DEV_DATA_KEYS: Final = DataKeys(DEV_DATA_KEY)


def parse_data_keys(text: str) -> DataKeys:
    """``id:base64url-key,id:base64url-key,...`` (the first seals) to keys; ValueError if bad."""
    keys: list[DataKey] = []
    for n, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise ValueError(
                f"entry {n + 1} must be <id>:<base64url key>, the id of 1-40 letters, "
                "digits, '_' or '-'"
            )
        try:
            secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            raise ValueError(f"key {key_id!r} is not base64url") from None
        if len(secret) != KEY_BYTES:
            raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(secret)}")
        if any(k.id == key_id for k in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        keys.append(DataKey(key_id, secret))
    if not keys:
        raise ValueError("no key given")
    return DataKeys(keys[0], tuple(keys[1:]))


def new_data_key(now: datetime | None = None) -> str:
    """A fresh ``id:key`` entry for ``TIGHTROPE_DATA_KEYS`` (the id says when it was made)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    secret = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).rstrip(b"=").decode()
    return f"k{stamp}:{secret}"


def _associated(key_id: str, customer_id: str) -> bytes:
    return f"tightrope contact {VERSION}|{key_id}|{customer_id}".encode()


def seal_contact(contact: Contact, customer_id: str, keys: DataKeys) -> str:
    """The sealed value of ``contact`` for ``customer_id``, under the current key."""
    key = keys.current
    plain = json.dumps(
        {
            k: v
            for k, v in (("email", contact.email), ("name", contact.name), ("phone", contact.phone))
            if v is not None
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key.secret).encrypt(nonce, plain, _associated(key.id, customer_id))
    body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
    return f"{VERSION}:{key.id}:{body}"


def key_id_of(sealed: str) -> str | None:
    """The id of the key that sealed a value (None if it is not a sealed value)."""
    version, sep, rest = sealed.partition(":")
    key_id, sep2, _ = rest.partition(":")
    return key_id if version == VERSION and sep and sep2 else None


def open_contact(sealed: str, customer_id: str, keys: DataKeys) -> Contact:
    """The contact details in a sealed value; SealError if they cannot be opened."""
    key_id = key_id_of(sealed)
    if key_id is None:
        raise SealError("not a sealed contact value")
    key = keys.by_id(key_id)
    if key is None:
        raise SealError(f"sealed under key {key_id!r}, which is not configured")
    body = sealed.split(":", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(key.secret).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(key_id, customer_id)
        )
        fields = json.loads(plain)
    except (ValueError, InvalidTag):
        raise SealError(f"a contact sealed under key {key_id!r} does not open") from None
    return Contact(email=fields.get("email"), name=fields.get("name"), phone=fields.get("phone"))


def reseal(sealed: str, customer_id: str, keys: DataKeys) -> str | None:
    """The value sealed again under the current key; None if it already is."""
    if key_id_of(sealed) == keys.current.id:
        return None
    return seal_contact(open_contact(sealed, customer_id, keys), customer_id, keys)


def key_ids(keys: DataKeys) -> Iterable[str]:
    return (k.id for k in (keys.current, *keys.older))
