"""Events: validation names the bad field, and writing is idempotent and never invents data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph import Graph
from graph.ingest import (
    RowError,
    graph_counts,
    parse_event,
    write_catalogue,
    write_customer_base,
    write_events,
)
from graph.model import Brand, Catalogue, Category, Customer, CustomerBase, Event, Product
from tests.conftest import TEST_PII_KEY

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def seed_graph(graph: Graph) -> None:
    await write_catalogue(
        graph,
        Catalogue(
            (Brand("b1", "Kestrel"),),
            (Category("women", "Women"), Category("women-dresses", "Dresses", "women")),
            (Product("SKU-1", "Kestrel Wrap Dress", 59.99, "b1", "women-dresses"),),
        ),
    )
    await write_customer_base(graph, CustomerBase((Customer("C1", T0),), (), (), ()))


def ev(event_id: str, type_: str, **fields: object) -> Event:
    return parse_event(
        {"event_id": event_id, "type": type_, "at": "2026-03-01T10:05:00Z", **fields}
    )


VIEW = {
    "event_id": "e",
    "type": "view",
    "at": "2026-03-01T10:00:00Z",
    "session_id": "s",
    "sku": "x",
}
BUY = {
    "event_id": "e",
    "type": "purchase",
    "at": "2026-03-01T10:00:00Z",
    "sku": "x",
    "customer_id": "c",
}
LOGIN = {"event_id": "e", "type": "login", "at": "2026-03-01T10:00:00Z", "session_id": "s"}


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({**VIEW, "event_id": ""}, "event_id", "required"),
        ({**VIEW, "type": "click"}, "type", "not one of"),
        ({**VIEW, "at": "2026-03-01 10:00"}, "at", "timezone"),
        ({**VIEW, "at": "yesterday"}, "at", "ISO 8601"),
        ({**VIEW, "at": 1772359200}, "at", "ISO 8601"),
        ({**VIEW, "session_id": None}, "session_id", "required"),
        (LOGIN, "customer_id", "required"),
        ({**BUY, "qty": "two"}, "qty", "whole number"),
        ({**BUY, "qty": 1.5}, "qty", "whole number"),
        ({**BUY, "price": -1}, "price", "at least"),
        ({**VIEW, "event_id": ["e"]}, "event_id", "string"),
    ],
)
def test_parse_event_names_the_bad_field_and_why(
    row: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(RowError) as caught:
        parse_event(row)
    assert caught.value.field == field
    assert words in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_parse_event_accepts_csv_strings_and_json_types_alike() -> None:
    from_csv = parse_event(
        {"event_id": "e1", "type": "purchase", "at": "2026-03-01T10:00:00+01:00",
         "sku": "SKU-1", "customer_id": "C1", "qty": "2", "price": "19.5", "session_id": ""}
    )  # fmt: skip
    from_json = parse_event(
        {"event_id": "e1", "type": "purchase", "at": "2026-03-01T10:00:00+01:00",
         "sku": "SKU-1", "customer_id": "C1", "qty": 2, "price": 19.5}
    )  # fmt: skip
    assert from_csv == from_json
    assert from_csv.qty == 2 and from_csv.price == 19.5 and from_csv.session_id is None
    assert from_csv.order_id == "e1"  # a one-line order


async def test_writing_the_same_events_twice_stores_them_once(clean_graph: Graph) -> None:
    await seed_graph(clean_graph)
    events = [
        ev("e1", "view", session_id="s1", device_id="d1", sku="SKU-1"),
        ev("e2", "add_to_cart", session_id="s1", device_id="d1", sku="SKU-1"),
        ev("e3", "login", session_id="s1", device_id="d1", customer_id="C1"),
        ev("e4", "purchase", session_id="s1", sku="SKU-1", customer_id="C1", order_id="o1"),
    ]
    first = await write_events(clean_graph, events, pii_key=TEST_PII_KEY)
    counts = await graph_counts(clean_graph)
    second = await write_events(clean_graph, events, pii_key=TEST_PII_KEY)
    assert sum(first.created.values()) == 4 and not first.rejected
    assert sum(second.created.values()) == 0
    assert sum(second.already_stored.values()) == 4
    assert await graph_counts(clean_graph) == counts
    assert counts["sessions"] == 1 and counts["devices"] == 1


async def test_unknown_product_or_customer_is_rejected_and_the_rest_is_stored(
    clean_graph: Graph,
) -> None:
    await seed_graph(clean_graph)
    result = await write_events(
        clean_graph,
        [
            ev("e1", "view", session_id="s1", sku="SKU-1"),
            ev("e2", "view", session_id="s1", sku="SKU-404"),
            ev("e3", "purchase", sku="SKU-1", customer_id="C404"),
        ],
        pii_key=TEST_PII_KEY,
    )
    assert result.created["view"] == 1
    assert {(r.event_id, r.field) for r in result.rejected} == {
        ("e2", "sku"),
        ("e3", "customer_id"),
    }
    assert "SKU-404" in next(r.reason for r in result.rejected if r.event_id == "e2")
    rows = await clean_graph.read("MATCH (p:Product) RETURN count(p) AS n")
    assert rows[0]["n"] == 1  # no product invented from an event


async def test_a_login_signs_the_session_in_and_leaves_linking_to_the_linkers(
    clean_graph: Graph,
) -> None:
    # The writer records what happened; whether the device becomes the
    # customer's is the identity linkers' decision, made after the write
    # (tests/gateway/test_linking.py).
    await seed_graph(clean_graph)
    await write_events(
        clean_graph,
        [
            ev("e1", "view", session_id="s1", device_id="d1", sku="SKU-1"),
            ev("e2", "login", session_id="s1", customer_id="C1"),
        ],
        pii_key=TEST_PII_KEY,
    )
    signed = await clean_graph.read(
        "MATCH (:Session {id: 's1'})-[:SIGNED_IN_AS]->(c:Customer) RETURN c.id AS id"
    )
    assert signed == [{"id": "C1"}]
    assert await clean_graph.read("MATCH ()-[u:USED_BY]->() RETURN u") == []


async def test_a_purchase_without_price_takes_the_products_price(clean_graph: Graph) -> None:
    await seed_graph(clean_graph)
    await write_events(
        clean_graph, [ev("e1", "purchase", sku="SKU-1", customer_id="C1")], pii_key=TEST_PII_KEY
    )
    rows = await clean_graph.read(
        "MATCH (:Customer {id: 'C1'})-[r:PURCHASED]->(:Product {sku: 'SKU-1'}) "
        "RETURN r.price AS price, r.qty AS qty, r.at AS at"
    )
    assert rows[0]["price"] == 59.99 and rows[0]["qty"] == 1
    assert rows[0]["at"].to_native() == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)


async def test_a_resent_event_in_one_batch_counts_once_and_a_clash_is_rejected(
    clean_graph: Graph,
) -> None:
    await seed_graph(clean_graph)
    view = ev("e1", "view", session_id="s1", sku="SKU-1")
    clash = ev("e1", "view", session_id="s2", sku="SKU-1")
    result = await write_events(clean_graph, [view, view, clash], pii_key=TEST_PII_KEY)
    assert result.created["view"] == 1 and result.already_stored["view"] == 1
    assert [(r.event_id, r.field, r.index) for r in result.rejected] == [("e1", "event_id", 2)]


async def test_two_writers_sending_the_same_events_at_once_store_them_once(
    clean_graph: Graph,
) -> None:
    import asyncio

    await seed_graph(clean_graph)
    events = [ev(f"e{i}", "view", session_id=f"s{i % 7}", sku="SKU-1") for i in range(300)]
    a, b = await asyncio.gather(
        write_events(clean_graph, events, pii_key=TEST_PII_KEY),
        write_events(clean_graph, events, pii_key=TEST_PII_KEY),
    )
    assert a.created["view"] + b.created["view"] == 300
    assert a.already_stored["view"] + b.already_stored["view"] == 300
    assert (await graph_counts(clean_graph))["views"] == 300


async def test_a_login_cannot_take_over_a_session_signed_in_as_another_customer(
    clean_graph: Graph,
) -> None:
    await seed_graph(clean_graph)
    await clean_graph.write("CREATE (:Customer {id: 'C2', created_at: datetime()})")
    mine = ev("l1", "login", session_id="s1", device_id="d1", customer_id="C1")
    first = await write_events(clean_graph, [mine], pii_key=TEST_PII_KEY)
    assert first.created["login"] == 1 and not first.rejected

    theirs = ev("l2", "login", session_id="s1", device_id="d2", customer_id="C2")
    view = ev("v1", "view", session_id="s9", sku="SKU-1")
    second = await write_events(clean_graph, [view, theirs, mine], pii_key=TEST_PII_KEY)

    # The takeover is rejected at its position; the rest of the batch is written,
    # and the owner's own login sent again is a plain resend.
    assert [(r.event_id, r.field, r.index) for r in second.rejected] == [("l2", "session_id", 1)]
    assert second.rejected[0].reason == "the session is signed in as another customer"
    assert second.created["view"] == 1 and second.already_stored["login"] == 1
    owners = await clean_graph.read(
        "MATCH (:Session {id: 's1'})-[:SIGNED_IN_AS]->(c) RETURN c.id AS id"
    )
    assert owners == [{"id": "C1"}]
    # Nor did the rejected login tie the session to its device, or a device to C2.
    assert (
        await clean_graph.read("MATCH (:Device)-[u:USED_BY]->(:Customer {id: 'C2'}) RETURN u") == []
    )
    assert await clean_graph.read("MATCH (:Session {id: 's1'})-[:ON]->(d) RETURN d.id AS id") == [
        {"id": "d1"}
    ]


async def test_of_two_new_logins_to_one_session_in_a_batch_the_first_wins(
    clean_graph: Graph,
) -> None:
    await seed_graph(clean_graph)
    await clean_graph.write("CREATE (:Customer {id: 'C2', created_at: datetime()})")
    result = await write_events(
        clean_graph,
        [
            ev("l1", "login", session_id="s1", customer_id="C1"),
            ev("l2", "login", session_id="s1", customer_id="C2"),
            ev("l3", "login", session_id="s1", customer_id="C1"),
        ],
        pii_key=TEST_PII_KEY,
    )
    assert result.created["login"] == 2
    assert [(r.event_id, r.index) for r in result.rejected] == [("l2", 1)]


async def test_an_id_stored_before_for_a_different_event_is_rejected_not_counted(
    clean_graph: Graph,
) -> None:
    await seed_graph(clean_graph)
    view = ev("e1", "view", session_id="s1", sku="SKU-1")
    buy = ev("p1", "purchase", sku="SKU-1", customer_id="C1")
    assert (
        sum((await write_events(clean_graph, [view, buy], pii_key=TEST_PII_KEY)).created.values())
        == 2
    )

    later = parse_event({**asdict_event(view), "at": "2026-03-01T11:00:00Z"})
    two = parse_event({**asdict_event(buy), "qty": 2})
    result = await write_events(
        clean_graph, [view, later, buy, two], batch_size=1, pii_key=TEST_PII_KEY
    )
    assert [(r.event_id, r.field, r.index) for r in result.rejected] == [
        ("e1", "event_id", 1),
        ("p1", "event_id", 3),
    ]
    assert result.rejected[1].reason == (
        "was stored before for a different purchase event: send each event with an id of its own"
    )
    assert result.already_stored == {"view": 1, "purchase": 1}
    assert sum(result.created.values()) == 0
    # An id names one event of each type: a login may share the view's id.
    login = ev("e1", "login", session_id="s1", customer_id="C1")
    assert (await write_events(clean_graph, [login], pii_key=TEST_PII_KEY)).created == {"login": 1}


def asdict_event(event: Event) -> dict[str, object]:
    row: dict[str, object] = {
        name: getattr(event, name) for name in Event.__dataclass_fields__ if name != "at"
    }
    return {**row, "at": event.at.isoformat()}
