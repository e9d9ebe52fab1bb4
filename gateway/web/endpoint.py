"""``/graphql``: a short path for the request every frontend sends, strawberry's view for the rest.

Nearly every request is a POST of a JSON object ``{query, variables,
operationName}``. strawberry's HTTP view serves it through request and response
adapters built for every framework, sub-responses and streaming checks: about a
seventh of the gateway's CPU for ``{ __typename }`` (docs/performance.md). This
endpoint parses such a POST itself (orjson), runs the same schema with the same
context, and answers as the view would: the same JSON, the same 400s for a body
that is not a GraphQL request. Everything else (GET, GraphiQL, other content
types) goes to strawberry's view unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway.context import Context
from gateway.errors import GatewayError, to_graphql_error
from gateway.graphql.operations import resolve_text
from gateway.graphql.prepared import PreparedOperations

# A POST may carry queries and mutations (subscriptions are not served).
POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class BadRequest(Exception):
    """The body is not a GraphQL request; the message says why (answered with 400)."""


class GraphQLEndpoint:
    """The ASGI app at ``/graphql``."""

    def __init__(
        self, view: GraphQL[Context, None], prepared: PreparedOperations | None = None
    ) -> None:
        self.view = view
        self.schema = view.schema
        # A query seen before runs from its plan (gateway/graphql/prepared/).
        self.prepared = prepared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            await self.view(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except BadRequest as exc:
            response = PlainTextResponse(str(exc), status_code=400)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        query, variables, operation_name, extensions = _operation(await request.body())
        context = await self.view.get_context(request, response=None)  # type: ignore[arg-type]
        try:
            # A persisted query may name its text by hash (gateway/graphql/operations.py).
            query = resolve_text(query, extensions, context.operations)
        except GatewayError as exc:
            return _refusal(exc)
        found = self.prepared.find(query, operation_name) if self.prepared else None
        if found is not None:
            assert self.prepared is not None and query is not None
            known, plan = found
            result = await self.prepared.answer(
                known, plan, query, context, variables, operation_name, extensions
            )
            return _json(result)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except MissingQueryError as exc:
            raise BadRequest("No GraphQL query found in the request") from exc
        except InvalidOperationTypeError as exc:
            raise BadRequest(exc.as_http_error_reason("POST")) from exc
        except CannotGetOperationTypeError as exc:
            raise BadRequest(exc.as_http_error_reason()) from exc
        shadow = self.prepared.shadow if self.prepared is not None else None
        if shadow is not None and self.prepared is not None and query is not None:
            # The test suite's differential check (gateway/graphql/prepared/store.py).
            args = (query, variables, operation_name, extensions, context, result)
            await shadow(self.prepared, *args)
        return _json(result)


def _json(result: Any) -> Response:
    body = orjson.dumps(process_result(result), default=_unencodable)
    return Response(body, media_type="application/json")


def _refusal(exc: GatewayError) -> Response:
    # Answered before anything ran, as GraphQL answers a document it refuses.
    body = orjson.dumps({"errors": [to_graphql_error(exc).formatted]})
    return Response(body, media_type="application/json")


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json"
    return False


def _operation(
    body: bytes,
) -> tuple[str | None, dict[str, Any] | None, str | None, dict[str, Any] | None]:
    """query, variables, operationName and extensions of a JSON body, checked as strawberry does."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Unable to parse request body as JSON") from exc
    if isinstance(data, list):
        raise BadRequest("Batching is not enabled")
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if not isinstance(query, str | None):
        raise BadRequest("The GraphQL operation's `query` must be a string or null, if provided.")
    if not isinstance(variables, dict | None):
        raise BadRequest(
            "The GraphQL operation's `variables` must be an object or null, if provided."
        )
    if not isinstance(extensions, dict | None):
        raise BadRequest(
            "The GraphQL operation's `extensions` must be an object or null, if provided."
        )
    if not isinstance(operation_name, str | None):
        raise BadRequest("The GraphQL operation's `operationName` must be a string or null.")
    return query, variables, operation_name, extensions


def _unencodable(value: object) -> Any:
    # Error extensions are ours and plain; anything else is a bug to see, not to hide.
    if isinstance(value, GraphQLError):
        return value.formatted
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
