"""Derived data: `tightrope recompute` rebuilds it; what is about one customer can be dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gateway import (
    PERSONALISATION,
    DataCategory,
    Manifest,
    Purpose,
    StrategyData,
    Subject,
)
from gateway.app import assemble
from gateway.cli import cli
from gateway.strategies import forget_customer
from graph import Graph, derived
from graph.derived import purchase_interactions, session_interactions
from tests.gateway.conftest import Serve, gql, grant, settings_for_tests
from tests.gateway.recs.conftest import build_shop
from tests.gateway.recs.test_blend import Plugin

AFFINITY = '{ me { recommendations(strategy: "affinity") { product { sku } } } }'


async def recompute_command(*args: str) -> Result:
    """``tightrope recompute`` as an operator runs it (in a thread: it runs its own loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, ["recompute", *args])


COUNTS = """
CALL () { MATCH ()-[r:ALSO]->() RETURN count(r) AS also }
CALL () { MATCH (:Ranking)-[r:RANKS]->() RETURN count(r) AS ranks }
CALL () { MATCH (:Customer)-[r:PREFERS]->() RETURN count(r) AS prefers }
RETURN also, ranks, prefers
"""


async def test_recompute_derives_everything_and_a_second_run_replaces_it(
    clean_graph: Graph,
) -> None:
    await build_shop(clean_graph)
    first = await recompute_command("--no-progress")
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    for name in ("trending", "similar", "affinity", "collaborative"):
        assert any(line.split()[0] == name for line in lines[:-1]), first.output
    assert lines[-1].startswith("recomputed in ")
    counts = (await clean_graph.read(COUNTS))[0]
    assert counts["also"] > 0 and counts["ranks"] > 0 and counts["prefers"] > 0
    # Derived data about a customer says that it is personal, and who derived it.
    [marks] = await clean_graph.read(
        "MATCH (:Customer)-[r:PREFERS]->() RETURN collect(DISTINCT [r.personal, r.source]) AS m"
    )
    assert marks["m"] == [[True, "tightrope-affinity"]]

    second = await recompute_command()
    assert second.exit_code == 0, second.output
    assert (await clean_graph.read(COUNTS))[0] == counts  # replaced, not added to


async def test_recompute_if_never_run_derives_once_as_make_run_does(clean_graph: Graph) -> None:
    await build_shop(clean_graph)
    first = await recompute_command("--no-progress", "--if-never-run")
    assert first.exit_code == 0, first.output
    counts = (await clean_graph.read(COUNTS))[0]
    assert counts["also"] > 0 and counts["ranks"] > 0 and counts["prefers"] > 0
    await clean_graph.write("MATCH (r:Ranking) DETACH DELETE r")
    again = await recompute_command("--no-progress", "--if-never-run")
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert (await clean_graph.read(COUNTS))[0]["ranks"] == 0  # left as it was


async def test_recompute_sees_new_purchases(clean_graph: Graph, served: Serve) -> None:
    await build_shop(clean_graph)
    async with served() as (_, client):
        before = await gql(client, AFFINITY, customer="bea")
        await clean_graph.write(
            """MATCH (bea:Customer {id: 'bea'}), (p:Product) WHERE p.sku IN ['wool-coat', 'parka']
               CREATE (bea)-[:PURCHASED {event_id: 'b-' + p.sku, at: datetime()}]->(p)"""
        )
        result = await recompute_command("--no-progress")
        assert result.exit_code == 0, result.output
        after = await gql(client, AFFINITY, customer="bea")
    assert before["data"]["me"]["recommendations"] == []
    assert {i["product"]["sku"] for i in after["data"]["me"]["recommendations"]} == {"trench"}


PREFERS_OF = """
MATCH (c:Customer)-[r:PREFERS]->() WHERE c.id IN $ids
RETURN c.id AS id, count(r) AS n
"""


async def test_recompute_derives_nothing_about_a_customer_whose_consent_does_not_allow_it(
    shop: Graph, served: Serve
) -> None:
    # Ana withdraws personalisation through the API; u1's refusal is in the
    # graph without anyone having been told (an import, say): the nightly
    # recompute must derive preferences for neither, and keeps u2's.
    withdraw = 'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }'
    async with served() as (_, client):
        assert "errors" not in await gql(client, withdraw, customer="ana")
    await grant(shop, "u1", "personalisation", granted=False)
    result = await recompute_command("--no-progress")
    assert result.exit_code == 0, result.output
    rows = await shop.read(PREFERS_OF, {"ids": ["ana", "u1", "u2"]})
    # u2 bought two Acme shoe-care products: Acme and Shoe Care are hers.
    assert {r["id"]: r["n"] for r in rows} == {"u2": 2}


