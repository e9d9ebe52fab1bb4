"""Loading files: idempotent, bad rows reported by line while good rows load, clear failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from graph import Graph
from graph.ingest import LoadError, LoadReport, graph_counts, infer_kind, load_file
from tests.conftest import TEST_DATA_KEYS, TEST_PII_KEY

CATALOGUE_CSV = """\
record,id,name,parent_id,sku,price,in_stock,brand_id,category_id
brand,b1,Kestrel,,,,,,
category,women-dresses,Dresses,women,,,,,
category,women,Women,,,,,,
product,,Kestrel Wrap Dress,,SKU-1,59.99,true,b1,women-dresses
product,,Kestrel Slip Dress,,SKU-2,49.00,false,b1,women-dresses
product,,Lost Dress,,SKU-3,39.00,true,b404,women-dresses
category,men-shoes,Shoes,men,,,,,
product,,Cheap Dress,,SKU-4,free,true,b1,women-dresses
"""

CUSTOMERS = [
    {"record": "customer", "id": "C1", "created_at": "2025-01-02T09:00:00Z", "email": "a@x.test"},
    {"record": "customer", "id": "C2", "created_at": "2025-02-02T09:00:00+01:00"},
    {"record": "device", "id": "d1", "kind": "mobile", "ua_family": "Mobile Safari",
     "first_seen": "2025-01-02T09:00:00Z", "customer_id": "C1", "method": "login"},
    {"record": "device", "id": "d2", "kind": "desktop", "first_seen": "2025-03-01T09:00:00Z"},
    {"record": "consent", "customer_id": "C1", "purpose": "personalisation", "granted": True,
     "at": "2025-01-02T09:01:00Z", "version": "2025-01", "source": "web"},
    {"record": "consent", "customer_id": "C2", "purpose": "marketing", "granted": "no",
     "at": "2025-02-02T09:01:00Z"},
    {"record": "consent", "customer_id": "C9", "purpose": "marketing", "granted": True,
     "at": "2025-02-02T09:01:00Z"},
    {"record": "consent", "customer_id": "C1", "purpose": "spam", "granted": True,
     "at": "2025-02-02T09:01:00Z"},
]  # fmt: skip

EVENTS_CSV = """\
event_id,type,at,session_id,device_id,sku,customer_id,qty,price,order_id
e1,view,2026-03-01T10:00:00Z,s1,d9,SKU-1,,,,
e2,add_to_cart,2026-03-01T10:01:00Z,s1,d9,SKU-1,,,,
,view,2026-03-01T10:02:00Z,s1,d9,SKU-2,,,,
e4,view,2026-03-01T10:03:00Z,s1,d9,SKU-404,,,,
e5,view,2026-03-01 10:04,s1,d9,SKU-2,,,,
e6,login,2026-03-01T10:05:00Z,s1,d9,,C1,,,
e7,purchase,2026-03-01T10:06:00Z,s1,d9,SKU-1,C1,two,,
e8,purchase,2026-03-01T10:07:00Z,s1,d9,SKU-1,C1,1,59.99,o1
"""

# Line numbers of the bad rows above (the header is line 1) and the field each names.
EVENTS_CSV_BAD = {4: "event_id", 5: "sku", 6: "at", 8: "qty"}


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "catalogue.csv").write_text(CATALOGUE_CSV)
    (tmp_path / "events.csv").write_text(EVENTS_CSV)
    write_jsonl(tmp_path / "customers.jsonl", CUSTOMERS)
    return {
        "catalogue": tmp_path / "catalogue.csv",
        "customers": tmp_path / "customers.jsonl",
        "events": tmp_path / "events.csv",
    }


async def load(graph: Graph, path: Path) -> LoadReport:
    """Load one file as the CLI does, with the tests' keys."""
    return await load_file(
        graph, path, progress=False, pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS
    )


async def load_all(graph: Graph, files: dict[str, Path]) -> None:
    for kind in ("catalogue", "customers", "events"):
        await load(graph, files[kind])


def test_kind_is_inferred_from_the_rows(files: dict[str, Path]) -> None:
    assert {infer_kind(path) for path in files.values()} == {"catalogue", "customers", "events"}
    assert all(infer_kind(path) == kind for kind, path in files.items())


async def test_catalogue_bad_rows_are_reported_by_line_and_good_rows_load(
    clean_graph: Graph, files: dict[str, Path]
) -> None:
    report = await load(clean_graph, files["catalogue"])
    assert [(b.line, b.field) for b in report.bad] == [
        (7, "brand_id"),
        (8, "parent_id"),
        (9, "price"),
    ]
    assert "b404" in report.bad[0].reason
    assert report.rows == 8 and report.written["product"] == 2
    counts = await graph_counts(clean_graph)
    assert (counts["brands"], counts["categories"], counts["products"]) == (1, 2, 2)
    # A child listed before its parent still gets its parent.
    rows = await clean_graph.read(
        "MATCH (:Product {sku: 'SKU-1'})-[:IN_CATEGORY]->(:Category)-[:PARENT]->(r:Category) "
        "RETURN r.name AS root"
    )
    assert rows == [{"root": "Women"}]


