"""One error type per GraphQL error code, and the extension that labels every error.

Resolvers and plugins raise the types below; :func:`label_errors` runs once per
operation and gives every error in the response an ``extensions.code``. Anything
that is not one of ours (a bug, a Cypher error, a driver error we did not expect)
becomes ``INTERNAL`` with a fixed message: its text and trace are logged here and
never leave the server. An ``INTERNAL`` error names the request id
(``extensions.requestId``, gateway/web/requestid.py), which the log line carries too.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, ClassVar

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from gateway.web.requestid import current_request_id
from graph import GraphUnavailable

log = logging.getLogger("tightrope.errors")


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class GatewayError(Exception):
    """An error a client may see: its message and extensions are sent as they are."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class Unauthenticated(GatewayError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(GatewayError):
    code = ErrorCode.FORBIDDEN


class ConsentRequired(GatewayError):
    code = ErrorCode.CONSENT_REQUIRED


class BadUserInput(GatewayError):
    code = ErrorCode.BAD_USER_INPUT


class NotFound(GatewayError):
    code = ErrorCode.NOT_FOUND


class RateLimited(GatewayError):
    code = ErrorCode.RATE_LIMITED


class QueryTooComplex(GatewayError):
    code = ErrorCode.QUERY_TOO_COMPLEX


class Unavailable(GatewayError):
    code = ErrorCode.UNAVAILABLE


class Internal(GatewayError):
    code = ErrorCode.INTERNAL


INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "The graph is unavailable; try again shortly."

# What the query guards say when they refuse a document (strawberry and
# graphql-core raise plain GraphQLErrors, so the message is all we have).
_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found. Allowed:",
    "tokens. Parsing aborted",
)


def to_graphql_error(exc: GatewayError, path: list[str | int] | None = None) -> GraphQLError:
    """A GraphQL error carrying ``exc``'s code; used for errors added beside a result."""
    return GraphQLError(
        exc.message, path=path, extensions={**exc.extensions, "code": exc.code.value}
    )


def classify(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: labelled with a code, internals masked."""
    original = error.original_error
    code: ErrorCode
    message = error.message
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, GatewayError):
        code, message = original.code, original.message
        extensions.update(original.extensions)
    elif isinstance(original, GraphUnavailable):
        code, message = ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE
    elif original is not None and not isinstance(original, GraphQLError):
        log.error(
            "internal error at %s (request %s)", error.path, current_request_id(), exc_info=original
        )
        code, message, extensions = ErrorCode.INTERNAL, INTERNAL_MESSAGE, {}
    elif "code" in extensions:
        return error
    elif any(marker in message for marker in _TOO_COMPLEX_MARKERS):
        code = ErrorCode.QUERY_TOO_COMPLEX
    elif error.path is None:
        # Syntax and validation errors: the document or its variables are wrong.
        code = ErrorCode.BAD_USER_INPUT
    else:
        # A GraphQLError raised during execution without a code is not one we meant.
        log.error("uncoded error at %s (request %s): %s", error.path, current_request_id(), message)
        code, message, extensions = ErrorCode.INTERNAL, INTERNAL_MESSAGE, {}
    extensions["code"] = code.value
    request_id = current_request_id()
    if code is ErrorCode.INTERNAL and request_id is not None:
        extensions["requestId"] = request_id
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def label_errors(context: ExecutionContext) -> None:
    """Label and mask every error of an operation; add errors resolvers reported beside data.

    Run once the operation is over (gateway/graphql/after_operation.py).
    """
    result = context.result
    if result is None:
        return
    errors = list(result.errors or [])
    reported = getattr(context.context, "reported_errors", None)
    if reported:
        errors.extend(reported)
    if errors:
        result.errors = [classify(error) for error in errors]
