"""The built-in way a customer signs in: email (or customer number) and password.

This is the default behind the ``authenticate_customer`` hook; a retailer with
its own login or single sign-on replaces it with a plugin. Passwords are set
with ``tightrope customers set-password`` and stored as Argon2id hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING

import anyio.to_thread
from pluggy import HookCaller
from starlette.requests import Request

from gateway.host.manager import arguments_for
from gateway.oauth.passwords import verify_password
from gateway.settings import Settings
from graph import Graph, GraphUnavailable
from graph.oauth import customer_by_email, reserve_sign_in_attempt, sign_in_succeeded

if TYPE_CHECKING:
    from gateway.host.plugin_graph import PluginGraphs

# What a sign-in reads of the customer (checked when a plugin's graph is passed).
SIGN_IN_READS = frozenset({"profile", "contact"})

log = logging.getLogger(__name__)

# Wrong passwords are counted per customer *and* source address. After
# MAX_FAILURES from one address within the window, that address may not try
# that customer's password again until the window has passed since its last
# failure. A guesser therefore locks out only themself: the customer signing
# in from home is not refused because someone elsewhere typed five wrong
# passwords (with a count per customer alone, anyone who knew a customer
# number could lock its owner out, at will, every quarter hour).
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60
# Many addresses together (a botnet) meet a ceiling per customer, the limit NIST
# SP 800-63B (§5.2.2) sets on failed attempts on one account. Reaching it takes
# twenty addresses each at its own limit; then everyone is refused, the
# customer too, until the window passes.
MAX_FAILURES_PER_CUSTOMER = 100
# IPv6 hands one subscriber a /64: counting each address of it apart would
# give a single guesser 2**64 fresh starts.
IPV6_PREFIX = 64


async def password_sign_in(request: Request, graph: Graph) -> str | None:
    """The customer id if the posted sign-in form is right, else None."""
    if request.method != "POST":
        return None
    graph = graph.granted(SIGN_IN_READS, "password_sign_in")
    form = await request.form()
    if form.get("action") != "sign_in":
        return None
    customer = form.get("customer")
    password = form.get("password")
    if not isinstance(customer, str) or not isinstance(password, str) or not customer:
        return None
    customer = customer.strip()
    # The key is the validated settings' (the OAuth service holds them), never a fallback.
    settings: Settings = request.app.state.oauth.settings
    key = settings.pii_secret()
    if "@" in customer:
        # Unknown emails fall through to the same slow check and the same
        # refusal as a wrong password, so the form does not tell who exists.
        customer = await customer_by_email(graph, customer, key) or customer
    source = source_key(request, key)
    # Counted as a failure before the slow check (so a burst of guesses cannot
    # all slip under the limit), given back if it succeeds.
    stored = await reserve_sign_in_attempt(
        graph,
        customer,
        source,
        int(time.time()),
        window=FAILURE_WINDOW,
        max_from_source=MAX_FAILURES,
        max_total=MAX_FAILURES_PER_CUSTOMER,
    )
    # Always one Argon2 verification, against a dummy hash when there is no
    # password to check (unknown customer, or a limit reached): a refusal takes
    # as long as a wrong password, whatever its reason. Argon2 is deliberately
    # slow and memory-hungry: keep it off the event loop.
    ok = await anyio.to_thread.run_sync(verify_password, stored, password)
    if not ok:
        return None
    await sign_in_succeeded(graph, customer, source)
    return customer


def source_key(request: Request, key: str) -> str:
    """Where the attempt comes from, as a keyed hash: addresses are personal data.

    The client address is the one uvicorn saw, or took from the proxy's
    forwarded header when it trusts the proxy (docs/oauth.md, "Behind a proxy").
    """
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if address.version == 6:
            host = str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return hmac.new(key.encode(), f"sign-in source {host}".encode(), hashlib.sha256).hexdigest()


class SignInPluginFailed(Exception):
    """A sign-in plugin raised; logged with its name, shown to the customer as our fault."""

    def __init__(self, plugin: str) -> None:
        super().__init__(f"sign-in plugin {plugin!r} failed")
        self.plugin = plugin


def from_hook(
    hook: HookCaller, graphs: PluginGraphs | None = None
) -> Callable[[Request, Graph], Awaitable[str | None]]:
    """Ask the plugins' ``authenticate_customer`` implementations in turn.

    pluggy's ``firstresult`` stops at the first result that is not None, and an
    ``async def`` implementation's coroutine is never None: a single sign-on
    plugin that answers None would silently hide the password fallback. So the
    host walks the implementations itself, in pluggy's call order, awaits each
    answer, and stops at the first customer id.

    A plugin that raises is logged by name, with its traceback, and the sign-in
    fails with :class:`SignInPluginFailed`; the graph being down
    (GraphUnavailable) is not the plugin's fault and passes through as it is.
    """

    async def authenticate(request: Request, graph: Graph) -> str | None:
        arguments: dict[str, object] = {"request": request, "graph": graph}
        if graphs is not None:
            arguments["graph"] = graphs.per_plugin(graph)
        # get_hookimpls() lists the order of registration with tryfirst last;
        # pluggy calls from the end. Wrappers do not answer the question.
        for impl in reversed(hook.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                result = impl.function(**arguments_for(impl, arguments))
                if isawaitable(result):
                    result = await result
            except GraphUnavailable:
                raise
            except Exception as exc:
                log.exception("sign-in plugin %r failed in authenticate_customer", impl.plugin_name)
                raise SignInPluginFailed(impl.plugin_name) from exc
            if isinstance(result, str) and result:
                return result
        return None

    return authenticate
