"""The one seam through which a request becomes a Principal.

``create_app`` stores a function ``authenticate(request) -> Principal`` on
``app.state.authenticate``; the GraphQL context getter calls it for every
request. By default it is :meth:`gateway.oauth.OAuthService.authenticate`: the
request's bearer token, verified by the OAuth resource server (no token:
anonymous). Tests may pass their own to ``create_app``. There is no header
that stands in for a token, in dev mode or otherwise: for development, mint a
real token with ``tightrope token``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from gateway.principal import Principal

Authenticate = Callable[[Request], Awaitable[Principal]]
