"""The built-in way a customer signs in: customer number and password.

This is the default behind the ``authenticate_customer`` hook; a retailer with
its own login or single sign-on replaces it with a plugin. Passwords are set
with ``tightrope customers set-password`` and stored as Argon2id hashes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable

import anyio.to_thread
from starlette.requests import Request

from gateway.oauth.passwords import verify_password
from graph import Graph
from graph.oauth import get_password_hash


async def password_sign_in(request: Request, graph: Graph) -> str | None:
    """The customer id if the posted sign-in form is right, else None."""
    if request.method != "POST":
        return None
    form = await request.form()
    if form.get("action") != "sign_in":
        return None
    customer = form.get("customer")
    password = form.get("password")
    if not isinstance(customer, str) or not isinstance(password, str) or not customer:
        return None
    stored = await get_password_hash(graph, customer.strip())
    # Argon2 is deliberately slow and memory-hungry: keep it off the event loop.
    ok = await anyio.to_thread.run_sync(verify_password, stored, password)
    return customer.strip() if ok else None


def from_hook(hook: Callable[..., object]) -> Callable[[Request, Graph], Awaitable[str | None]]:
    """Ask the plugins' ``authenticate_customer`` hook (firstresult), awaiting its answer."""

    async def authenticate(request: Request, graph: Graph) -> str | None:
        result = hook(request=request, graph=graph)
        if isawaitable(result):
            result = await result
        return result if isinstance(result, str) and result else None

    return authenticate
