"""The two customer-facing pages of the authorization server, and their cookies.

Sign-in and consent are plain HTML forms that work without JavaScript. Both
post back to the URL they were served from, so the authorization request rides
along in the query string and is validated again on every step.

Protections: every form carries a CSRF token bound to an HttpOnly,
SameSite=Strict cookie (a signed double submit); the sign-in cookie is signed
with a key from the key directory and lasts 30 minutes; pages may not be
framed (a consent click cannot be hijacked) and are never cached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

SESSION_COOKIE = "tightrope_signin"
CSRF_COOKIE = "tightrope_csrf"
SESSION_TTL = 30 * 60
COOKIE_PATH = "/oauth"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem} label{display:block;margin:.6rem 0} input[type=text],input[type=password]
{width:100%;padding:.5rem;box-sizing:border-box} ul{list-style:none;padding:0}
li{margin:.5rem 0} button{padding:.5rem 1.2rem;margin-right:.5rem} .error{color:#a00}
.note{color:#555;font-size:.9rem}
"""


class CookieSigner:
    def __init__(self, key: bytes, secure: bool) -> None:
        self.key = key
        self.secure = secure

    def _mac(self, message: str) -> str:
        digest = hmac.new(self.key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # -- sign-in session

    def session_value(self, customer_id: str, now: int | None = None) -> str:
        expires = (int(time.time()) if now is None else now) + SESSION_TTL
        body = base64.urlsafe_b64encode(f"{customer_id}\n{expires}".encode()).decode()
        return f"{body}.{self._mac('session:' + body)}"

    def session_customer(self, request: Request) -> str | None:
        value = request.cookies.get(SESSION_COOKIE, "")
        body, _, mac = value.rpartition(".")
        if not body or not hmac.compare_digest(mac, self._mac("session:" + body)):
            return None
        try:
            customer_id, expires = base64.urlsafe_b64decode(body).decode().rsplit("\n", 1)
        except ValueError:
            return None
        return customer_id if int(expires) > time.time() else None

    def set_session(self, response: Response, customer_id: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.session_value(customer_id),
            max_age=SESSION_TTL,
            path=COOKIE_PATH,
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    # -- CSRF

    def csrf_nonce(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF nonce, and whether it is new (so must be set)."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if nonce and len(nonce) >= 32:
            return nonce, False
        return secrets.token_urlsafe(32), True

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf:" + nonce)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE)
        return bool(nonce and submitted and hmac.compare_digest(submitted, self.csrf_token(nonce)))

    def page(self, request: Request, html_for_token: str, status: int = 200) -> HTMLResponse:
        """Render a page whose forms need the CSRF token (``{csrf}`` placeholder)."""
        nonce, new = self.csrf_nonce(request)
        body = html_for_token.replace("{csrf}", escape(self.csrf_token(nonce)))
        response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
        if new:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                path=COOKIE_PATH,
                httponly=True,
                secure=self.secure,
                samesite="strict",
            )
        return response


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def sign_in_page(client_name: str, error: str | None = None, customer: str = "") -> str:
    problem = f"<p class=error role=alert>{escape(error)}</p>" if error else ""
    return _document(
        "Sign in",
        f"<h1>Sign in</h1><p>to continue to <strong>{escape(client_name)}</strong></p>{problem}"
        "<form method=post id=sign-in>"
        '<input type=hidden name=csrf_token value="{csrf}">'
        "<input type=hidden name=action value=sign_in>"
        f"<label>Email or customer number <input type=text name=customer autocomplete=username "
        f'value="{escape(customer)}" required></label>'
        "<label>Password <input type=password name=password "
        "autocomplete=current-password required></label>"
        "<button type=submit>Sign in</button></form>",
    )


def consent_page(
    client_name: str,
    customer_id: str,
    scopes: Iterable[str],
    descriptions: Mapping[str, str],
) -> str:
    items = "".join(
        f'<li><label><input type=checkbox name=grant_scope value="{escape(s)}" checked> '
        f"{escape(descriptions.get(s, s))} <span class=note>({escape(s)})</span></label></li>"
        for s in scopes
    )
    return _document(
        "Allow access?",
        f"<h1>{escape(client_name)} would like access to your account</h1>"
        f"<p class=note>Signed in as customer {escape(customer_id)}.</p>"
        "<p>Untick anything you do not want to share. You can take back access "
        "at any time.</p>"
        "<form method=post id=consent>"
        '<input type=hidden name=csrf_token value="{csrf}">'
        f"<ul>{items}</ul>"
        "<button type=submit name=action value=approve>Allow</button>"
        "<button type=submit name=action value=deny>Deny</button></form>",
    )


def error_page(error: str, description: str) -> str:
    return _document(
        "Cannot continue",
        "<h1>This sign-in link does not work</h1>"
        f"<p>The app that sent you here made a request we cannot accept: "
        f"<code id=error>{escape(error)}</code></p><p>{escape(description)}</p>",
    )


def error_response(error: str, description: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        error_page(error, description), status_code=status, headers=SECURITY_HEADERS
    )
