"""Boundaries: plugins import only ``tightrope``; graph/ no part of gateway/; each room of
gateway/ only the rooms its table allows, with no import circle between rooms."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
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


# -- the rooms of gateway/ ------------------------------------------------------
#
# gateway/ is grouped by what a module does (docs/architecture.md, "Where things
# live"): a room is a folder under gateway/, and each module of the shared
# vocabulary at the top is a room of its own. graph/ is one more: Neo4j and
# nothing else, so it imports no room of gateway/.

VOCABULARY = {"principal", "settings", "errors", "fields", "experiment"}

# What each room may import besides itself. Every import counts: at the top of a
# module, under TYPE_CHECKING, or inside a function.
MAY_IMPORT: dict[str, set[str]] = {
    "graph": set(),
    "principal": set(),
    "settings": {"experiment", "graph"},
    "experiment": set(),
    # A masked INTERNAL error names its request's id (web/requestid.py).
    "errors": {"graph", "web"},
    # FieldRegistry.scopes_for asks the gate's one scope table.
    "fields": {"principal", "gate"},
    "demo": {"graph"},
    "gate": VOCABULARY | {"graph"},
    "linking": VOCABULARY | {"gate", "graph"},
    # The catalogue's cache (graphql/cache.py), isolation of each strategy
    # (host/isolation.py) and the request id its failure is logged with.
    "strategies": VOCABULARY | {"gate", "graphql", "host", "web", "graph"},
    # The manager and start-up's collection know the plugins' kinds: the hook
    # specifications name their types, and host/collect.py checks them.
    "host": VOCABULARY | {"gate", "strategies", "linking", "web", "graph"},
    # /metrics counts linking's verdicts; the endpoint runs the context's operations.
    "web": VOCABULARY | {"context", "graphql", "linking", "graph"},
    "graphql": VOCABULARY | {"gate", "host", "web", "graph"},
    "oauth": VOCABULARY | {"gate", "graphql", "host", "web", "graph"},
    # The page marks a refusal Global Privacy Control made (gate/gpc.py's source).
    "privacy": VOCABULARY | {"gate", "host", "oauth", "graph"},
    # The shop's figures: lists served (strategies' types), counted by consent.
    "insights": VOCABULARY | {"gate", "strategies", "graph"},
    "context": VOCABULARY
    | {"gate", "graphql", "host", "insights", "linking", "privacy", "strategies", "graph"},
    "app": VOCABULARY
    | {"context", "gate", "graphql", "host", "insights", "linking", "oauth", "privacy"}
    | {"strategies", "web", "graph"},
    "__init__": VOCABULARY
    | {"app", "context", "gate", "graphql", "host", "linking", "oauth", "privacy", "strategies"}
    | {"graph"},
    "authoring": {"app", "host", "oauth", "settings", "strategies", "graph"},
    # The linking evaluation's hostile set registers a client and mints tokens, as the
    # authors' fixtures do, to attack the served app over HTTP as a client would.
    "evaluation": {
        "app",
        "demo",
        "host",
        "insights",
        "linking",
        "oauth",
        "principal",
        "settings",
        "strategies",
        "graph",
    },
    "cli": VOCABULARY
    | {"app", "authoring", "demo", "evaluation", "gate", "graphql", "host", "insights"}
    | {"oauth", "privacy", "strategies", "web", "graph"},
    # The plugin API re-exports what gateway/__init__.py and graph/ export.
    "public": {"__init__", "host", "graph"},
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a module of gateway/ or graph/
    line: int
    type_only: bool  # under TYPE_CHECKING


def host_modules() -> dict[str, Path]:
    """Every module of gateway/ and graph/ by its dotted name (packages by their own)."""
    found = {}
    for top in HOST:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found["tightrope" if name.startswith("gateway.public.tightrope") else name] = path
    return found


def room(module: str) -> str:
    """The room of a module: graph, a folder of gateway/, or a module at its top."""
    parts = module.split(".")
    if parts[0] in ("graph", "tightrope"):
        return "graph" if parts[0] == "graph" else "public"
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def imports(modules: dict[str, Path]) -> list[Import]:
    """Each import of one host module by another, with the packages importing it runs.

    ``from a.b import c`` depends on a.b.c when that is a module, else on a.b;
    importing a.b.c also runs a.b's ``__init__`` (not the root package's, nor
    one the importer is inside: that is already running).
    """
    found = []
    for source, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        type_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for part in node.body
            for n in ast.walk(part)
        }
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}".rstrip(".")
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                parts = name.split(".")
                for depth in range(2, len(parts) + 1):
                    target = ".".join(parts[:depth])
                    inside = source == target or source.startswith(target + ".")
                    if target in modules and not inside:
                        found.append(Import(source, target, node.lineno, id(node) in type_only))
    return found


def circles(edges: Iterable[tuple[str, str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


MODULES = host_modules()
IMPORTS = imports(MODULES)


def test_graph_never_imports_gateway() -> None:
    reached = [i for i in IMPORTS if room(i.source) == "graph" and room(i.target) != "graph"]
    assert reached == []
    assert any(room(i.source) == "graph" for i in IMPORTS)  # the scan sees graph/


def test_each_room_imports_only_the_rooms_its_table_allows() -> None:
    rooms = {room(m) for m in MODULES}
    assert rooms == set(MAY_IMPORT), "a room the table does not name (or names no longer)"
    beyond = sorted(
        f"{MODULES[i.source].relative_to(ROOT)}:{i.line} {room(i.source)} imports {i.target}"
        for i in IMPORTS
        if room(i.target) not in MAY_IMPORT[room(i.source)] | {room(i.source)}
    )
    assert beyond == []


# The one import left out of the circles: FieldRegistry.scopes_for, a public
# method, asks the gate's scope table from inside the method (the gate imports
# fields.py). It goes with plugin API 2.0.
LATE = {("gateway.fields", "gateway.gate"), ("gateway.fields", "gateway.gate.scopes")}


def test_no_import_circle_crosses_a_room_and_none_runs() -> None:
    # Type-only imports count: a circle through them is still a circle a reader
    # must hold in their head. Two remain inside one room each, where a plugin's
    # protocol and the object it is handed name each other (docs/architecture.md).
    edges = [i for i in IMPORTS if (i.source, i.target) not in LATE]
    every = circles((i.source, i.target) for i in edges)
    assert [c for c in every if len({room(m) for m in c}) > 1] == []
    assert circles((i.source, i.target) for i in edges if not i.type_only) == []
    assert {(i.source, i.target) for i in IMPORTS} >= LATE


def test_the_room_checks_see_what_they_look_for() -> None:
    assert room("gateway.web.endpoint") == "web" and room("gateway.app") == "app"
    assert room("tightrope") == "public" and room("graph.ingest.load") == "graph"
    found = {(i.source, i.target, i.type_only) for i in IMPORTS}
    assert ("gateway.web.logs", "gateway.web.requestid", False) in found
    # A package's __init__ runs when one of its modules is imported.
    assert ("gateway.context", "gateway.strategies", False) in found
    assert ("gateway.host.hookspecs", "gateway.strategies.types", True) in found
    assert circles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [{"a", "b", "c"}]
