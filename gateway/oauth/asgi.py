"""Bearer tokens are checked before a request reaches the GraphQL view.

A request without a token goes on as anonymous (public fields still answer);
a request with a bad token is refused outright with 401 and a
``WWW-Authenticate: Bearer error="invalid_token"`` header (RFC 6750), because
answering it as anonymous would hide the client's bug. The Principal of a good
token is left in the request's state for ``authenticate(request)``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.oauth.routes import OAuthService
from gateway.oauth.tokens import InvalidToken
from graph import GraphUnavailable


def _refusal(status: int, code: str, message: str, headers: dict[str, str]) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class BearerTokens:
    def __init__(
        self, app: ASGIApp, service: OAuthService, paths: tuple[str, ...] = ("/graphql",)
    ) -> None:
        self.app = app
        self.service = service
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.paths):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = await self.service.resource.authenticate(request, request.app.state.graph)
        except InvalidToken as exc:
            reason = str(exc).replace('"', "'")
            challenge = f'Bearer error="invalid_token", error_description="{reason}"'
            response = _refusal(
                401,
                "UNAUTHENTICATED",
                f"invalid bearer token: {reason}",
                {"WWW-Authenticate": challenge},
            )
            await response(scope, receive, send)
            return
        except GraphUnavailable:
            response = _refusal(503, "UNAVAILABLE", "the graph is unavailable", {})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
