"""The plugin boundary: plugins import one name, ``tightrope``, and only what it exports."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway
import graph
import tightrope
from graph import Graph
from tests.gateway.conftest import Serve, gql

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = set(tightrope.__all__)
# The host's own packages: a plugin that imports them bypasses the plugin API.
# (A plugin package may import its own modules: plugins.recommenders._items.)
HOST = {"gateway", "graph"}


def violations(source: str, filename: str) -> list[str]:
    """Imports of anything but the plugin API (or of the host's packages) in one module."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in HOST or (top == "tightrope" and alias.name != top):
                    found.append(f"{filename}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in HOST or (top == "tightrope" and node.module != top):
                found.append(f"{filename}:{node.lineno} from {node.module} import ...")
                continue
            if top != "tightrope":
                continue
            for alias in node.names:
                if alias.name not in PUBLIC:
                    found.append(f"{filename}:{node.lineno} tightrope.{alias.name} is not exported")
    return found


def plugin_modules() -> list[Path]:
    """The built-in plugins and every third-party plugin shipped in the repository."""
    roots = [ROOT / "plugins", ROOT / "tests" / "plugin_example", ROOT / "tests" / "plugin_wayward"]
    roots += sorted(p for p in (ROOT / "examples").glob("*") if p.is_dir())
    return sorted(path for root in roots for path in root.rglob("*.py"))


def test_plugins_import_only_the_public_api() -> None:
    modules = plugin_modules()
    assert ROOT / "plugins" / "catalogue.py" in modules
    assert ROOT / "tests" / "plugin_example" / "tightrope_example" / "policy.py" in modules
    problems = [v for path in modules for v in violations(path.read_text(), str(path))]
    assert problems == []


def test_the_boundary_check_catches_internal_imports() -> None:
    bad = (
        "from gateway.graphql.schema import build_schema\nimport graph.driver\n"
        "from tightrope import WIPE\nfrom gateway import FieldSpec\nimport graph\n"
        "from tightrope.internal import x\n"
    )
    assert len(violations(bad, "bad.py")) == 6
    assert violations("from tightrope import FieldSpec, Product\nimport tightrope\n", "ok") == []


def test_tightrope_is_part_of_the_api_of_gateway_and_graph_unchanged() -> None:
    assert set(gateway.__all__).isdisjoint(graph.__all__)  # one name, one meaning
    assert PUBLIC.issubset(set(gateway.__all__) | set(graph.__all__))
    for name in PUBLIC:
        origin = gateway if name in gateway.__all__ else graph
        assert getattr(tightrope, name) is getattr(origin, name), name
    assert tightrope.API_VERSION.count(".") == 1


def test_tightrope_is_a_top_level_package_of_the_distribution() -> None:
    # The packaging maps it; the repository's top level has no tightrope/ folder.
    assert not (ROOT / "tightrope").exists()
    assert Path(tightrope.__file__).parent == ROOT / "gateway" / "public" / "tightrope"


async def test_third_party_plugin_field_is_served(demo_graph: Graph, served: Serve) -> None:
    async with served() as (app, client):
        body = await gql(
            client, '{ a: product(sku: "sku-001") { badge } b: product(sku: "sku-050") { badge } }'
        )
    assert body["data"] == {"a": {"badge": "bargain"}, "b": {"badge": None}}
    spec = app.state.registry.get("Product", "badge")
    assert spec is not None and spec.plugin == "example-badges"
