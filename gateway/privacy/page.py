"""The customer's own privacy page, ``/privacy``: server-rendered, signed in, CSRF-protected.

It shows what tightrope holds about the signed-in customer and lets them act
on it, with plain HTML forms that work without JavaScript (the OAuth pages'
templates, autoescaping, security headers and signed double-submit CSRF):
consents per purpose, the apps they authorised (revoke), devices suggested as
theirs (confirm or reject), the access log, what data is held and what used
it, a JSON download of everything, and deleting the account after a
confirmation step.

The page is a client of the gate like any other: everything it shows or
changes is a GraphQL operation on the app's own schema (``me { consents ...}``,
``setConsent``, ``revokeApp``, ``exportMyData``, ``forgetMe``), run in process
as the client ``privacy-page`` for the signed-in customer with the scopes of
those fields. So its reads pass the same scopes, row rules and consent
policies as any client's and are written to the customer's access log; a
consent changed here is recorded with source ``page`` and the policy version
the consent plugin passes. The privacy plugin serves the page
(``register_routes``): disable it and ``/privacy`` is gone; a section whose
plugin is disabled (consents, apps) is left out.

Sign-in is the same as on the OAuth pages (the ``authenticate_customer``
hook: passwords by default). The cookie holds a signed random token; the
graph keeps only its hash as a ``PageSession`` (graph/oauth/page_sessions.py),
so signing out or erasing the customer ends the session at once, whatever
the cookie says. Cookies and form tokens of this page are scoped to
``/privacy`` and salted apart from the OAuth pages'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from strawberry import Schema

from gateway.errors import ErrorCode
from gateway.fields import FieldRegistry
from gateway.gate.gpc import SOURCE as GPC_SOURCE
from gateway.oauth.cookies import BrowserCookies
from gateway.oauth.pages import SECURITY_HEADERS, html, render
from gateway.oauth.service import OAuthService
from gateway.principal import ClientKind, Principal
from graph import PURPOSES, Graph, GraphUnavailable
from graph.oauth import end_page_session

PATH = "/privacy"
# The page's client, as the access log names it: the shop's own, first party.
PAGE_CLIENT = "privacy-page"
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


async def _signed_in(request: Request, graph: Graph) -> tuple[str, str] | None:
    """(customer id, session hash) of this browser's live page session, if any."""
    return await _cookies(request).signed_in(request, graph)


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
    if request.method == "GET":
        if session is None:
            return _page(request, "privacy_sign_in.html", error=None, customer="")
        return await _dashboard(request, _Gate(request, graph, session[0]))

    form = await request.form()
    if not _cookies(request).csrf_ok(request, form.get("csrf_token")):
        return _page(request, "privacy_sign_in.html", 403, error=EXPIRED, customer="")
    action = form.get("action")
    if action == "sign_in":
        return await _sign_in(request, graph, form.get("customer"))
    if session is None:
        return _page(request, "privacy_sign_in.html", 401, error=None, customer="")
    customer, session_hash = session
    gate = _Gate(request, graph, customer)
    if action == "sign_out":
        await end_page_session(graph, session_hash)
        response = _back()
        _cookies(request).clear_session(response)
        return response
    if action == "consent":
        purpose, granted = form.get("purpose"), form.get("granted")
        if purpose not in PURPOSES or granted not in ("yes", "no"):
            return await _dashboard(request, gate, "Unknown choice.", 400)
        await gate.ask(SET_CONSENT, {"purpose": purpose, "granted": granted == "yes"})
        return _back()
    if action == "revoke":
        client_id = form.get("client_id")
        if isinstance(client_id, str) and 0 < len(client_id) <= 200:
            await gate.ask(REVOKE_APP, {"client": client_id})
        return _back()
    if action in DEVICE_ANSWERS:
        device_id = form.get("device_id")
        if isinstance(device_id, str) and 0 < len(device_id) <= 200:
            await gate.ask(DEVICE_ANSWERS[str(action)], {"id": device_id})
        return _back()
    if action == "delete":
        code = (await gate.ask(ASK_TO_FORGET)).field("forgetMe").get("confirmation")
        return _page(request, "privacy_delete.html", customer_id=customer, confirmation=code)
    if action == "delete_confirmed":
        sent = form.get("confirmation")
        erased = False
        if isinstance(sent, str) and 0 < len(sent) <= 200:
            forgotten = (await gate.ask(FORGET, {"confirmation": sent})).field("forgetMe")
            erased = forgotten.get("erased") is True
        if not erased:
            return await _dashboard(
                request, gate, "That confirmation expired. Please ask again.", 400
            )
        response = html(render("privacy_deleted.html"))
        _cookies(request).clear_session(response)
        return response
    return await _dashboard(request, gate, "Unknown action.", 400)


