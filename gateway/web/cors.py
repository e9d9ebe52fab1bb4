"""CORS for ``/graphql``: browsers on the shop's own origins may call the API, nobody else's.

A shop's frontend usually lives on another origin than its API
(``https://shop.example`` calling ``https://api.shop.example``), and a browser
lets a page read a cross-origin answer only when the answer says the page's
origin may. ``TIGHTROPE_CORS_ORIGINS`` lists those origins exactly (scheme,
host and port; no wildcard, no path): a page from any other origin is refused
its preflight and gets no CORS headers. Credentials (cookies, HTTP auth) are
off unless ``TIGHTROPE_CORS_ALLOW_CREDENTIALS`` is set: the API takes bearer
tokens, which a page sends itself, so no browser needs to send cookies.
Preflights are cached by the browser for ``TIGHTROPE_CORS_MAX_AGE`` seconds.

This sits outside the size limit, the token check and the rate limit, so a
refusal by any of them (413, 401, 429) still carries the headers that let
the page read why. The OAuth endpoints keep their own CORS (docs/oauth.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# What a page may send and read besides the CORS-safelisted headers.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "WWW-Authenticate")


class GraphQLCors:
    """Plain ASGI middleware: Starlette's CORS handling, for ``path`` only."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Sequence[str],
        allow_credentials: bool = False,
        max_age: int = 600,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.path = path
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(ALLOWED_HEADERS),
            allow_credentials=allow_credentials,
            expose_headers=list(EXPOSED_HEADERS),
            max_age=max_age,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
