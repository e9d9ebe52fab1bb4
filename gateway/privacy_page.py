"""The customer's own privacy page, ``/privacy``: server-rendered, signed in, CSRF-protected.

It shows what tightrope holds about the signed-in customer and lets them act
on it, with plain HTML forms that work without JavaScript (the OAuth pages'
templates, autoescaping, security headers and signed double-submit CSRF):
consents per purpose, the apps they authorised (revoke), the access log, what
data is held and what used it, a JSON download of everything, and deleting
the account after a confirmation step.

Sign-in is the same as on the OAuth pages (the ``authenticate_customer``
hook: passwords by default). The cookie holds a signed random token; the
graph keeps only its hash as a ``PageSession`` (graph/oauth/page_sessions.py),
so signing out or erasing the customer ends the session at once, whatever
the cookie says. Cookies and form tokens of this page are scoped to
``/privacy`` and salted apart from the OAuth pages'.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.gate import RequestGate
from gateway.gpc import SOURCE as GPC_SOURCE
from gateway.gpc import honour_gpc, sends_gpc
from gateway.oauth.cookies import SESSION_TTL, BrowserCookies
from gateway.oauth.pages import SECURITY_HEADERS, html, render
from gateway.oauth.service import OAuthService
from gateway.principal import ClientKind, Principal
from gateway.rights import CustomerRights, ErasureRefused
from graph import (
    PURPOSES,
    Graph,
    GraphUnavailable,
    access_log_page,
    category_use,
    consents_of_customers,
    data_held,
    list_grants,
    revoke_grant,
)
from graph.oauth import end_page_session, page_session_customer, start_page_session

PATH = "/privacy"
NO_MATCH = "That email or customer number and password do not match."
EXPIRED = "This form expired or was not sent by this site. Please try again."

# What each purpose means, in the words the page uses.
EXPLANATIONS = {
    "personalisation": "Use what you view and buy to recommend products to you.",
    "cross_device": "Recognise your phone, tablet and computer as yours, to continue "
    "where you left off.",
    "analytics": "Count what you do, with everyone else's, to improve the shop.",
    "third_party_sharing": "Let apps of other companies that you authorise read your data.",
    "marketing": "Send you offers based on what you like.",
}
CATEGORY_NAMES = {
    "profile": "your account",
    "contact": "your contact details",
    "purchase_history": "your purchases",
    "browsing_history": "what you viewed and put in your basket",
    "device": "your devices",
    "derived_preferences": "the brands and categories you seem to like",
}


def _cookies(request: Request) -> BrowserCookies:
    service: OAuthService = request.app.state.oauth
    cached: BrowserCookies | None = getattr(request.app.state, "privacy_cookies", None)
    if cached is None:
        cached = BrowserCookies(
            service.keys.cookie_key(), service.cookies.secure, path=PATH, pages="privacy"
        )
        request.app.state.privacy_cookies = cached
    return cached


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _signed_in(request: Request, graph: Graph) -> tuple[str, str] | None:
    """(customer id, session hash) of this browser's live page session, if any."""
    token = _cookies(request).session_customer(request)
    if token is None:
        return None
    session = _hash(token)
    customer = await page_session_customer(graph, session, int(time.time()))
    return (customer, session) if customer else None


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    cookies = _cookies(request)
    token, fresh = cookies.csrf(request)
    response = html(render(template, csrf_token=token, **context), status)
    if fresh:
        cookies.set_csrf_nonce(response, fresh)
    return response


def _back() -> Response:
    return RedirectResponse(PATH, status_code=303, headers=SECURITY_HEADERS)


async def privacy(request: Request) -> Response:
    try:
        return await _privacy(request)
    except GraphUnavailable:
        return html(
            render(
                "error.html",
                heading="Your privacy page is not available right now",
                error=None,
                description="Please try again shortly.",
                request_id=None,
            ),
            503,
        )


