"""``/oauth/authorize``: sign the customer in, ask for consent, send the client a code.

GET shows the sign-in page (or, for a signed-in customer, the consent page);
POST handles either form. The authorization request is validated first, on
every step: a bad client or redirect URI is shown to the customer and never
redirected to. Every POST must carry the form's CSRF token, whatever its
action (sign in, approve, deny); without it nothing happens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.oauth.cookies import BrowserCookies
from gateway.oauth.login import SignInPluginFailed
from gateway.oauth.pages import (
    SECURITY_HEADERS,
    consent_page,
    error_response,
    failure_response,
    html,
    sign_in_page,
)
from gateway.oauth.scopes import parse
from gateway.oauth.server import AuthorizationServer, HttpRequest, Subject
from gateway.oauth.service import service_of
from graph import GraphUnavailable
from graph.oauth import merge_grant

NO_MATCH = "That customer number and password do not match."


async def authorize(request: Request) -> Response:
    try:
        return await _authorize(request)
    except GraphUnavailable:
        # Neither a crash nor the client's fault: tell the customer to retry.
        return failure_response(
            "Sign-in is unavailable for a moment. Please try again shortly.", status=503
        )
    except SignInPluginFailed:
        # Logged, naming the plugin, where it was raised; the customer sees no detail.
        return failure_response("Something went wrong on our side. Please try again later.")


async def _authorize(request: Request) -> Response:
    service, server = service_of(request)
    # The authorization request travels in the query string on every step; the
    # forms' own fields (csrf, action, ticked scopes) are read separately.
    http = HttpRequest.read_query(request)
    try:
        grant = await server.run(server.get_consent_grant, http, None)
    except OAuth2Error as error:
        if error.redirect_uri:
            # The client and its redirect URI are known good: tell the client.
            return await server.run(server.handle_error_response, None, error)
        # Never redirect to an unverified URI: show the customer the problem.
        return error_response(error.error, error.get_error_description() or "")
    client = grant.request.client
    # A service-only scope is never a customer's to approve (ScopeSpec.service_only).
    requested = service.catalogue.for_customers(parse(grant.request.scope))
    cookies = service.cookies
    customer = cookies.session_customer(request)

    if request.method == "POST":
        form = await request.form()
        if not cookies.csrf_ok(request, form.get("csrf_token")):
            return error_response(
                "invalid_request", "This form expired or was not sent by this site. Start again."
            )
        action = form.get("action")
        if action == "sign_in":
            signed_in = await service.authenticate_customer(request, request.app.state.graph)
            if signed_in is None:
                typed = form.get("customer")
                return _form_page(
                    cookies,
                    request,
                    lambda csrf: sign_in_page(
                        client.record.name,
                        csrf,
                        NO_MATCH,
                        typed if isinstance(typed, str) else "",
                    ),
                    status=401,
                )
            # Back to the same authorization request, as a relative URL: the
            # Host header never decides where a signed-in customer is sent.
            back = f"{request.url.path}?{request.url.query}"
            response = RedirectResponse(back, status_code=303)
            cookies.set_session(response, signed_in)
            return response
        if customer is None:
            return _form_page(
                cookies, request, lambda csrf: sign_in_page(client.record.name, csrf), status=401
            )
        if action == "deny":
            return await server.run(
                server.create_authorization_response, grant.request, None, grant
            )
        if action == "approve":
            ticked = {s for s in form.getlist("grant_scope") if isinstance(s, str)}
            approved = [s for s in requested if s in ticked]
            if not approved:
                return await server.run(
                    server.create_authorization_response, grant.request, None, grant
                )
            return await _issue_code(server, grant, customer, approved)
        return error_response("invalid_request", "Unknown action.")

    if customer is None:
        # A retailer's single sign-on may recognise the customer without a form.
        customer = await service.authenticate_customer(request, request.app.state.graph)
    if customer is None:
        return _form_page(cookies, request, lambda csrf: sign_in_page(client.record.name, csrf))
    if client.trusted:
        return await _issue_code(server, grant, customer, requested)
    descriptions = {name: service.catalogue[name].description for name in requested}
    return _form_page(
        cookies,
        request,
        lambda csrf: consent_page(client.record.name, customer, requested, descriptions, csrf),
    )


def _form_page(
    cookies: BrowserCookies, request: Request, page: Callable[[str], str], status: int = 200
) -> HTMLResponse:
    """A page with a form: rendered with this browser's CSRF token."""
    token, fresh_nonce = cookies.csrf(request)
    response = html(page(token), status)
    if fresh_nonce:
        cookies.set_csrf_nonce(response, fresh_nonce)
    return response


async def _issue_code(
    server: AuthorizationServer, grant: Any, customer_id: str, scopes: list[str]
) -> Response:
    """Record the customer's grant and redirect to the client with a code."""
    client = grant.request.client
    await merge_grant(server.graph, customer_id, client.client_id, scopes, int(time.time()))
    subject = Subject(customer_id, uuid.uuid4().hex, new_family=True, approved=tuple(scopes))
    response: Response = await server.run(
        server.create_authorization_response, grant.request, subject, grant
    )
    response.headers.update(SECURITY_HEADERS)
    return response