async def test_events_csv_bad_rows_are_reported_and_good_rows_load(
    clean_graph: Graph, files: dict[str, Path]
) -> None:
    await load(clean_graph, files["catalogue"])
    await load(clean_graph, files["customers"])
    report = await load(clean_graph, files["events"])
    assert {b.line: b.field for b in report.bad} == EVENTS_CSV_BAD
    assert report.rows == 8
    # Every row is accounted for: written or reported.
    assert sum(report.written.values()) + len(report.bad) == report.rows
    counts = await graph_counts(clean_graph)
    assert (counts["views"], counts["carts"], counts["logins"], counts["purchases"]) == (1, 1, 1, 1)


async def test_customers_jsonl_bad_rows_are_reported_and_no_email_is_stored(
    clean_graph: Graph, files: dict[str, Path]
) -> None:
    report = await load(clean_graph, files["customers"])
    assert [(b.line, b.field) for b in report.bad] == [(7, "customer_id"), (8, "purpose")]
    rows = await clean_graph.read(
        "MATCH (c:Customer {id: 'C1'}) RETURN c.email_hmac AS hmac, keys(c) AS keys"
    )
    assert len(rows[0]["hmac"]) == 64 and "email" not in rows[0]["keys"]
    rows = await clean_graph.read(
        "MATCH (c:Customer)-[k:CONSENT]->(p:Purpose) RETURN c.id AS c, p.name AS p, k.granted AS g "
        "ORDER BY c"
    )
    assert rows == [
        {"c": "C1", "p": "personalisation", "g": True},
        {"c": "C2", "p": "marketing", "g": False},
    ]


async def test_events_jsonl_with_broken_lines(clean_graph: Graph, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CATALOGUE_CSV)
    await load(clean_graph, tmp_path / "c.csv")
    path = tmp_path / "events.jsonl"
    good = {"event_id": "e1", "type": "view", "at": "2026-03-01T10:00:00Z", "session_id": "s1"}
    path.write_text(
        json.dumps({**good, "sku": "SKU-1"})
        + "\n\n"  # blank lines are skipped but still counted
        + "{not json\n"
        + json.dumps({**good, "event_id": "e2", "sku": 12.5})
        + "\n"
        + json.dumps([1, 2])
        + "\n"
        + json.dumps({**good, "event_id": "e3", "sku": "SKU-2", "at": "2026-02-30T10:00:00Z"})
        + "\n"
    )
    report = await load(clean_graph, path)
    assert [(b.line, b.field) for b in report.bad] == [
        (3, "json"),
        (4, "sku"),
        (5, "json"),
        (6, "at"),
    ]
    assert report.written["view"] == 1


async def test_customer_records_store_their_timestamps_as_datetimes_at_the_instant_given(
    clean_graph: Graph, files: dict[str, Path]
) -> None:
    """Consent order, device first/last seen and the history compare these: text would not do."""
    for _ in range(2):  # a second load adds no consent history (the change is MERGEd on `at`)
        await load(clean_graph, files["customers"])
    rows = await clean_graph.read(
        "MATCH (c2:Customer {id: 'C2'}), (d:Device {id: 'd1'})-[u:USED_BY]->(c1:Customer),"
        " (c1)-[k:CONSENT]->(), (c1)-[h:CONSENT_CHANGE]->() WHERE c1.id = 'C1'"
        " RETURN c2.created_at AS created, d.first_seen AS seen, u.linked_at AS linked,"
        " k.at AS consent, collect(h.at) AS history"
    )
    assert rows == [
        {
            "created": datetime(2025, 2, 2, 8, 0, tzinfo=UTC),
            "seen": datetime(2025, 1, 2, 9, 0, tzinfo=UTC),
            "linked": datetime(2025, 1, 2, 9, 0, tzinfo=UTC),
            "consent": datetime(2025, 1, 2, 9, 1, tzinfo=UTC),
            "history": [datetime(2025, 1, 2, 9, 1, tzinfo=UTC)],
        }
    ]


async def test_loading_the_same_files_twice_changes_nothing(
    clean_graph: Graph, files: dict[str, Path], tmp_path: Path
) -> None:
    events_jsonl = write_jsonl(
        tmp_path / "more.jsonl",
        [
            {"event_id": f"j{i}", "type": "view", "at": f"2026-03-02T10:{i:02d}:00Z",
             "session_id": f"js{i % 3}", "device_id": "d1", "sku": "SKU-2"}
            for i in range(30)
        ],
    )  # fmt: skip
    await load_all(clean_graph, files)
    await load(clean_graph, events_jsonl)
    first = await graph_counts(clean_graph)
    await load_all(clean_graph, files)
    again = await load(clean_graph, events_jsonl)
    assert await graph_counts(clean_graph) == first
    assert again.unchanged["view"] == 30 and sum(again.written.values()) == 0


