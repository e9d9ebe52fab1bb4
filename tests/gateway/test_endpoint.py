"""/graphql answers a JSON POST, a GET and a malformed request as a GraphQL client expects."""

from __future__ import annotations

import pytest

from graph import Graph
from tests.gateway.conftest import Serve


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Unable to parse request body as JSON"),
        (b'[{"query": "{ __typename }"}]', "Batching is not enabled"),
        (b"42", "must be a JSON object"),
        (b'{"query": 7}', "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": [1]}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "operationName": 3}', "`operationName` must be a string"),
        (b'{"variables": {}}', "No GraphQL query found"),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_400_with_the_reason(
    graph: Graph, served: Serve, body: bytes, reason: str
) -> None:
    async with served() as (_, client):
        answer = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 400
    assert reason in answer.text


async def test_a_json_post_with_a_charset_is_served(graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        answer = await client.post(
            "/graphql",
            content=b'{"query": "query Q { __typename }", "operationName": "Q"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_queries_by_get_are_answered_and_mutations_by_get_refused(
    graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        query = await client.get("/graphql", params={"query": "{ __typename }"})
        mutation = await client.get(
            "/graphql", params={"query": "mutation { trackEvents(events: []) { accepted } }"}
        )
    assert query.json() == {"data": {"__typename": "Query"}}
    assert mutation.status_code == 400


async def test_another_content_type_is_refused(graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        answer = await client.post(
            "/graphql", content=b"{ __typename }", headers={"Content-Type": "text/plain"}
        )
    assert answer.status_code == 400
