"""/metrics: what an operator scrapes, and who may scrape it."""

from __future__ import annotations

import asyncio
import re

import httpx

from graph import Graph
from tests.gateway.conftest import Serve, authenticate_for_tests, gql, settings_for_tests
from tests.gateway.linking_helpers import (
    TRACK,
    add_customers,
    as_shop_or_customer,
    login,
    track,
)
from tests.gateway.test_consent import FIRST_PARTY
from tests.gateway.test_linking import Gate

PAGE = 'query ProductPage { product(sku: "sku-002") { name brand { name } } }'


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, None when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if labels else None
    for line in text.splitlines():
        if labels:
            assert pattern is not None
            match = re.match(pattern, line)
        else:
            match = re.match(rf"^{re.escape(name)} (\S+)$", line)
        if match:
            return float(match.group(1))
    return None


async def test_metrics_count_operations_errors_plugins_graph_queries_and_statuses(
    demo_graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        for _ in range(2):
            await client.post("/graphql", json={"query": PAGE})
        await client.post("/graphql", json={"query": '{ product(sku: "nope") { name } }'})
        await client.post("/graphql", json={"query": "{ nonsense }"})
        await client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        text = (await client.get("/metrics")).text
    assert sample(text, "tightrope_graphql_request_seconds_count", operation="ProductPage") == 2
    assert sample(text, "tightrope_graphql_request_seconds_count", operation="anonymous") == 2
    assert sample(text, "tightrope_graphql_errors_total", code="NOT_FOUND") == 1
    # The document that does not validate, and the body that is not JSON (a 400).
    assert sample(text, "tightrope_graphql_errors_total", code="BAD_USER_INPUT") == 2
    assert (sample(text, "tightrope_graph_query_seconds_count", kind="read") or 0) >= 1
    assert (sample(text, "tightrope_plugin_seconds_count", plugin="tightrope-catalogue") or 0) >= 2
    assert sample(text, "tightrope_http_responses_total", status="200") == 4
    assert sample(text, "tightrope_http_responses_total", status="400") == 1
    # No personal data was read: nothing waits for the access log.
    assert sample(text, "tightrope_access_log_buffer_depth") == 0


async def test_operation_names_are_a_bounded_label_set(graph: Graph, served: Serve) -> None:
    async with served(settings_for_tests(metrics_max_operations=3)) as (_, client):
        for i in range(20):
            await client.post("/graphql", json={"query": f"query Op{i} {{ __typename }}"})
        text = (await client.get("/metrics")).text
    names = set(re.findall(r'tightrope_graphql_request_seconds_count\{operation="([^"]+)"\}', text))
    assert names == {"Op0", "Op1", "Op2", "other"}
    assert sample(text, "tightrope_graphql_request_seconds_count", operation="other") == 17


async def test_the_access_log_depth_is_read_from_the_function_it_registers(
    graph: Graph, served: Serve
) -> None:
    waiting = [3]
    async with served() as (app, client):
        app.state.metrics.watch_access_log(lambda: waiting[0])
        first = (await client.get("/metrics")).text
        waiting[0] = 7
        second = (await client.get("/metrics")).text
    assert sample(first, "tightrope_access_log_buffer_depth") == 3
    assert sample(second, "tightrope_access_log_buffer_depth") == 7


async def test_the_access_log_buffer_depth_is_the_served_access_logs(
    ana: Graph, served: Serve
) -> None:
    settings = settings_for_tests(access_log_flush_seconds=300)  # nothing written meanwhile
    async with served(settings, authenticate=FIRST_PARTY) as (app, client):
        body = await gql(client, "{ me { createdAt } }")
        waiting = (await client.get("/metrics")).text
        await app.state.access_log.flush()
        written = (await client.get("/metrics")).text
    assert "errors" not in body, body
    assert sample(waiting, "tightrope_access_log_buffer_depth") == 1
    assert sample(written, "tightrope_access_log_buffer_depth") == 0
    assert sample(written, "tightrope_access_log_dropped_total") == 0


async def test_records_the_access_log_gave_up_on_are_counted(ana: Graph, served: Serve) -> None:
    # A buffer of one record: the second read's record pushes the first out.
    settings = settings_for_tests(access_log_flush_seconds=300, access_log_max_pending=1)
    async with served(settings, authenticate=FIRST_PARTY) as (_, client):
        await gql(client, "{ me { createdAt } }")
        await gql(client, '{ me { createdAt } product(sku: "sku-001") { name } }')
        text = (await client.get("/metrics")).text
    assert sample(text, "tightrope_access_log_dropped_total") == 1


async def scrape(app: object, client_ip: str, headers: dict[str, str] | None = None) -> int:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return (await http.get("/metrics", headers=headers or {})).status_code


async def test_metrics_answer_loopback_only_unless_a_token_is_set(
    graph: Graph, served: Serve
) -> None:
    async with served() as (app, _):
        assert await scrape(app, "127.0.0.1") == 200
        assert await scrape(app, "::1") == 200
        assert await scrape(app, "203.0.113.9") == 404
    token = "s3cret-scraper-token"
    async with served(settings_for_tests(metrics_token=token)) as (app, _):
        assert await scrape(app, "203.0.113.9", {"Authorization": f"Bearer {token}"}) == 200
        assert await scrape(app, "203.0.113.9", {"Authorization": "Bearer wrong"}) == 401
        # With a token set, being on loopback is not enough.
        assert await scrape(app, "127.0.0.1") == 401
    async with served(settings_for_tests(metrics_enabled=False)) as (app, _):
        assert await scrape(app, "127.0.0.1") == 404


async def test_refusals_before_graphql_are_counted_by_their_code(
    graph: Graph, served: Serve
) -> None:
    settings = settings_for_tests(rate_limit_per_second=0.001, rate_limit_burst=1)
    async with served(settings, authenticate=authenticate_for_tests) as (_, client):
        statuses = [
            (await client.post("/graphql", json={"query": "{ __typename }"})).status_code
            for _ in range(3)
        ]
        text = (await client.get("/metrics")).text
    assert statuses == [200, 429, 429]
    assert sample(text, "tightrope_graphql_errors_total", code="RATE_LIMITED") == 2


async def test_linking_after_the_answer_is_counted_by_verdict(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    async with served(authenticate=as_shop_or_customer) as (app, client):
        before = (await client.get("/metrics")).text
        await track(app, client, [login("phone", "p1", "ana", 0)])
        await track(app, client, [login("phone", "p2", "ana", 5)])  # the same link again
        after = (await client.get("/metrics")).text
    assert sample(before, "tightrope_linking_proposals_total", verdict="linked") == 0
    assert sample(after, "tightrope_linking_proposals_total", verdict="linked") == 1
    assert sample(after, "tightrope_linking_proposals_total", verdict="unchanged") == 1
    assert sample(after, "tightrope_linking_proposals_total", verdict="refused") == 0
    assert sample(after, "tightrope_linking_linker_failures_total") == 0
    assert sample(after, "tightrope_linking_batches_dropped_total") == 0


async def test_the_linking_queue_depth_is_the_batches_waiting(
    demo_graph: Graph, served: Serve
) -> None:
    await add_customers(demo_graph, "ana")
    gate = Gate()
    query = {"query": TRACK}
    async with served(authenticate=as_shop_or_customer, plugins=[gate]) as (app, client):
        for i in range(3):
            events = [login("phone", f"p{i}", "ana", i)]
            await client.post("/graphql", json={**query, "variables": {"events": events}})
            if i == 0:  # the task holds the first batch; the others wait behind it
                await asyncio.wait_for(gate.entered.wait(), 10)
        waiting = (await client.get("/metrics")).text
        gate.release.set()
        await app.state.linking.drain()
        drained = (await client.get("/metrics")).text
    assert sample(waiting, "tightrope_linking_queue_depth") == 2
    assert sample(drained, "tightrope_linking_queue_depth") == 0
