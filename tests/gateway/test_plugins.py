"""The plugin manager and every hook, each exercised through a small plugin of its own."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import click
import pytest
import strawberry
from click.testing import CliRunner
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from strawberry.dataloader import DataLoader

from gateway import FieldSpec, PluginDeprecationWarning, ScopeSpec, TypeSpec, hookimpl
from gateway.app import assemble
from gateway.cli.plugins import add_plugin_commands, describe
from gateway.host import hookspecs
from gateway.host.hookspecs import Deprecated
from gateway.host.manager import PluginError, constraints_of, load_plugins
from graph import Graph
from graph.schema import migrate
from tests.gateway.conftest import Serve, codes, gql, settings_for_tests


def fields_of(**kwargs: Any) -> set[str]:
    assembly = assemble(settings_for_tests(**kwargs.pop("settings", {})), **kwargs)
    return {f"{s.type_name}.{s.name}" for s in assembly.registry.fields}


def hello(root: object, info: strawberry.Info) -> str:
    return "hello"


class Plugin:
    """A plugin object made in a test; ``name`` is how the host knows it."""

    def __init__(self, name: str, **hooks: Any) -> None:
        self.tightrope_name = name
        for hook, value in hooks.items():
            setattr(self, hook, hookimpl(value))


def test_builtins_load_from_entry_points() -> None:
    names = {p.name: p for p in load_plugins().describe()}
    assert {"tightrope-catalogue", "tightrope-customers", "tightrope-events"} <= set(names)
    catalogue = names["tightrope-catalogue"]
    assert catalogue.package == "tightrope" and "register_fields" in catalogue.hooks


def test_each_app_gets_a_fresh_manager() -> None:
    assert load_plugins().pm is not load_plugins().pm


def test_hook_register_fields_duplicate_field_names_both_plugins() -> None:
    clash = Plugin("clash", register_fields=lambda: [FieldSpec("Product", "name", "String!")])
    with pytest.raises(PluginError, match=r"Product.name.*'clash' and 'tightrope-catalogue'"):
        assemble(settings_for_tests(), [clash])


def test_hook_register_fields_adds_a_served_field() -> None:
    extra = Plugin("extra", register_fields=lambda: [FieldSpec("Query", "hello", "String!", hello)])
    assert "Query.hello" in fields_of(plugins=[extra])


def test_hook_register_fields_unknown_type_is_an_error() -> None:
    stray = Plugin("stray", register_fields=lambda: [FieldSpec("Basket", "total", "Float")])
    with pytest.raises(PluginError, match=r"Basket.total.*'stray'.*unknown type"):
        assemble(settings_for_tests(), [stray])


def test_a_disabled_plugin_is_not_loaded() -> None:
    served = fields_of(settings={"disabled_plugins": ("tightrope-events",)})
    assert "Mutation.trackEvents" not in served
    assert "Query.products" in served
    names = {p.name for p in load_plugins(disabled=["tightrope-events"]).describe()}
    assert "tightrope-events" not in names


def test_a_plugin_that_fails_to_import_stops_start_up() -> None:
    broken = EntryPoint("broken-plugin", "tests.gateway.no_such_module", "tightrope")
    with pytest.raises(PluginError, match=r"'broken-plugin'.*import.*ModuleNotFoundError"):
        load_plugins(points=[broken])


def test_a_plugin_that_fails_to_register_stops_start_up() -> None:
    def register_feilds() -> list[FieldSpec]:  # a typo: no such hook
        return []

    typo = Plugin("typo", register_feilds=register_feilds)
    with pytest.raises(PluginError, match=r"'typo'.*register_feilds"):
        load_plugins(extra=[typo])

    def explode() -> list[FieldSpec]:
        raise ValueError("cannot reach the rules engine")

    with pytest.raises(PluginError, match=r"'exploding' failed in register_fields.*rules engine"):
        assemble(settings_for_tests(), [Plugin("exploding", register_fields=explode)])


class GreetingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_GREETING_")
    word: str = "hello"
    repeat: int = 1


def greeting(root: object, info: strawberry.Info) -> str:
    settings = info.context.plugin_settings(GreetingSettings)
    return " ".join([settings.word] * settings.repeat)


async def test_hook_register_settings(
    graph: Graph, served: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plugin() -> Plugin:
        return Plugin(
            "greeter",
            register_settings=lambda: GreetingSettings,
            register_fields=lambda: [FieldSpec("Query", "greeting", "String!", greeting)],
        )

    monkeypatch.setenv("TIGHTROPE_GREETING_REPEAT", "2")
    async with served(plugins=[plugin()]) as (_, client):
        body = await gql(client, "{ greeting }")
    assert body["data"] == {"greeting": "hello hello"}

    monkeypatch.setenv("TIGHTROPE_GREETING_REPEAT", "often")
    with pytest.raises(PluginError, match=r"'greeter': invalid settings: repeat"):
        assemble(settings_for_tests(), [plugin()])


async def test_hook_register_scopes(graph: Graph, served: Serve) -> None:
    def field(scope: str) -> list[FieldSpec]:
        return [FieldSpec("Query", "wishlist", "String", hello, scopes=frozenset({scope}))]

    wishlists = Plugin(
        "wishlists",
        register_scopes=lambda: [ScopeSpec("wishlist:read", "your wishlist")],
        register_fields=lambda: field("wishlist:read"),
    )
    async with served(plugins=[wishlists]) as (app, client):
        anonymous = await gql(client, "{ wishlist }")
        holder = await gql(client, "{ wishlist }", customer="c1")
    assert "wishlist:read" in app.state.registry.scope_names
    assert codes(anonymous) == ["FORBIDDEN"]
    assert holder["data"] == {"wishlist": "hello"}  # a principal holding the new scope

    undeclared = Plugin("sloppy", register_fields=lambda: field("wishlist:write"))
    with pytest.raises(PluginError, match=r"'sloppy'.*undeclared scope.*wishlist:write"):
        assemble(settings_for_tests(), [undeclared])
    twice = Plugin("twice", register_scopes=lambda: [ScopeSpec("profile:read", "again")])
    with pytest.raises(PluginError, match=r"'profile:read'.*'tightrope'.*'twice'"):
        assemble(settings_for_tests(), [twice])


async def test_hook_register_types(graph: Graph, served: Serve) -> None:
    def shelf(root: object, info: strawberry.Info) -> dict[str, str]:
        return {"sku": "sku-1"}

    def label(root: object, info: strawberry.Info) -> str:
        return "top"

    def fields() -> list[FieldSpec]:
        return [
            FieldSpec("Query", "shelf", "Shelf!", shelf),
            FieldSpec("Shelf", "label", "String!", label),
        ]

    shelves = Plugin("shelves", register_types=lambda: [TypeSpec("Shelf")], register_fields=fields)
    async with served(plugins=[shelves]) as (app, client):
        body = await gql(client, "{ shelf { label } }")
    assert body["data"] == {"shelf": {"label": "top"}}
    assert "type Shelf" in app.state.schema.as_str()


@pytest.mark.single_run  # counts what its plugin is asked
async def test_hook_register_loaders(graph: Graph, served: Serve) -> None:
    batches: list[list[int]] = []

    async def double(keys: list[int]) -> list[int]:
        batches.append(list(keys))
        return [k * 2 for k in keys]

    async def doubled(root: object, info: strawberry.Info, n: int) -> int:
        result: int = await info.context.loader("double").load(n)
        return result

    doubler = Plugin(
        "doubler",
        register_loaders=lambda: {"double": lambda graph: DataLoader(load_fn=double)},
        register_fields=lambda: [FieldSpec("Query", "doubled", "Int!", doubled)],
    )
    async with served(plugins=[doubler]) as (_, client):
        body = await gql(client, "{ a: doubled(n: 1) b: doubled(n: 2) }")
        await gql(client, "{ doubled(n: 1) }")
    assert body["data"] == {"a": 2, "b": 4}
    # One batch for the first request; a new loader (no cache) for the second.
    assert batches == [[1, 2], [1]]


async def test_hook_register_routes(graph: Graph, served: Serve) -> None:
    async def ping(request: Request) -> PlainTextResponse:
        return PlainTextResponse("pong")

    pinger = Plugin("pinger", register_routes=lambda settings: [Route("/ping", ping)])
    async with served(plugins=[pinger]) as (_, client):
        response = await client.get("/ping")
    assert response.text == "pong"


async def test_hook_startup_and_hook_shutdown(graph: Graph, served: Serve) -> None:
    seen: list[str] = []

    async def up(app: Starlette, graph: Graph) -> None:
        seen.append("startup" if await graph.ping() else "no graph")

    def down(app: Starlette) -> None:
        seen.append("shutdown")

    lifecycle = Plugin("lifecycle", startup=lambda app, graph: up(app, graph), shutdown=down)
    async with served(plugins=[lifecycle]):
        assert seen == ["startup"]
    assert seen == ["startup", "shutdown"]

    async def fail() -> None:
        raise RuntimeError("no licence key")

    with pytest.raises(PluginError, match=r"'doomed' failed in startup.*licence"):
        async with served(plugins=[Plugin("doomed", startup=lambda: fail())]):
            pass


async def test_hook_graph_constraints(graph: Graph) -> None:
    statement = "CREATE INDEX wishlist_owner IF NOT EXISTS FOR (n:Wishlist) ON (n.owner)"
    plugin = Plugin("wishlists", graph_constraints=lambda: [statement])
    extra = constraints_of(load_plugins(extra=[plugin], use_entry_points=False))
    assert extra == [statement]
    names = await migrate(graph, extra)
    assert "wishlist_owner" in names
    await graph.write("DROP INDEX wishlist_owner IF EXISTS")


def test_hook_register_commands() -> None:
    # The example third-party plugin (tests/plugin_example) adds `example-hello`.
    group = click.Group("tightrope")
    add_plugin_commands(group)
    result = CliRunner().invoke(group, ["example-hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from example-badges\n"


def test_a_deprecated_hook_warns_naming_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = Deprecated("1.1", "2.0", "declare the type's fields with register_fields")
    monkeypatch.setitem(hookspecs.DEPRECATED, "register_types", gone)
    old = Plugin("old-style", register_types=lambda: [])
    current = Plugin("current", register_fields=lambda: [])
    with pytest.warns(PluginDeprecationWarning) as caught:
        load_plugins(extra=[old, current], use_entry_points=False)
    assert [str(w.message) for w in caught] == [
        "plugin 'old-style' implements register_types, deprecated since plugin API 1.1 "
        "and removed in 2.0: declare the type's fields with register_fields"
    ]
    # tightrope plugins shows it too, on the plugin's own block.
    with pytest.warns(PluginDeprecationWarning):
        lines = describe(assemble(settings_for_tests(), [old]))
    block = "\n".join(lines).split("old-style (")[1].split("\ntightrope-")[0]
    assert "!! deprecated hook register_types (since 1.1, removed in 2.0)" in block
