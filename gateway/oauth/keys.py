"""Signing keys: persisted with owner-only permissions, rotated without downtime.

The key set lives in one JSON file in ``oauth_keys_dir`` (directory 0700, files
0600, written atomically). Exactly one key signs; after ``tightrope keys rotate``
the previous key is retired but still published in the JWKS and still verifies,
until every token it signed has expired; later rotations prune it. Several
gateway processes on one host share the file: a process notices a rotation by
the file's modification time and reloads. Verifying a bearer token, the hot
path, looks at the file at most about once a second and never takes the file
lock or creates anything: the file is only ever replaced atomically, so it can
be read without a lock. Private key material is never logged
and never leaves this module except as a joserfc key object.

The same directory holds the random key that signs the sign-in cookie of the
authorization pages.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet

ALGORITHM = "ES256"
KEYS_FILE = "signing-keys.json"
COOKIE_KEY_FILE = "cookie.key"

# How stale (seconds) this process's view of the key file may be when verifying.
CHECK_INTERVAL = 1.0
# A token naming a kid we do not know may come from a key another process just
# made: look again, but no more often than this, whatever a client sends.
UNKNOWN_KID_INTERVAL = 0.1


@dataclass(frozen=True)
class StoredKey:
    kid: str
    key: ECKey
    created_at: int
    retired_at: int | None


class KeyStore:
    """The process's view of the key file; reloads when the file changes."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        retention: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # retention: seconds a retired key keeps verifying (the longest token lifetime).
        self.directory = Path(directory)
        self.retention = retention
        self._clock = clock
        self._keys: list[StoredKey] = []
        self._mtime: int | None = None
        self._checked: float | None = None  # clock reading of the last look at the file

    # -------------------------------------------------------------- reading

    def signing_key(self) -> StoredKey:
        # Signing is rare next to verifying: always look, so a rotation by
        # another process is used at once.
        self._refresh(max_age=0.0)
        active = [k for k in self._keys if k.retired_at is None]
        if not active:
            return self.rotate(unless_active=True)
        return active[-1]

    def verification_key(self, kid: str) -> ECKey | None:
        """The public key with this ``kid``, if it may still verify tokens."""
        self._refresh(max_age=CHECK_INTERVAL)
        found = self._find(kid)
        if found is None and self._refresh(max_age=UNKNOWN_KID_INTERVAL):
            found = self._find(kid)
        return found

    def _find(self, kid: str) -> ECKey | None:
        for stored in self._keys:
            if stored.kid == kid and not self._expired(stored, int(time.time())):
                return stored.key
        return None

    def jwks(self) -> dict[str, Any]:
        """Every key that may still verify, public parts only."""
        self._refresh(max_age=CHECK_INTERVAL)
        if not self._keys:
            self.signing_key()
        now = int(time.time())
        keys = [s.key.as_dict(private=False) for s in self._keys if not self._expired(s, now)]
        return {"keys": keys}

    def public_key_set(self) -> KeySet:
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]

    def _expired(self, stored: StoredKey, now: int) -> bool:
        return stored.retired_at is not None and stored.retired_at + self.retention < now

    # -------------------------------------------------------------- writing

    def rotate(self, *, unless_active: bool = False) -> StoredKey:
        """Make a new signing key; retire the current one; prune keys past retention.

        ``unless_active``: keep the signing key if there is one (looked for under
        the lock), so processes that start together agree on one first key.
        """
        with self._locked():
            self._load()
            active = [k for k in self._keys if k.retired_at is None]
            if unless_active and active:
                return active[-1]
            now = int(time.time())
            kept = [
                StoredKey(k.kid, k.key, k.created_at, k.retired_at or now)
                for k in self._keys
                if not self._expired(k, now)
            ]
            kid = f"{time.strftime('%Y%m%d', time.gmtime(now))}-{uuid.uuid4().hex[:8]}"
            key = ECKey.generate_key(
                "P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"}, private=True
            )
            fresh = StoredKey(kid, key, now, None)
            self._write([*kept, fresh])
            self._load()
            return fresh

    def cookie_key(self) -> bytes:
        """The secret that signs the sign-in cookie (created on first use)."""
        path = self.directory / COOKIE_KEY_FILE
        with self._locked():
            if not path.exists():
                _write_private(path, secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())

    # -------------------------------------------------------------- file handling

    def _refresh(self, max_age: float) -> bool:
        """Reload if the file changed, unless we looked less than ``max_age`` ago.

        Returns whether it looked. Takes no lock: writers replace the file
        atomically, so a read sees the old or the new file, whole.
        """
        now = self._clock()
        if self._checked is not None and now - self._checked < max_age:
            return False
        self._checked = now
        try:
            mtime = (self.directory / KEYS_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime:
            self._load()
        return True

    def _load(self) -> None:
        path = self.directory / KEYS_FILE
        try:
            self._mtime = path.stat().st_mtime_ns
            data = json.loads(path.read_text())
        except FileNotFoundError:
            self._keys, self._mtime = [], None
            return
        keys = []
        for item in data["keys"]:
            key = ECKey.import_key(item["jwk"])
            keys.append(StoredKey(item["kid"], key, item["created_at"], item.get("retired_at")))
        self._keys = sorted(keys, key=lambda k: k.created_at)

    def _write(self, keys: list[StoredKey]) -> None:
        data = {
            "keys": [
                {
                    "kid": k.kid,
                    "created_at": k.created_at,
                    "retired_at": k.retired_at,
                    "jwk": k.key.as_dict(private=True),
                }
                for k in keys
            ]
        }
        _write_private(self.directory / KEYS_FILE, json.dumps(data))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __repr__(self) -> str:  # never show key material, even in a traceback
        return f"KeyStore({str(self.directory)!r}, {len(self._keys)} keys)"


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, replacing any old one atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
