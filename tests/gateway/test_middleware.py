"""Request ids, security headers and introspection, as a client or an operator meets them."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import hookimpl
from gateway.web.requestid import RequestIdLogFilter
from gateway.web.secheaders import graphiql_origins
from graph import Graph
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests
from tests.gateway.test_errors import Leaky

INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_a_well_formed_request_id_is_echoed_else_one_is_made(
    graph: Graph, served: Serve
) -> None:
    async with served() as (_, client):
        theirs = await client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b_c"})
        none = [await client.get("/healthz") for _ in range(2)]
        forged = await client.get("/healthz", headers={"X-Request-ID": "x\tinjected=1"})
        huge = await client.get("/healthz", headers={"X-Request-ID": "a" * 500})
        refused = await client.post("/graphql", content=b"{" * 2_000_000)  # 413 in an inner layer
    assert theirs.headers["x-request-id"] == "trace-42.a:b_c"
    made = [r.headers["x-request-id"] for r in none]
    assert all(made) and made[0] != made[1]
    assert forged.headers["x-request-id"] != "x\tinjected=1"
    assert len(huge.headers["x-request-id"]) <= 128
    assert refused.status_code == 413 and refused.headers["x-request-id"]


async def test_a_masked_internal_error_names_the_request_and_its_log_line(
    demo_graph: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.ERROR, logger="tightrope.errors"):
        async with served(plugins=[Leaky()]) as (_, client):
            response = await client.post(
                "/graphql", json={"query": "{ boom }"}, headers={"X-Request-ID": "support-7"}
            )
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "support-7"}
    assert "hunter2" not in response.text
    logged = [r for r in caplog.records if "support-7" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the operator finds the real error
    # A log format can carry the id of every record made during the request.
    assert [getattr(r, "request_id", None) for r in logged] == ["support-7"] * len(logged)


class Crashing:
    """A plugin route with a bug: the 500 still names the request."""

    tightrope_name = "crashing"

    @staticmethod
    async def crash(request: Request) -> Response:
        raise RuntimeError("secret detail")

    @hookimpl
    def register_routes(self) -> list[Route]:
        return [Route("/crash", self.crash)]


async def test_an_unhandled_error_answers_500_with_the_request_id(
    graph: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tightrope.requests"):
        async with served(plugins=[Crashing()]) as (_, client):
            response = await client.get("/crash", headers={"X-Request-ID": "support-8"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "support-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["errors"][0]["extensions"] == {
        "code": "INTERNAL",
        "requestId": "support-8",
    }
    assert "secret detail" not in response.text
    assert any("support-8" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_security_headers_on_every_response(graph: Graph, served: Serve) -> None:
    async with served(settings_for_tests(dev_mode=False)) as (_, client):
        answers = {
            "graphql": await client.post("/graphql", json={"query": "{ __typename }"}),
            "health": await client.get("/healthz"),
            "missing": await client.get("/no-such-page"),
        }
    for name, response in answers.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["referrer-policy"] == "no-referrer", name
        assert "default-src 'none'" in response.headers["content-security-policy"], name
        assert "strict-transport-security" not in response.headers, name
    assert answers["graphql"].headers["cache-control"] == "no-store"


async def test_hsts_only_behind_tls(graph: Graph, served: Serve) -> None:
    async with served(settings_for_tests(behind_tls=True)) as (_, client):
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_graphiql_may_load_its_scripts_in_dev_mode_only(graph: Graph, served: Serve) -> None:
    html = {"accept": "text/html"}
    async with served(settings_for_tests(dev_mode=True)) as (_, client):
        ide = await client.get("/graphql", headers=html)
        data = await client.post("/graphql", json={"query": "{ __typename }"})
    policy = ide.headers["content-security-policy"]
    origins = graphiql_origins()
    assert origins and all(origin in policy for origin in origins)
    assert all(origin.startswith("https://") for origin in origins)
    # Every script and style the page names comes from an origin the policy allows.
    for url in _external_urls(ide.text):
        assert any(url.startswith(origin + "/") for origin in origins), url
    assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # JSON answers keep the strict policy even in dev mode.
    assert "script-src" not in data.headers["content-security-policy"]


def _external_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(https?://[^"]+)"', page)


async def test_a_route_s_own_headers_are_not_overridden(graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        sign_in = await client.get(
            "/oauth/authorize",
            params={"response_type": "code", "client_id": "nobody", "state": "s"},
        )
    # The sign-in page's policy (its own inline styles, no framing) stands as it set it.
    assert "style-src 'unsafe-inline'" in sign_in.headers.get("content-security-policy", ""), (
        sign_in.status_code,
        sign_in.headers,
    )
    assert len(sign_in.headers.get_list("content-security-policy")) == 1


@pytest.mark.parametrize(
    ("overrides", "answers"),
    [
        ({"dev_mode": True}, True),
        ({"dev_mode": False}, False),
        ({"dev_mode": False, "introspection": True}, True),
        ({"dev_mode": True, "introspection": False}, False),
    ],
)
async def test_introspection_follows_dev_mode_unless_set(
    graph: Graph, served: Serve, overrides: dict[str, bool], answers: bool
) -> None:
    async with served(settings_for_tests(**overrides)) as (_, client):
        body = await gql(client, INTROSPECTION)
        plain = await gql(client, "{ __typename }")
    if answers:
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    else:
        assert body.get("data") is None and set(codes(body)) == {"BAD_USER_INPUT"}
        assert "disabled" in body["errors"][0]["message"]
    assert plain["data"] == {"__typename": "Query"}  # __typename is never refused


def test_served_logs_name_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    import logging
    import logging.config

    from gateway.web.logs import log_config
    from gateway.web.requestid import request_id

    ours = logging.getLogger("tightrope")
    logging.config.dictConfig(log_config())  # what `tightrope serve` hands uvicorn
    token = request_id.set("req-42")
    try:
        logging.getLogger("tightrope.errors").error("internal error at %s", "me")
    finally:
        request_id.reset(token)
        ours.handlers.clear()
        ours.propagate = True
    assert "[request req-42] internal error at me" in capsys.readouterr().err
