"""Customer passwords, hashed with Argon2id (memory-hard) through argon2-cffi.

Only the hash is stored (see graph/oauth/passwords.py). Verification is CPU- and
memory-heavy by design, so callers run it off the event loop.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB).
_hasher = PasswordHasher()

# Verified against when the customer has no password, so that a wrong customer
# number takes as long as a wrong password and does not reveal who exists.
_DUMMY_HASH = _hasher.hash("no password is set for this customer")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored_hash is not None