async def _privacy(request: Request) -> Response:
    graph: Graph = request.app.state.graph
    session = await _signed_in(request, graph)
    if session is not None and sends_gpc(request):
        version = policy_version(request.app.state.assembly.plugin_settings)
        await honour_gpc(_gate(request, graph, session[0]), version)
    if request.method == "GET":
        if session is None:
            return _page(request, "privacy_sign_in.html", error=None, customer="")
        return await _dashboard(request, graph, session[0])

    form = await request.form()
    if not _cookies(request).csrf_ok(request, form.get("csrf_token")):
        return _page(request, "privacy_sign_in.html", 403, error=EXPIRED, customer="")
    action = form.get("action")
    if action == "sign_in":
        return await _sign_in(request, graph, form.get("customer"))
    if session is None:
        return _page(request, "privacy_sign_in.html", 401, error=None, customer="")
    customer, session_hash = session
    if action == "sign_out":
        await end_page_session(graph, session_hash)
        response = _back()
        _cookies(request).clear_session(response)
        return response
    if action == "consent":
        purpose, granted = form.get("purpose"), form.get("granted")
        if purpose not in PURPOSES or granted not in ("yes", "no"):
            return await _dashboard(request, graph, customer, "Unknown choice.", 400)
        await _set_consent(request, graph, customer, str(purpose), granted == "yes")
        return _back()
    if action == "revoke":
        client_id = form.get("client_id")
        if isinstance(client_id, str) and 0 < len(client_id) <= 200:
            await revoke_grant(graph, customer, client_id, int(time.time()))
        return _back()
    rights: CustomerRights = request.app.state.assembly.rights
    if action == "delete":
        asked, _ = rights.confirmation(customer)
        return _page(request, "privacy_delete.html", customer_id=customer, confirmation=asked)
    if action == "delete_confirmed":
        sent = form.get("confirmation")
        if not isinstance(sent, str) or not rights.confirmed(customer, sent):
            return await _dashboard(
                request, graph, customer, "That confirmation expired. Please ask again.", 400
            )
        try:
            await rights.erase(graph, customer)
        except ErasureRefused as exc:
            return await _dashboard(request, graph, customer, str(exc), 409)
        response = html(render("privacy_deleted.html"))
        _cookies(request).clear_session(response)
        return response
    return await _dashboard(request, graph, customer, "Unknown action.", 400)


async def _sign_in(request: Request, graph: Graph, typed: object) -> Response:
    service: OAuthService = request.app.state.oauth
    customer = await service.authenticate_customer(request, graph)
    if customer is None:
        shown = typed if isinstance(typed, str) else ""
        return _page(request, "privacy_sign_in.html", 401, error=NO_MATCH, customer=shown)
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    await start_page_session(graph, _hash(token), customer, now, now + SESSION_TTL)
    response = _back()
    _cookies(request).set_session(response, token)
    return response


async def _set_consent(
    request: Request, graph: Graph, customer: str, purpose: str, granted: bool
) -> None:
    # Through the gate, as setConsent does: the history, and (for a withdrawal)
    # every plugin drops what it derived for the purpose.
    gate = _gate(request, graph, customer)
    version = policy_version(request.app.state.assembly.plugin_settings)
    await gate.set_consent(purpose, granted, source="page", version=version)


def _gate(request: Request, graph: Graph, customer: str) -> RequestGate:
    principal = Principal("privacy-page", ClientKind.FIRST_PARTY, customer, frozenset())
    gate: RequestGate = request.app.state.assembly.gate.for_request(principal, graph)
    return gate


def policy_version(plugin_settings: Mapping[type, object]) -> str:
    """The policy version in force: the consent plugin's setting. The host knows no
    plugin by name, so it asks whichever settings declare one."""
    return next(
        (
            str(value)
            for settings in plugin_settings.values()
            if (value := getattr(settings, "policy_version", None))
        ),
        "1",
    )


async def _dashboard(
    request: Request, graph: Graph, customer: str, error: str | None = None, status: int = 200
) -> Response:
    consents = (await consents_of_customers(graph, [customer]))[0]
    held = await data_held(graph, customer) or {}
    uses = await category_use(graph, customer)
    log = await access_log_page(graph, customer, 20, None, None)
    apps = await list_grants(graph, customer)
    purposes = [
        {
            "name": p,
            "explanation": EXPLANATIONS.get(p, p),
            "granted": bool(consents[p].granted) if p in consents else None,
            "by_browser": p in consents and consents[p].source == GPC_SOURCE,
        }
        for p in PURPOSES
    ]
    data = [
        {"name": CATEGORY_NAMES.get(c, c), "count": h.count, "newest": h.newest}
        for c, h in sorted(held.items())
        if h.count
    ]
    helped = [
        {
            "what": CATEGORY_NAMES.get(u.category, u.category),
            "plugin": u.plugin,
            "purpose": u.purpose,
            "at": u.last_used_at,
        }
        for u in uses
    ]
    return _page(
        request,
        "privacy.html",
        status,
        customer_id=customer,
        error=error,
        purposes=purposes,
        apps=apps,
        data=data,
        helped=helped,
        log=log,
        log_days=request.app.state.settings.retention_access_log_days,
    )


async def export_download(request: Request) -> Response:
    graph: Graph = request.app.state.graph
    session = await _signed_in(request, graph)
    if session is None:
        return _back()
    rights: CustomerRights = request.app.state.assembly.rights
    document = await rights.export(graph, session[0])
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="my-data-{stamp}.json"',
        },
    )


def privacy_routes() -> list[Route]:
    return [
        Route(PATH, privacy, methods=["GET", "POST"]),
        Route(f"{PATH}/export.json", export_download, methods=["GET"]),
    ]