async def _sign_in(request: Request, graph: Graph, typed: object) -> Response:
    service: OAuthService = request.app.state.oauth
    customer = await service.authenticate_customer(request, graph)
    if customer is None:
        shown = typed if isinstance(typed, str) else ""
        return _page(request, "privacy_sign_in.html", 401, error=NO_MATCH, customer=shown)
    response = _back()
    await _cookies(request).start_session(response, graph, customer)
    return response


# What the page shows and does, as operations on the app's own schema. The
# dashboard's is assembled from the sections whose fields are served.
SECTIONS = {
    "consents": "consents { purpose granted answered source }",
    "authorisedApps": "authorisedApps { client clientName scopes }",
    "dataAboutMe": "dataAboutMe { category count newest usedBy { plugin purpose lastUsedAt } }",
    "accessLog": "accessLog(first: 20) { nodes { at client { id name } purpose categories } }",
    # Refused without cross_device consent: then the section is not shown.
    "suggestedDevices": "suggestedDevices { id description evidence }",
}
SET_CONSENT = (
    "mutation SetConsent($purpose: String!, $granted: Boolean!) "
    "{ setConsent(purpose: $purpose, granted: $granted) { purpose } }"
)
REVOKE_APP = "mutation RevokeApp($client: ID!) { revokeApp(clientId: $client) }"
# The answers to a suggested device, by the form's action.
DEVICE_ANSWERS = {
    "confirm_device": "mutation ConfirmDevice($id: ID!) { confirmDevice(id: $id) { id } }",
    "reject_device": "mutation RejectDevice($id: ID!) { rejectDevice(id: $id) { id } }",
}
ASK_TO_FORGET = "mutation AskToForget { forgetMe { confirmation } }"
FORGET = (
    "mutation Forget($confirmation: String!) { forgetMe(confirmation: $confirmation) { erased } }"
)
EXPORT = "query Export { exportMyData }"
# The fields the page's operations touch: its client holds exactly their scopes.
PAGE_FIELDS = (
    *(("Customer", name) for name in SECTIONS),
    ("Query", "me"),
    ("Query", "exportMyData"),
    ("Mutation", "setConsent"),
    ("Mutation", "revokeApp"),
    ("Mutation", "forgetMe"),
    ("Mutation", "confirmDevice"),
    ("Mutation", "rejectDevice"),
)


def page_scopes(registry: FieldRegistry) -> frozenset[str]:
    """The scopes of the fields the page uses (those that are served)."""
    return frozenset(
        scope
        for type_name, name in PAGE_FIELDS
        if (spec := registry.get(type_name, name)) is not None
        for scope in spec.scopes
    )


@dataclass(frozen=True)
class _Answer:
    data: dict[str, Any] | None
    codes: list[str]

    def field(self, name: str) -> dict[str, Any]:
        """A root field's answer; empty when it was refused or failed."""
        value = (self.data or {}).get(name)
        return value if isinstance(value, dict) else {}


class Served(Protocol):
    """What the page runs its operations on: the app's assembly (``app.state.assembly``)."""

    @property
    def registry(self) -> FieldRegistry: ...

    @property
    def schema(self) -> Schema: ...

    async def open(
        self, principal: Principal, graph: Graph, request: Request | None = None, *, source: str
    ) -> Any: ...


