"""Every request gets an id: the caller's ``X-Request-ID`` when it is well formed, else ours.

The id is echoed on every response and kept in a context variable for the
request's duration, so a log line can carry it (:class:`RequestIdLogFilter`)
and a masked ``INTERNAL`` error can name it (gateway/errors.py): an operator
given the id by a client finds the log line with the real error.

An incoming id is taken only if it is short and made of a safe alphabet: it
ends up in logs and headers, where a long or odd value could forge log lines
or bloat every record.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tightrope.requests")

HEADER = "X-Request-ID"
# The code of gateway.errors.ErrorCode.INTERNAL (that module imports this one).
_INTERNAL = {"code": "INTERNAL"}
# Letters, digits and a few separators that UUIDs, ULIDs and trace ids use.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("tightrope_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return request_id.get()


def accept_or_make(incoming: str | None) -> str:
    """The caller's id if it is well formed, else a fresh random one."""
    if incoming is not None and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdLogFilter(logging.Filter):
    """Adds ``record.request_id`` ("-" outside a request) for a format such as
    ``%(request_id)s %(message)s``; attach it to a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class RequestId:
    """Plain ASGI middleware, outside all but the security headers, so that every
    response (a refusal by an inner middleware, a 500) carries the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = accept_or_make(incoming)
        scope.setdefault("state", {})["request_id"] = rid

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here rather than by Starlette's outer error handler so
            # that the 500 names the id too, and the log line carries it.
            log.exception("unhandled error in request %s", rid)
            if started:
                raise
            await _internal_error(rid, send_with_id)
        finally:
            request_id.reset(token)


async def _internal_error(rid: str, send: Send) -> None:
    body = json.dumps(
        {
            "errors": [
                {"message": "Internal server error.", "extensions": _INTERNAL | {"requestId": rid}}
            ]
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
