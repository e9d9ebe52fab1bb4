"""Plugins' manifests: declared, shown, and enforced at start-up and at run time.

The over-reaching plugin of the issue: a catalogue field (nothing declared)
whose resolver serves another customer's purchases. It must fail, naming the
plugin, whichever way it reaches for the data.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import strawberry
from strawberry.dataloader import DataLoader

import graph as graph_api
from gateway import (
    CROSS_DEVICE,
    PERSONALISATION,
    Candidate,
    DataCategory,
    FieldSpec,
    LinkerData,
    Manifest,
    Observation,
    PluginGraph,
    Proposal,
    Purpose,
    RowRule,
    StrategyData,
    Subject,
    Undeclared,
    batch_loader,
    hookimpl,
)
from gateway.app import assemble
from gateway.cli.plugins import describe
from gateway.host.manager import PluginError
from graph import Graph, PurchasesKey, customers_who_bought
from tests.gateway.conftest import ANA, Serve, codes, gql, settings_for_tests
from tests.gateway.conftest import grant as grant_consent

PURCHASES = frozenset({DataCategory.PURCHASE_HISTORY})
RAW = "MATCH (c:Customer)-[:PURCHASED]->(:Product) RETURN c.id AS id ORDER BY id LIMIT 1"


class Plugin:
    """A plugin made in a test: its name, its manifest (if any), its hooks."""

    def __init__(self, name: str, manifest: Manifest | None = None, **hooks: Any) -> None:
        self.tightrope_name = name
        if manifest is not None:
            self.plugin_manifest = hookimpl(lambda: manifest)
        for hook, value in hooks.items():
            setattr(self, hook, hookimpl(value))


def top_buyer_field(resolver: Any) -> Any:
    """``Product.topBuyer``: a catalogue field (no category, no purpose) — the over-reach."""
    return lambda: [FieldSpec("Product", "topBuyer", "String", resolver)]


async def through_its_graph(root: object, info: strawberry.Info) -> str | None:
    ids = await customers_who_bought(info.context.graph_for(info))
    return ids[0] if ids else None


async def through_the_context_graph(root: object, info: strawberry.Info) -> str | None:
    ids = await customers_who_bought(info.context.graph)
    return ids[0] if ids else None


async def through_raw_cypher(root: object, info: strawberry.Info) -> str | None:
    rows = await info.context.graph_for(info).read(RAW)
    return str(rows[0]["id"]) if rows else None


QUERY = '{ product(sku: "sku-002") { name topBuyer } }'


async def over_reach(served: Serve, plugin: Plugin) -> dict[str, Any]:
    async with served(plugins=[plugin]) as (_, client):
        return await gql(client, QUERY)


# -- start-up ------------------------------------------------------------------------


async def test_hook_plugin_manifest(ana: Graph, served: Serve) -> None:
    # A plugin that declares purchase history may read it; the manifest is shown.
    declared = Manifest(purposes=frozenset(), categories=PURCHASES, description="Top buyers.")
    plugin = Plugin("peeker", declared, register_fields=top_buyer_field(through_its_graph))
    async with served(plugins=[plugin]) as (app, client):
        body = await gql(client, QUERY)
    assert body == {"data": {"product": {"name": "Trail Runner 2", "topBuyer": ANA}}}
    assert app.state.assembly.manifests.of("peeker") == declared
    block = "\n".join(describe(app.state.assembly)).split("peeker (")[1]
    assert "Top buyers." in block and "categories: purchase_history" in block
    assert "fields:     Product.topBuyer" in block and "RAW CYPHER" not in block


def test_a_field_of_an_undeclared_category_stops_start_up() -> None:
    def fields() -> list[FieldSpec]:
        return [
            FieldSpec(
                "Customer",
                "spend",
                "Float",
                data_category=DataCategory.PURCHASE_HISTORY,
                purpose=Purpose.SERVICE,
                scopes=frozenset({"purchases:read"}),
                row=RowRule.CUSTOMER,
            )
        ]

    sloppy = Plugin(
        "sloppy", Manifest(purposes=frozenset({Purpose.SERVICE})), register_fields=fields
    )
    with pytest.raises(
        PluginError,
        match=r"'sloppy': field Customer.spend uses category purchase_history, which its "
        r"manifest does not declare",
    ):
        assemble(settings_for_tests(), [sloppy])
    silent = Plugin("silent", register_fields=fields)  # no manifest: declares nothing
    with pytest.raises(PluginError, match=r"'silent'.*purpose service, category purchase"):
        assemble(settings_for_tests(), [silent])


class Personal:
    name = "my-picks"
    purpose = PERSONALISATION
    categories = PURCHASES

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        return []


def test_a_strategy_of_an_undeclared_purpose_or_category_stops_start_up() -> None:
    only_reads = Manifest(categories=PURCHASES)
    plugin = Plugin("picker", only_reads, register_recommenders=lambda: [Personal()])
    with pytest.raises(
        PluginError, match=r"'picker': strategy 'my-picks' uses purpose personalisation"
    ):
        assemble(settings_for_tests(), [plugin])
    right = Manifest(purposes=frozenset({Purpose.PERSONALISATION}), categories=PURCHASES)
    assembly = assemble(
        settings_for_tests(), [Plugin("picker", right, register_recommenders=lambda: [Personal()])]
    )
    assert "my-picks" in assembly.recommendations.strategies


class Linker:
    """An identity linker reading contact data (an email hash) and device data."""

    name = "by-email"
    purpose = CROSS_DEVICE
    categories = frozenset({DataCategory.CONTACT, DataCategory.DEVICE})

    async def propose(self, observation: Observation, data: LinkerData) -> list[Proposal]:
        return []


def test_an_identity_linker_of_an_undeclared_purpose_or_category_stops_start_up() -> None:
    devices_only = Manifest(
        purposes=frozenset({Purpose.CROSS_DEVICE}), categories=frozenset({DataCategory.DEVICE})
    )
    for manifest, words in [
        (None, "purpose cross_device, category contact, category device"),
        (devices_only, "category contact,? which"),
    ]:
        plugin = Plugin("linking", manifest, register_identity_linkers=lambda: [Linker()])
        with pytest.raises(
            PluginError, match=rf"'linking': identity linker 'by-email' uses {words}"
        ):
            assemble(settings_for_tests(), [plugin])
    right = Manifest(purposes=frozenset({Purpose.CROSS_DEVICE}), categories=Linker.categories)
    plugin = Plugin("linking", right, register_identity_linkers=lambda: [Linker()])
    assembly = assemble(settings_for_tests(), [plugin])
    assert "by-email" in {linker.name for linker in assembly.linking.linkers}
    shown = "\n".join(describe(assembly))
    assert "  linkers:    by-email [cross_device; reads contact, device]" in shown


def test_a_manifest_that_is_not_one_stops_start_up() -> None:
    odd = Plugin("odd", plugin_manifest=lambda: {"categories": ["contact"]})
    with pytest.raises(PluginError, match=r"'odd': plugin_manifest must return a tightrope"):
        assemble(settings_for_tests(), [odd])
    with pytest.raises(ValueError, match="'contacts' is not a valid DataCategory"):
        Manifest(categories=frozenset({"contacts"}))  # type: ignore[arg-type]


def test_every_built_in_plugin_stays_inside_its_manifest() -> None:
    assembly = assemble(settings_for_tests())
    history = assembly.manifests.of("tightrope-history")
    assert history.purposes == {Purpose.SERVICE, Purpose.PERSONALISATION}
    assert assembly.manifests.of("tightrope-catalogue").categories == frozenset()
    assert all(m.raw_cypher is None for m in assembly.manifests.by_plugin.values())
    # The built-in linkers and the devices plugin declare what they use, too.
    for plugin in ("sign-in", "email", "network"):
        linking = assembly.manifests.of(f"tightrope-{plugin}-linker")
        assert linking.purposes == {Purpose.CROSS_DEVICE} and DataCategory.DEVICE in (
            linking.categories
        )
    assert assembly.manifests.of("tightrope-email-linker").categories == {
        DataCategory.CONTACT,
        DataCategory.DEVICE,
    }
    assert assembly.manifests.of("tightrope-devices").categories == {
        DataCategory.DEVICE,
        DataCategory.BROWSING_HISTORY,
    }


# -- run time: the over-reaching plugin -------------------------------------------------


async def test_an_over_reaching_field_fails_naming_its_plugin(ana: Graph, served: Serve) -> None:
    plugin = Plugin("peeker", register_fields=top_buyer_field(through_its_graph))
    body = await over_reach(served, plugin)
    assert body["data"] == {"product": {"name": "Trail Runner 2", "topBuyer": None}}
    assert codes(body) == ["FORBIDDEN"]
    error = body["errors"][0]
    assert "plugin 'peeker' called customers_who_bought" in error["message"]
    assert "purchase_history" in error["message"]
    assert error["extensions"]["plugin"] == "peeker"


async def test_the_context_graph_serves_nothing_personal(ana: Graph, served: Serve) -> None:
    body = await over_reach(
        served, Plugin("peeker", register_fields=top_buyer_field(through_the_context_graph))
    )
    assert body["data"]["product"]["topBuyer"] is None
    assert "info.context.graph" in body["errors"][0]["message"]
    assert "graph_for(info)" in body["errors"][0]["message"]


async def test_raw_cypher_is_refused_unless_declared(ana: Graph, served: Serve) -> None:
    refused = await over_reach(
        served, Plugin("peeker", register_fields=top_buyer_field(through_raw_cypher))
    )
    assert refused["data"]["product"]["topBuyer"] is None
    assert "plugin 'peeker' ran a Cypher query of its own" in refused["errors"][0]["message"]

    loud = Manifest(raw_cypher="reports on buyers for the merchandising team")
    plugin = Plugin("peeker", loud, register_fields=top_buyer_field(through_raw_cypher))
    async with served(plugins=[plugin]) as (app, client):
        allowed = await gql(client, QUERY)
    assert allowed["data"]["product"]["topBuyer"] == ANA
    block = "\n".join(describe(app.state.assembly)).split("peeker (")[1]
    assert "!! RAW CYPHER: this plugin may run any query on the graph, unchecked" in block
    assert "reports on buyers for the merchandising team" in block


async def test_a_loader_reads_with_its_own_plugins_graph(ana: Graph, served: Serve) -> None:
    async def buyers(graph: Graph, keys: list[str]) -> list[str | None]:
        ids = await customers_who_bought(graph)
        return [ids[0] if ids else None for _ in keys]

    async def resolve(root: object, info: strawberry.Info) -> str | None:
        loader: DataLoader[str, str | None] = info.context.loader("buyers")
        return await loader.load("any")

    def plugin(manifest: Manifest | None) -> Plugin:
        return Plugin(
            "peeker",
            manifest,
            register_loaders=lambda: {"buyers": batch_loader(buyers)},
            register_fields=top_buyer_field(resolve),
        )

    refused = await over_reach(served, plugin(None))
    assert "plugin 'peeker' called customers_who_bought" in refused["errors"][0]["message"]
    allowed = await over_reach(served, plugin(Manifest(categories=PURCHASES)))
    assert allowed["data"]["product"]["topBuyer"] == ANA


async def test_another_plugins_loader_reads_only_what_the_caller_declared(
    ana: Graph, served: Serve
) -> None:
    # The history plugin's loader reads purchases on its own (declared) graph;
    # called by a plugin that declares nothing, it must not read Ana's for it.
    async def resolve(root: object, info: strawberry.Info) -> str | None:
        loader = info.context.loader("customer_purchases")
        page = await loader.load(PurchasesKey(ANA, 5))
        return ",".join(p.product.sku for p in page.purchases)

    def plugin(manifest: Manifest | None) -> Plugin:
        return Plugin("peeker", manifest, register_fields=top_buyer_field(resolve))

    refused = await over_reach(served, plugin(None))
    assert refused["data"]["product"] == {"name": "Trail Runner 2", "topBuyer": None}
    assert codes(refused) == ["FORBIDDEN"]
    message = refused["errors"][0]["message"]
    assert "plugin 'peeker' called purchases_of_customers" in message
    assert "through a loader of 'tightrope-history'" in message
    assert "category purchase_history" in message
    allowed = await over_reach(served, plugin(Manifest(categories=PURCHASES)))
    assert allowed["data"]["product"]["topBuyer"] == "sku-002"


async def test_recommendations_for_someone_else_are_refused_whoever_asks(
    ana: Graph, served: Serve
) -> None:
    # A plugin's own field (no row rule) asking the host for another
    # customer's recommendations, or for a visit signed in as her while
    # claiming it anonymous: the subject's row rule answers, not the caller.
    async def theirs(root: object, info: strawberry.Info, kind: str, id: str) -> int:
        subject = Subject.customer(id) if kind == "customer" else Subject.session(id)
        found = await info.context.recommend(subject, 5, signed_in_as=None)
        return len(found)

    plugin = Plugin(
        "peeker",
        register_fields=lambda: [FieldSpec("Query", "theirs", "Int", theirs)],
    )
    await grant_consent(ana, ANA, "personalisation")
    async with served(plugins=[plugin]) as (_, client):
        other = await gql(client, '{ theirs(kind: "customer", id: "ana") }', customer="c1")
        visit = await gql(client, '{ theirs(kind: "session", id: "ana-1") }', customer="c1")
        own = await gql(client, '{ theirs(kind: "customer", id: "ana") }', customer=ANA)
        nobody = await gql(client, '{ theirs(kind: "session", id: "no-such-visit") }')
    assert other["data"] == {"theirs": None} and codes(other) == ["FORBIDDEN"]
    assert "only the customer (or the back office)" in other["errors"][0]["message"]
    assert visit["data"] == {"theirs": None} and codes(visit) == ["FORBIDDEN"]
    assert "belongs to a signed-in customer" in visit["errors"][0]["message"]
    assert "errors" not in own and own["data"]["theirs"] is not None
    assert codes(nobody) == ["NOT_FOUND"]


async def test_asking_the_gate_for_an_undeclared_purpose_fails(ana: Graph, served: Serve) -> None:
    async def ask(root: object, info: strawberry.Info) -> str:
        decision = await info.context.gate.decide(
            purpose="marketing", categories=["purchase_history"], plugin="peeker"
        )
        return str(decision.allowed)

    plugin = Plugin(
        "peeker",
        Manifest(purposes=frozenset({Purpose.PERSONALISATION}), categories=PURCHASES),
        register_fields=lambda: [FieldSpec("Query", "mayMarket", "String", ask)],
    )
    async with served(plugins=[plugin]) as (_, client):
        body = await gql(client, "{ mayMarket }", customer=ANA)
    assert codes(body) == ["FORBIDDEN"]
    assert (
        "plugin 'peeker' asked the gate to read for purpose marketing"
        in body["errors"][0]["message"]
    )


async def test_hooks_given_a_graph_get_their_plugins_graph(graph: Graph, served: Serve) -> None:
    seen: list[Graph] = []
    plugin = Plugin("watcher", startup=lambda graph: seen.append(graph))
    async with served(plugins=[plugin]):
        pass
    assert isinstance(seen[0], PluginGraph) and seen[0].plugin == "watcher"
    with pytest.raises(Undeclared, match="'watcher' called trends"):
        await graph_api.trends(seen[0], 7.0, 1.0, 1.0, 1.0)


# -- the contract --------------------------------------------------------------------


def test_every_exported_repository_function_declares_its_categories() -> None:
    unmarked, wrong = [], []
    for name in graph_api.__all__:
        function = getattr(graph_api, name)
        if not inspect.iscoroutinefunction(function):
            continue
        if "graph" not in inspect.signature(function).parameters:
            continue
        categories = getattr(function, "categories", None)
        if categories is None:
            unmarked.append(name)
        elif not categories <= {c.value for c in DataCategory}:
            wrong.append(name)
    assert unmarked == [] and wrong == []
    assert graph_api.purchases_of_customers.categories == {"purchase_history"}
    assert graph_api.products_by_sku.categories == frozenset()
