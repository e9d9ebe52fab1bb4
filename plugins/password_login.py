"""Built-in plugin ``tightrope-password-login``: customers sign in with a password.

The default answer to ``authenticate_customer``. It runs last, so a retailer's
own login or single sign-on plugin is asked first; if that plugin returns
None, the password form still works. Disable this plugin to turn passwords off.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request

from tightrope import DataCategory, Graph, Manifest, Purpose, hookimpl, password_sign_in


@hookimpl(trylast=True)
def authenticate_customer(request: Request, graph: Graph) -> Awaitable[str | None]:
    return password_sign_in(request, graph)


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset({DataCategory.PROFILE, DataCategory.CONTACT}),
        description="Signs customers in on the authorization server with a password.",
    )
