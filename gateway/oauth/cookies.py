"""The two cookies of the authorization pages, signed with itsdangerous.

- ``tightrope_signin`` remembers who signed in, for 30 minutes: a timed,
  signed token naming the customer. HttpOnly, SameSite=Lax (the client sends
  the browser here from its own site, and a top-level arrival must carry it).
- ``tightrope_csrf`` holds a random nonce, HttpOnly, SameSite=Strict. Each form
  carries a timed signature of that nonce (a signed double submit): a page of
  another site can neither read the nonce nor sign one of its own, and a
  token fetched in the attacker's own browser belongs to the attacker's nonce.

Both are ``Secure`` when the issuer is https. The key is the random
``cookie.key`` of the key directory (:meth:`KeyStore.cookie_key`); each use has
its own salt, so a session token is never a valid CSRF token or the reverse.
"""

from __future__ import annotations

import hashlib
import secrets

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "tightrope_signin"
CSRF_COOKIE = "tightrope_csrf"
SESSION_TTL = 30 * 60
# A form may be sent this long after the page was shown.
FORM_TTL = 60 * 60
COOKIE_PATH = "/oauth"
NONCE_BYTES = 32


class BrowserCookies:
    """The cookies of one set of pages: the OAuth pages (``/oauth``) or the privacy page.

    ``path`` scopes the cookies to those pages, and ``pages`` names them in
    every salt: a token made for one set of pages is never valid on another.
    """

    def __init__(
        self, key: bytes, secure: bool, path: str = COOKIE_PATH, pages: str = "oauth"
    ) -> None:
        def serializer(salt: str) -> URLSafeTimedSerializer:
            return URLSafeTimedSerializer(
                key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
            )

        self._session = serializer(f"tightrope.{pages}.sign-in")
        self._csrf = serializer(f"tightrope.{pages}.csrf")
        self.secure = secure
        self.path = path

    # -------------------------------------------------------------- the sign-in session

    def session_customer(self, request: Request) -> str | None:
        """The customer this browser signed in as, within the last SESSION_TTL seconds.

        (On the privacy page the signed value is a page session's token, not
        a customer id: see gateway/privacy_page.py.)
        """
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            customer = self._session.loads(value, max_age=SESSION_TTL)
        except BadData:
            return None
        return customer if isinstance(customer, str) and customer else None

    def set_session(self, response: Response, customer_id: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._session.dumps(customer_id),
            max_age=SESSION_TTL,
            path=self.path,
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=self.path)

    # -------------------------------------------------------------- CSRF

    def csrf(self, request: Request) -> tuple[str, str | None]:
        """The token for this browser's forms, and a nonce to set if it has none yet."""
        nonce = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not nonce or len(nonce) < NONCE_BYTES:
            nonce = fresh = secrets.token_urlsafe(NONCE_BYTES)
        return str(self._csrf.dumps(nonce)), fresh

    def set_csrf_nonce(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            path=self.path,
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )

    def csrf_ok(self, request: Request, submitted: object) -> bool:
        """Whether the form's token was made for this browser's nonce, recently."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not isinstance(submitted, str) or not submitted:
            return False
        try:
            signed = self._csrf.loads(submitted, max_age=FORM_TTL)
        except BadData:
            return False
        return isinstance(signed, str) and secrets.compare_digest(signed, nonce)
