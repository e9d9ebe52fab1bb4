"""Security headers on every response, without overriding the ones a route chose.

The gateway answers JSON to programs, so the default policy forbids everything
a browser could load or frame. Two exceptions:

- GraphiQL (``GET /graphql`` as HTML, dev mode only) loads its scripts and
  styles from a CDN and runs an inline script; its policy allows exactly the
  origins strawberry's own GraphiQL page names (read from the page itself, so
  an upgrade of strawberry that moves them keeps working) plus inline code.
- A header the response already carries (the OAuth sign-in pages set their own
  CSP and ``X-Frame-Options``) is left as it is.

``/graphql`` answers are ``Cache-Control: no-store``: they may hold personal
data. HSTS is sent only when ``behind_tls`` says browsers reach us over HTTPS;
sent over plain HTTP it would be ignored, and sent by mistake it would lock
browsers out of a plain-HTTP host for a year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.ides import get_graphql_ide_html

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000"


def graphiql_origins(html: str | None = None) -> tuple[str, ...]:
    """The https origins GraphiQL's page loads scripts or styles from."""
    page = get_graphql_ide_html("graphiql") if html is None else html
    found = re.findall(r'(?:src|href)="(https://[A-Za-z0-9.\-]+(?::\d+)?)/', page)
    return tuple(sorted(set(found)))


def graphiql_csp(origins: Iterable[str]) -> str:
    cdn = " ".join(origins)
    return (
        "default-src 'none'; "
        f"script-src 'unsafe-inline' {cdn}; "
        f"style-src 'unsafe-inline' {cdn}; "
        f"font-src data: {cdn}; "
        "img-src 'self' data:; "
        # The queries themselves (and subscriptions over a websocket) go to us.
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class SecurityHeaders:
    """Plain ASGI middleware; the outermost one, so refusals carry the headers too."""

    def __init__(self, app: ASGIApp, *, graphiql: bool = False, behind_tls: bool = False) -> None:
        self.app = app
        self.graphiql_csp = graphiql_csp(graphiql_origins()) if graphiql else None
        self.behind_tls = behind_tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        graphql = scope["path"] == "/graphql"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                csp = self.graphiql_csp if graphql and html and self.graphiql_csp else STRICT_CSP
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", csp)
                if graphql:
                    headers.setdefault("Cache-Control", "no-store")
                if self.behind_tls:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
