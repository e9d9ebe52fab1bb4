"""The plugin boundary: plugins use only what gateway/ and graph/ export."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway
import graph
from graph import Graph
from tests.gateway.conftest import Serve, gql

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"gateway": set(gateway.__all__), "graph": set(graph.__all__)}


def violations(source: str, filename: str) -> list[str]:
    """Imports of gateway/graph internals in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in PUBLIC and alias.name != top:
                    found.append(f"{filename}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top not in PUBLIC:
                continue
            if node.module != top:
                found.append(f"{filename}:{node.lineno} from {node.module} import ...")
                continue
            for alias in node.names:
                if alias.name not in PUBLIC[top]:
                    found.append(f"{filename}:{node.lineno} {top}.{alias.name} is not exported")
    return found


def plugin_modules() -> list[Path]:
    return sorted((ROOT / "plugins").rglob("*.py")) + sorted(
        (ROOT / "tests" / "plugin_example").rglob("*.py")
    )


def test_plugins_import_only_the_public_api() -> None:
    problems = [v for path in plugin_modules() for v in violations(path.read_text(), str(path))]
    assert problems == []


def test_the_boundary_check_catches_internal_imports() -> None:
    bad = "from gateway.schema import build_schema\nimport graph.driver\nfrom graph import WIPE\n"
    assert len(violations(bad, "bad.py")) == 3
    assert violations("from gateway import FieldSpec\nimport graph\n", "ok.py") == []


async def test_third_party_plugin_field_is_served(demo_graph: Graph, served: Serve) -> None:
    async with served() as (app, client):
        body = await gql(
            client, '{ a: product(sku: "sku-001") { badge } b: product(sku: "sku-050") { badge } }'
        )
    assert body["data"] == {"a": {"badge": "bargain"}, "b": {"badge": None}}
    spec = app.state.registry.get("Product", "badge")
    assert spec is not None and spec.plugin == "example-badges"