class _Gate:
    """The page's way in: the signed-in customer's operations, through the app's gate."""

    def __init__(self, request: Request, graph: Graph, customer: str) -> None:
        self.request = request
        self.graph = graph
        self.customer = customer
        self.assembly: Served = request.app.state.assembly

    def serves(self, type_name: str, name: str) -> bool:
        return self.assembly.registry.get(type_name, name) is not None

    async def ask(self, document: str, variables: dict[str, Any] | None = None) -> _Answer:
        """Run one operation as ``privacy-page`` for the customer; GraphUnavailable if the
        graph is down (the page says so), the codes of any other errors."""
        assembly = self.assembly
        principal = Principal(
            PAGE_CLIENT, ClientKind.FIRST_PARTY, self.customer, page_scopes(assembly.registry)
        )
        # A browser sending Global Privacy Control has its refusals recorded first.
        context = await assembly.open(principal, self.graph, self.request, source="page")
        result = await assembly.schema.execute(
            document, variable_values=variables, context_value=context
        )
        codes = [str((e.extensions or {}).get("code", "")) for e in result.errors or []]
        if ErrorCode.UNAVAILABLE.value in codes:
            raise GraphUnavailable("the graph did not answer the privacy page")
        return _Answer(result.data, codes)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _dashboard(
    request: Request, gate: _Gate, error: str | None = None, status: int = 200
) -> Response:
    shown = [text for name, text in SECTIONS.items() if gate.serves("Customer", name)]
    answer = await gate.ask(f"query PrivacyPage {{ me {{ id {' '.join(shown)} }} }}")
    me = answer.field("me")
    answers = {c["purpose"]: c for c in me.get("consents") or []}
    purposes = [
        {
            "name": p,
            "explanation": EXPLANATIONS.get(p, p),
            "granted": bool(answers[p]["granted"]) if answers.get(p, {}).get("answered") else None,
            # Refused by the browser's Global Privacy Control (gateway/gate/gpc.py).
            "by_browser": answers.get(p, {}).get("source") == GPC_SOURCE,
        }
        for p in PURPOSES
        if "consents" in me
    ]
    apps = [
        {"client_id": a["client"], "client_name": a["clientName"], "scopes": a["scopes"]}
        for a in me.get("authorisedApps") or []
    ]
    held = me.get("dataAboutMe") or []
    data = [
        {"name": CATEGORY_NAMES.get(h["category"], h["category"]), "count": h["count"],
         "newest": _when(h["newest"])}
        for h in held
        if h["count"]
    ]  # fmt: skip
    helped = [
        {"what": CATEGORY_NAMES.get(h["category"], h["category"]), "plugin": u["plugin"],
         "purpose": u["purpose"], "at": _when(u["lastUsedAt"])}
        for h in held
        for u in h["usedBy"]
        if u["lastUsedAt"]
    ]  # fmt: skip
    log = [
        {
            "at": _when(r["at"]),
            "client_name": "you, on this page"
            if r["client"]["id"] == PAGE_CLIENT
            else r["client"]["name"],
            "client_id": r["client"]["id"],
            "categories": r["categories"],
            "purpose": r["purpose"],
        }
        for r in ((me.get("accessLog") or {}).get("nodes") or [])
    ]
    return _page(
        request,
        "privacy.html",
        status,
        customer_id=gate.customer,
        error=error,
        consents_served="consents" in me,
        apps_served="authorisedApps" in me,
        suggested=me.get("suggestedDevices") or [],
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
    answer = await _Gate(request, graph, session[0]).ask(EXPORT)
    document = (answer.data or {}).get("exportMyData")  # a JSON document, or None
    if document is None:
        return _back()
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="my-data-{stamp}.json"',
        },
    )


def privacy_page_routes() -> list[Route]:
    """The routes of ``/privacy``, for the plugin that serves it (``register_routes``)."""
    return [
        Route(PATH, privacy, methods=["GET", "POST"]),
        Route(f"{PATH}/export.json", export_download, methods=["GET"]),
    ]
