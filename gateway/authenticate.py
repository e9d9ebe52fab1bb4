"""The one seam through which a request becomes a Principal.

``create_app`` stores a function ``authenticate(request) -> Principal`` on
``app.state.authenticate``; the GraphQL context getter calls it for every
request. The default below knows no tokens: every request is anonymous, except
that in dev mode the header ``X-Tightrope-Dev-Customer`` stands in for a
customer-bound token holding every declared scope. The OAuth resource server
replaces this function with bearer-token verification (and removes the header).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from gateway.principal import ANONYMOUS, ClientKind, Principal
from gateway.settings import Settings

Authenticate = Callable[[Request], Awaitable[Principal]]

DEV_CUSTOMER_HEADER = "X-Tightrope-Dev-Customer"
DEV_CLIENT_ID = "tightrope-dev"


def default_authenticate(settings: Settings, all_scopes: frozenset[str]) -> Authenticate:
    async def authenticate(request: Request) -> Principal:
        if settings.dev_mode:
            customer = request.headers.get(DEV_CUSTOMER_HEADER)
            if customer:
                return Principal(
                    client_id=DEV_CLIENT_ID,
                    client_kind=ClientKind.FIRST_PARTY,
                    customer_id=customer,
                    scopes=all_scopes,
                )
        return ANONYMOUS

    return authenticate
