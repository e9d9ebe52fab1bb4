"""The built-in way a customer signs in: customer number and password.

This is the default behind the ``authenticate_customer`` hook; a retailer with
its own login or single sign-on replaces it with a plugin. Passwords are set
with ``tightrope customers set-password`` and stored as Argon2id hashes.
"""

from __future__ import annotations

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
