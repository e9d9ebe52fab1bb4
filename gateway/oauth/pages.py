"""The customer-facing pages of the authorization server: sign-in, consent, errors.

Plain HTML forms that work without JavaScript, rendered from the Jinja2
templates in ``templates/`` with autoescaping on: a client's name, a scope's
description or what a customer typed is always shown as text. Both forms post
back to the URL they were served from, so the authorization request rides
along in the query string and is validated again on every step.

Every page may not be framed (a consent click cannot be hijacked) and is
never cached. Forms carry the CSRF token of :mod:`gateway.oauth.cookies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from gateway.web.requestid import current_request_id

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

# Autoescape every template whatever its name, and fail on a misspelt variable
# rather than render it as nothing.
_templates = Environment(
    loader=PackageLoader("gateway.oauth", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context: Any) -> str:
    return _templates.get_template(template).render(**context)


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


@dataclass(frozen=True)
class ScopeLine:
    name: str
    description: str


def sign_in_page(
    client_name: str, csrf_token: str, error: str | None = None, customer: str = ""
) -> str:
    return render(
        "sign_in.html",
        client_name=client_name,
        csrf_token=csrf_token,
        error=error,
        customer=customer,
    )


def consent_page(
    client_name: str,
    customer_id: str,
    scopes: Iterable[str],
    descriptions: Mapping[str, str],
    csrf_token: str,
) -> str:
    return render(
        "consent.html",
        client_name=client_name,
        customer_id=customer_id,
        scopes=[ScopeLine(s, descriptions.get(s, s)) for s in scopes],
        csrf_token=csrf_token,
    )


def error_response(error: str, description: str, status: int = 400) -> HTMLResponse:
    """The client's request cannot be accepted: say so to the customer, never redirect."""
    body = render(
        "error.html",
        heading="This sign-in link does not work",
        error=error,
        description=description,
        request_id=None,
    )
    return html(body, status)


def failure_response(description: str, status: int = 500) -> HTMLResponse:
    """Our side failed: a page that says so, with the request id for support, and no detail."""
    body = render(
        "error.html",
        heading="Sign-in is not working right now",
        error=None,
        description=description,
        request_id=current_request_id(),
    )
    return html(body, status)
