"""The built-in way a customer signs in: email (or customer number) and password.

This is the default behind the ``authenticate_customer`` hook; a retailer with
its own login or single sign-on replaces it with a plugin. Passwords are set
with ``tightrope customers set-password`` and stored as Argon2id hashes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from inspect import isawaitable

import anyio.to_thread
from pluggy import HookCaller
from starlette.requests import Request

from gateway.oauth.passwords import verify_password
from gateway.settings import Settings
from graph import Graph
from graph.oauth import (
    clear_sign_in_failures,
    count_sign_in_failure,
    customer_by_email,
    get_password_hash,
    recent_sign_in_failures,
)

# After this many wrong passwords within the window, the customer's password
# sign-in is refused (with the same message as a wrong password) until the
# window has passed since the last failure. Online guessing is then limited to
# a few tries per quarter hour per customer, whatever the number of processes.
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60


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
    customer = customer.strip()
    if "@" in customer:
        # Unknown emails fall through to the same slow check and the same
        # refusal as a wrong password, so the form does not tell who exists.
        # The key is the validated settings' (the OAuth service holds them), never a fallback.
        settings: Settings = request.app.state.oauth.settings
        customer = await customer_by_email(graph, customer, settings.pii_secret()) or customer
    now = int(time.time())
    if await recent_sign_in_failures(graph, customer, now, FAILURE_WINDOW) >= MAX_FAILURES:
        return None
    stored = await get_password_hash(graph, customer)
    # Argon2 is deliberately slow and memory-hungry: keep it off the event loop.
    ok = await anyio.to_thread.run_sync(verify_password, stored, password)
    if not ok:
        await count_sign_in_failure(graph, customer, now, FAILURE_WINDOW)
        return None
    await clear_sign_in_failures(graph, customer)
    return customer


def from_hook(hook: HookCaller) -> Callable[[Request, Graph], Awaitable[str | None]]:
    """Ask the plugins' ``authenticate_customer`` implementations in turn.

    pluggy's ``firstresult`` stops at the first result that is not None, and an
    ``async def`` implementation's coroutine is never None: a single sign-on
    plugin that answers None would silently hide the password fallback. So the
    host walks the implementations itself, in pluggy's call order, awaits each
    answer, and stops at the first customer id.
    """

    async def authenticate(request: Request, graph: Graph) -> str | None:
        arguments: dict[str, object] = {"request": request, "graph": graph}
        # get_hookimpls() lists the order of registration with tryfirst last;
        # pluggy calls from the end. Wrappers do not answer the question.
        for impl in reversed(hook.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            result = impl.function(**{name: arguments[name] for name in impl.argnames})
            if isawaitable(result):
                result = await result
            if isinstance(result, str) and result:
                return result
        return None

    return authenticate