async def test_forgetting_a_customer_drops_what_was_derived_about_them(
    shop: Graph, served: Serve
) -> None:
    strategies = list(assemble(settings_for_tests()).recommendations.strategies.values())
    async with served() as (_, client):
        before = await gql(client, AFFINITY, customer="ana")
        dropped = await forget_customer(strategies, shop, "ana")
        after = await gql(client, AFFINITY, customer="ana")
    assert before["data"]["me"]["recommendations"] != []
    assert dropped == {"affinity": 2}  # Northbrook and Boots
    assert after["data"]["me"]["recommendations"] == []
    rows = await shop.read("MATCH (c:Customer)-[:PREFERS]->() RETURN collect(DISTINCT c.id) AS who")
    assert "ana" not in rows[0]["who"] and rows[0]["who"]  # others keep theirs


async def test_withdrawing_personalisation_drops_the_preferences_and_skips_the_strategy(
    shop: Graph, served: Serve
) -> None:
    withdraw = 'mutation { setConsent(purpose: "personalisation", granted: false) { granted } }'
    async with served() as (_, client):
        before = await gql(client, AFFINITY, customer="ana")
        answer = await gql(client, withdraw, customer="ana")
        after = await gql(
            client,
            "{ me { recommendations { strategy reasons { text } } } }",
            customer="ana",
        )
    assert before["data"]["me"]["recommendations"] != []
    assert answer["data"]["setConsent"] == {"granted": False}
    rows = await shop.read("MATCH (:Customer {id: 'ana'})-[r:PREFERS]->() RETURN count(r) AS n")
    assert rows[0]["n"] == 0
    served_by = {item["strategy"] for item in after["data"]["me"]["recommendations"]}
    assert "affinity" not in served_by and "collaborative" not in served_by


EVERY_PURCHASE_PAIR = """
MATCH (o:Customer)-[r:PURCHASED]->(p:Product)
RETURN o.id AS owner, p.sku AS sku, count(r) AS n
"""
EVERY_VISIT_PAIR = """
MATCH (o:Session)-[r:VIEWED|ADDED_TO_CART]->(p:Product)
RETURN o.id AS owner, p.sku AS sku, count(r) AS n
"""


async def test_interactions_read_page_by_page_are_every_pair_with_its_count(
    clean_graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 customers (one bought nothing) and 5 sessions (one viewed nothing), in pages that end
    exactly at the last owner (1, 2) or not (3, 1000); a product bought twice counts 2."""
    await build_shop(clean_graph)
    await clean_graph.write(
        "MATCH (c:Customer {id: 'ana'}), (p:Product {sku: 'chelsea'}) "
        "CREATE (c)-[:PURCHASED {event_id: 'again', at: datetime()}]->(p)"
    )
    for page in (1, 2, 3, 1000):
        monkeypatch.setattr(derived, "INTERACTIONS_PAGE", page)
        for read, query in (
            (purchase_interactions, EVERY_PURCHASE_PAIR),
            (session_interactions, EVERY_VISIT_PAIR),
        ):
            expected = {(r["owner"], r["sku"], r["n"]) for r in await clean_graph.read(query)}
            found = [(i.owner, i.sku, i.n) for i in await read(clean_graph)]
            assert len(found) == len(set(found)) and set(found) == expected, (page, query)
    bought = await purchase_interactions(clean_graph)
    assert [i.n for i in bought if (i.owner, i.sku) == ("ana", "chelsea")] == [2]


async def test_a_strategy_forgets_a_customer_who_withdraws_the_consent_it_serves(
    shop: Graph, served: Serve
) -> None:
    # A third party's strategy keeps data derived about each customer and says
    # how to drop it (forget_customer): the host asks it when, and only when,
    # the purpose it serves is withdrawn, even if another strategy fails to.
    forgotten: list[str] = []

    class Remembers:
        name = "remembers"
        purpose = PERSONALISATION
        categories = frozenset({DataCategory.PURCHASE_HISTORY})

        async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Any]:
            return []

        async def forget_customer(self, graph: Graph, customer_id: str) -> int:
            forgotten.append(customer_id)
            return 1

    class Fails(Remembers):
        name = "fails-to-forget"

        async def forget_customer(self, graph: Graph, customer_id: str) -> int:
            raise RuntimeError("could not forget")

    manifest = Manifest(
        frozenset({Purpose.PERSONALISATION}), frozenset({DataCategory.PURCHASE_HISTORY})
    )
    plugin = Plugin("remembers", manifest, register_recommenders=lambda: [Fails(), Remembers()])
    change = 'mutation { setConsent(purpose: "%s", granted: false) { granted } }'
    async with served(plugins=[plugin]) as (_, client):
        other = await gql(client, change % "marketing", customer="ana")
        assert forgotten == []
        withdrawn = await gql(client, change % "personalisation", customer="ana")
    assert "errors" not in other and "errors" not in withdrawn, (other, withdrawn)
    assert forgotten == ["ana"]
    # The built-in affinity strategy forgets the same way: her preferences are gone.
    rows = await shop.read("MATCH (:Customer {id: 'ana'})-[r:PREFERS]->() RETURN count(r) AS n")
    assert rows[0]["n"] == 0