def test_cli_loads_a_file_and_prints_line_numbers(
    files: dict[str, Path], clean_graph: Graph
) -> None:
    result = CliRunner().invoke(cli, ["load", str(files["catalogue"]), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "line 7: brand_id: unknown brand 'b404'" in result.output
    assert "2 products" in result.output


@pytest.mark.parametrize("make", ["missing", "directory", "binary", "no_header", "json_array"])
def test_cli_fails_with_status_1_when_the_file_cannot_be_read(
    make: str, tmp_path: Path, graph: Graph
) -> None:
    path = tmp_path / "data.csv"
    if make == "directory":
        path.mkdir()
    elif make == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81garbage\x00\n\x9c")
    elif make == "no_header":
        path.write_text("a,b,c\n1,2,3\n")
    elif make == "json_array":
        path = tmp_path / "data.jsonl"
        path.write_text('[{"event_id": "e1"},\n{"event_id": "e2"}]\n')
    result = CliRunner().invoke(cli, ["load", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "Error:" in result.output and str(path.name) in result.output
    assert "Traceback" not in result.output


def test_load_file_raises_load_error_for_a_missing_file(tmp_path: Path) -> None:
    import asyncio

    with pytest.raises(LoadError, match="no such file"):
        asyncio.run(
            load_file(None, tmp_path / "nope.csv", pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS)
        )  # type: ignore[arg-type]


def test_demo_if_empty_loads_once(clean_graph: Graph) -> None:
    args = ["load", "demo", "--customers", "20", "--products", "30", "--events", "400"]
    first = CliRunner().invoke(cli, [*args, "--if-empty", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "read 400 demo events: 0 bad" in first.output
    second = CliRunner().invoke(cli, [*args, "--if-empty", "--no-progress"])
    assert second.exit_code == 0, second.output
    assert "demo not loaded" in second.output


async def test_a_spreadsheet_export_with_a_byte_order_mark_loads(
    clean_graph: Graph, tmp_path: Path
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CATALOGUE_CSV.encode())
    report = await load(clean_graph, path)
    assert report.written["product"] == 2


async def test_a_reused_event_id_across_batches_is_reported_never_counted_as_stored(
    clean_graph: Graph, tmp_path: Path
) -> None:
    (tmp_path / "c.csv").write_text(CATALOGUE_CSV)
    await load(clean_graph, tmp_path / "c.csv")
    view = {"type": "view", "at": "2026-03-01T10:00:00Z", "session_id": "s1"}
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {**view, "event_id": "d1", "sku": "SKU-1"},  # line 1 (batch 1)
            {**view, "event_id": "d2", "sku": "SKU-2"},  # line 2 (batch 1)
            {**view, "event_id": "d1", "sku": "SKU-2"},  # line 3 (batch 2): another event
            {**view, "event_id": "d3", "sku": "SKU-1"},  # line 4 (batch 2)
            {**view, "event_id": "d1", "sku": "SKU-1"},  # line 5 (batch 3): a resend
        ],
    )
    report = await load_file(
        clean_graph, path, batch=2, progress=False, pii_key=TEST_PII_KEY, data_keys=TEST_DATA_KEYS
    )
    assert [(b.line, b.field) for b in report.bad] == [(3, "event_id")]
    assert "stored before for a different view event" in report.bad[0].reason
    assert (report.written["view"], report.unchanged["view"]) == (3, 1)
    # Every row is accounted for: written, already stored, or reported.
    assert sum(report.written.values()) + sum(report.unchanged.values()) + len(report.bad) == 5


async def test_a_category_reloaded_without_a_parent_becomes_top_level(
    clean_graph: Graph, tmp_path: Path
) -> None:
    first = tmp_path / "catalogue.csv"
    first.write_text(CATALOGUE_CSV)
    await load(clean_graph, first)
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "record,id,name,parent_id\n"
        "category,men,Men,\n"
        "category,women-dresses,Dresses,\n"  # now a root of its own
        "category,women,Women,men\n"  # and Women moves under Men
    )
    report = await load(clean_graph, moved)
    assert report.bad == []
    rows = await clean_graph.read(
        "MATCH (c:Category) OPTIONAL MATCH (c)-[:PARENT]->(p) RETURN c.id AS id, "
        "collect(p.id) AS parents ORDER BY id"
    )
    assert rows == [
        {"id": "men", "parents": []},
        {"id": "women", "parents": ["men"]},
        {"id": "women-dresses", "parents": []},
    ]
