"""The two cookies of the authorization pages, signed with itsdangerous.

- ``tightrope_signin`` remembers who signed in, for 30 minutes: a timed,
  signed random token; the graph keeps only its SHA-256 as a ``PageSession``
  with the customer (graph/oauth/page_sessions.py), so signing out or erasing
  the customer ends the session at once, whatever the cookie says. HttpOnly,
  SameSite=Lax (the client sends the browser here from its own site, and a
  top-level arrival must carry it).
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
import time

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from graph import Graph
from graph.oauth import page_session_customer, start_page_session

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

    async def signed_in(self, request: Request, graph: Graph) -> tuple[str, str] | None:
        """(customer id, session hash) of this browser's live sign-in, if any."""
        token = self._session_token(request)
        if token is None:
            return None
        session = _hash(token)
        customer = await page_session_customer(graph, session, int(time.time()))
        return (customer, session) if customer else None

    async def start_session(self, response: Response, graph: Graph, customer_id: str) -> bool:
        """Sign this browser in as the customer; False if there is no such customer."""
        token = secrets.token_urlsafe(32)
        now = int(time.time())
        if not await start_page_session(graph, _hash(token), customer_id, now, now + SESSION_TTL):
            return False
        self._set_session(response, token)
        return True

    def _session_token(self, request: Request) -> str | None:
        """The signed token of this browser's sign-in, within the last SESSION_TTL seconds."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            token = self._session.loads(value, max_age=SESSION_TTL)
        except BadData:
            return None
        return token if isinstance(token, str) and token else None

    def _set_session(self, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._session.dumps(token),
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


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
