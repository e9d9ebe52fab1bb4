"""The app itself: health and readiness, GraphiQL only in dev mode, settings validation."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings
from graph import Graph
from tests.gateway.conftest import Serve, settings_for_tests


async def test_health_and_readiness(graph: Graph, served: Serve) -> None:
    async with served() as (_, client):
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["ready"] is True


async def test_graphiql_only_in_dev_mode(graph: Graph, served: Serve) -> None:
    html = {"accept": "text/html"}
    async with served(settings_for_tests(dev_mode=True)) as (_, client):
        dev = await client.get("/graphql", headers=html)
    async with served(settings_for_tests(dev_mode=False)) as (_, client):
        prod = await client.get("/graphql", headers=html)
    assert dev.status_code == 200 and "graphiql" in dev.text.lower()
    assert prod.status_code != 200 or "graphiql" not in prod.text.lower()


async def test_one_graph_per_app_closed_on_shutdown(graph: Graph, served: Serve) -> None:
    async with served() as (app, _):
        opened: Graph = app.state.graph
        assert await opened.ping()
    assert opened.driver._closed  # the lifespan closed the app's driver


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("TIGHTROPE_MAX_PAGE_SIZE", "lots", "max_page_size (TIGHTROPE_MAX_PAGE_SIZE)"),
        ("TIGHTROPE_NEO4J_TIMEOUT", "0", "neo4j_timeout (TIGHTROPE_NEO4J_TIMEOUT)"),
        ("TIGHTROPE_DEFAULT_PAGE_SIZE", "500", "default_page_size (500) exceeds max_page_size"),
    ],
)
def test_bad_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_disabled_plugins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTROPE_DISABLED_PLUGINS", "tightrope-events, example-badges")
    assert load_settings().disabled_plugins == ("tightrope-events", "example-badges")


def test_serving_outside_dev_mode_needs_a_pii_key() -> None:
    from gateway import create_app
    from gateway.settings import SettingsError
    from tests.gateway.conftest import settings_for_tests

    with pytest.raises(SettingsError, match="TIGHTROPE_PII_KEY"):
        create_app(settings_for_tests(dev_mode=False, pii_key=None))
    create_app(settings_for_tests(dev_mode=True, pii_key=None))  # development may
