"""The access log: every allowed read of personal data is recorded, off the request's path.

A record is one request's reads of one customer's data by one plugin for one
purpose (its fields and categories listed), so a request reading three fields of
two plugins for one purpose adds two records; a refused read adds none.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from gateway import ClientKind
from gateway.gate import AccessLog
from graph import AccessRecord, Graph, connect
from tests.gateway.conftest import ANA, Serve, gql, grant, settings_for_tests

from .test_consent import EVERYTHING, FIRST_PARTY, THIRD_PARTY, principal, quiet

LOG = """query($after: String) { me { accessLog(first: 2, after: $after) {
    edges { node { at client { id name kind } purpose plugin categories fields } }
    pageInfo { hasNextPage endCursor } } } }"""
PRIVACY = principal(ClientKind.FIRST_PARTY, ANA, *EVERYTHING, "privacy:read")


async def stored(graph: Graph) -> list[dict[str, Any]]:
    return await graph.read(
        "MATCH (a:AccessRecord)-[:ABOUT]->(:Customer {id: $id}) "
        "RETURN a.client_id AS client, a.client_kind AS kind, a.purpose AS purpose, "
        "a.plugin AS plugin, a.categories AS categories, a.fields AS fields "
        "ORDER BY a.plugin, a.purpose",
        {"id": ANA},
    )


async def test_one_record_per_allowed_read_and_none_for_a_refused_one(
    ana: Graph, served: Serve
) -> None:
    query = """{ me { createdAt purchases { nodes { at } } cart { addedAt }
                      recentlyViewed { viewedAt } } }"""
    async with served(quiet(), authenticate=FIRST_PARTY) as (app, client):
        graph: Graph = app.state.graph
        await gql(client, "{ __typename }")  # the client's operations are read once, then kept
        before = graph.round_trips
        body = await gql(client, query)
        during = graph.round_trips - before
        waiting = app.state.access_log.pending
        await app.state.access_log.flush()
    assert [e["path"] for e in body["errors"]] == [["me", "recentlyViewed"]]
    # The reads only (customer node, purchases, basket, consents): the log is
    # written afterwards, in a batch.
    assert during == 4
    assert waiting == 2
    assert await stored(ana) == [
        {
            "client": "client-1",
            "kind": "first_party",
            "purpose": "service",
            "plugin": "tightrope-customers",
            "categories": ["profile"],
            "fields": ["Customer.createdAt", "Query.me"],
        },
        {
            "client": "client-1",
            "kind": "first_party",
            "purpose": "service",
            "plugin": "tightrope-history",
            "categories": ["browsing_history", "purchase_history"],
            "fields": ["Customer.cart", "Customer.purchases"],
        },
    ]


async def test_a_refused_request_records_nothing(ana: Graph, served: Serve) -> None:
    async with served(quiet(), authenticate=THIRD_PARTY) as (app, client):
        body = await gql(client, "{ me { purchases { nodes { at } } } }")
        await app.state.access_log.flush()
    assert body["data"] == {"me": None}
    assert await stored(ana) == []


async def test_records_survive_a_clean_restart(ana: Graph, served: Serve) -> None:
    await ana.write(
        "CREATE (:Client {client_id: 'client-1', name: 'Web shop', kind: 'first_party'})"
    )
    async with served(quiet(), authenticate=PRIVACY) as (app, client):
        for query in ("{ me { createdAt } }", "{ me { purchases { nodes { at } } } }"):
            await gql(client, query)
        assert app.state.access_log.pending == 3  # nothing written yet
    # The app stopped cleanly: its shutdown wrote what waited.
    async with served(quiet(), authenticate=PRIVACY) as (_, client):
        first = await gql(client, LOG)
        cursor = first["data"]["me"]["accessLog"]["pageInfo"]["endCursor"]
        second = await gql(client, LOG, {"after": cursor})
    page = first["data"]["me"]["accessLog"]
    nodes = [e["node"] for e in page["edges"]] + [
        e["node"] for e in second["data"]["me"]["accessLog"]["edges"]
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert second["data"]["me"]["accessLog"]["pageInfo"]["hasNextPage"] is False
    assert len(nodes) == 3
    assert {tuple(n["fields"]) for n in nodes} == {
        ("Customer.createdAt", "Query.me"),
        ("Query.me",),
        ("Customer.purchases",),
    }
    assert all(
        n["client"] == {"id": "client-1", "name": "Web shop", "kind": "first_party"} for n in nodes
    )
    times = [n["at"] for n in nodes]
    assert times == sorted(times, reverse=True)


async def test_the_buffer_writes_in_batches_and_keeps_what_the_graph_refused(
    ana: Graph, neo4j_settings: Any
) -> None:
    records = [
        AccessRecord(f"r{i}", ANA, datetime.now(UTC), None, None, "service", "p", ("profile",), ())
        for i in range(12)
    ]
    # A graph that is not there: the records wait, and the oldest go beyond the bound.
    down = connect(replace(neo4j_settings, uri="bolt://127.0.0.1:9", timeout=0.5))
    try:
        log = AccessLog(down, batch=5, max_pending=10)
        log.add(records)
        assert await log.flush() == 0
        assert (log.pending, log.dropped) == (10, 2)
    finally:
        await down.close()
    log = AccessLog(ana, batch=5)
    log.add(records[2:])
    before = ana.round_trips
    assert await log.flush() == 10
    assert ana.round_trips - before == 2  # two batches of five
    log.add(records[2:4])  # written again (say, after a flush that failed late): no doubles
    await log.close()
    count = await ana.read("MATCH (a:AccessRecord) RETURN count(a) AS n")
    assert count == [{"n": 10}]


async def test_the_log_is_written_about_once_a_second_while_serving(
    ana: Graph, served: Serve
) -> None:
    async with served(
        settings_for_tests(access_log_flush_seconds=0.2), authenticate=FIRST_PARTY
    ) as (
        app,
        client,
    ):
        await gql(client, "{ me { createdAt } }")
        # Written while serving, not at shutdown (a few flushes' grace for a
        # busy machine, where Neo4j's first plan of the write takes a while).
        for _ in range(50):
            await asyncio.sleep(0.2)
            if app.state.access_log.pending == 0:
                break
        assert app.state.access_log.pending == 0
        assert len(await stored(ana)) == 1


async def test_data_about_me_says_what_is_held_and_who_used_it(ana: Graph, served: Serve) -> None:
    await grant(ana, ANA, "personalisation")
    query = """{ me { dataAboutMe { category count oldest newest
                 usedBy { plugin purpose lastUsedAt } } } }"""
    async with served(quiet(), authenticate=PRIVACY) as (app, client):
        await gql(client, "{ me { recentlyViewed { viewedAt } } }")
        await app.state.access_log.flush()
        body = await gql(client, query)
    assert "errors" not in body, body
    held = {entry["category"]: entry for entry in body["data"]["me"]["dataAboutMe"]}
    assert held["purchase_history"]["count"] == 1
    assert held["purchase_history"]["oldest"].startswith("2026-11-20T10:02")
    assert held["browsing_history"]["count"] == 1
    assert held["device"]["count"] == 1
    assert held["profile"]["count"] == 1
    assert held["contact"]["count"] == 0
    browsing = {
        (u["plugin"], u["purpose"]): u["lastUsedAt"] for u in held["browsing_history"]["usedBy"]
    }
    # From the served schema: who may read it and why; from the log: who did, when.
    assert browsing[("tightrope-history", "personalisation")] is not None
    assert browsing[("tightrope-history", "service")] is None


async def test_a_batch_of_mixed_records_is_stored_as_each_record_says(ana: Graph) -> None:
    # A batch travels as compact rows sharing shapes; every record must still
    # come back as it was, to the microsecond and with its own client.
    at = datetime(2026, 11, 30, 5, 41, 7, 123456, tzinfo=UTC)
    records = [
        AccessRecord("m1", ANA, at, "app-a", "third_party", "service", "p1", ("profile",), ("me",)),
        AccessRecord(
            "m2",
            ANA,
            at.replace(microsecond=999999),
            None,
            None,
            "service",
            "p1",
            ("profile",),
            ("me",),
        ),
        AccessRecord(
            "m3",
            ANA,
            at.replace(year=1999),
            "app-a",
            "third_party",
            "personalisation",
            "p2",
            ("purchases", "browsing"),
            ("purchases", "views"),
        ),
        AccessRecord("m4", ANA, at, "app-a", "third_party", "service", "p1", ("profile",), ("me",)),
    ]
    log = AccessLog(ana)
    log.add(records)
    assert await log.flush() == 4
    rows = await ana.read(
        "MATCH (a:AccessRecord)-[:ABOUT]->(:Customer {id: $id}) "
        "RETURN a.id AS id, a.at AS at, a.client_id AS client, a.client_kind AS kind, "
        "a.purpose AS purpose, a.plugin AS plugin, a.categories AS categories, "
        "a.fields AS fields ORDER BY a.id",
        {"id": ANA},
    )
    assert [
        (
            r["id"],
            r["at"].to_native(),
            r["client"],
            r["kind"],
            r["purpose"],
            r["plugin"],
            tuple(r["categories"]),
            tuple(r["fields"]),
        )
        for r in rows
    ] == [
        (x.id, x.at, x.client_id, x.client_kind, x.purpose, x.plugin, x.categories, x.fields)
        for x in records
    ]


async def test_a_slow_flush_neither_refuses_requests_nor_loses_records(
    ana: Graph, served: Serve
) -> None:
    # The writer runs beside the requests: held to their deadline, its misses
    # on a busy Neo4j tripped the cooldown that refuses every request, while
    # the records piled up. Here the write waits on the customer, whom another
    # transaction holds for several deadlines.
    settings = settings_for_tests(
        access_log_flush_seconds=0.1, graph_deadline=0.5, graph_cooldown=5.0
    )
    async with served(settings, authenticate=FIRST_PARTY) as (app, client):
        async with ana.driver.session(database=ana.database) as session:
            tx = await session.begin_transaction()
            await (await tx.run("MATCH (c:Customer {id: $id}) SET c.held = true", id=ANA)).consume()
            first = await gql(client, "{ me { createdAt } }")
            await asyncio.sleep(1.6)  # three deadlines of a waiting flush
            during = await gql(client, "{ me { createdAt } }")
            await tx.commit()
        for _ in range(50):
            await asyncio.sleep(0.2)
            if app.state.access_log.pending == 0:
                break
        assert len(await stored(ana)) == 2
    assert "errors" not in first, first
    assert "errors" not in during, during
