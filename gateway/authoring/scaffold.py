"""``tightrope plugin new``: a ready plugin package, from templates, for each kind of strategy.

A package holds a pyproject with the ``tightrope`` entry point, a working
strategy of its kind with its manifest, tests that pass as generated (on the
fixtures of gateway/authoring/testing.py) and a README. Kinds: ``recommender``,
``linker`` (an identity linker: its templates are in gateway/authoring/scaffold_linker.py)
and ``consent``.

Templates use ``string.Template`` (``$name``), so Python's braces need no escaping.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from gateway.authoring.scaffold_linker import LINKER, LINKER_TEST
from gateway.host.hookspecs import API_VERSION

KINDS = ("recommender", "linker", "consent")
NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$summary"
requires-python = ">=3.11"
# The plugin API this package was written against (tightrope.API_VERSION $api).
dependencies = ["tightrope>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8", "pytest-asyncio>=0.24"]

# How the gateway finds the plugin: the `tightrope` entry-point group.
[project.entry-points.tightrope]
$name = "$module"

[tool.setuptools]
packages = ["$module"]

[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"
"""

README = """\
# $name

$summary A tightrope $kind plugin (plugin API $api).

    pip install -e '.[test]'      # into your own environment, where tightrope is installed
    tightrope plugins             # lists $name with its manifest
    pytest                        # a local Neo4j starts on TIGHTROPE_NEO4J_PORT (7688)

`$module/__init__.py` holds the plugin and its manifest: the purposes and data
categories it uses. The gateway refuses to start if the plugin's $noun uses
anything the manifest does not declare, and refuses at run time a read
outside it. The tests use the fixtures tightrope ships (`tightrope_app`,
`tightrope_graph`, `tightrope_plugins`); `tests/conftest.py` names the plugin.
"""

CONFTEST = '''\
"""The plugin under test, for tightrope's fixtures (served beside the installed plugins)."""

import pytest

import $module


@pytest.fixture
def tightrope_plugins() -> list[object]:
    return [$module]
'''

RECOMMENDER = '''\
"""$summary

A recommendation strategy: products the customer (or visitor) looked at and
has not bought. It reads browsing history, for personalisation: the host runs
it only for customers who consented, and hands it only that category.
"""

from __future__ import annotations

from tightrope import (
    PERSONALISATION,
    Candidate,
    DataCategory,
    Manifest,
    Purpose,
    Reason,
    StrategyData,
    Subject,
    SubjectKind,
    hookimpl,
)

READS = frozenset({DataCategory.BROWSING_HISTORY})


class $cls:
    name = "$name"
    purpose = PERSONALISATION
    categories = READS
    subjects = frozenset({SubjectKind.CUSTOMER, SubjectKind.SESSION})

    async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Candidate]:
        viewed = await data.views()
        found = await data.products(seen.sku for seen in viewed)
        candidates = []
        for rank, seen in enumerate(viewed):
            product = found.get(seen.sku)
            if product is None:
                continue
            reason = Reason("LOOKED_AT", f"You looked at {product.name}", READS, PERSONALISATION)
            candidates.append(Candidate(seen.sku, 1.0 / (1 + rank), (reason,)))
        return candidates[:count]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=READS,
        description="$summary",
    )


@hookimpl
def register_recommenders() -> list[$cls]:
    return [$cls()]
'''

RECOMMENDER_TEST = '''\
"""$name, served by a real gateway over a seeded graph (tightrope's fixtures)."""

from typing import Any

QUERY = """
{ me { recommendations(first: 5, strategy: "$name") {
    product { sku } strategy reasons { code text } } } }
"""


async def test_a_consenting_customer_gets_what_they_looked_at(tightrope_app: Any) -> None:
    # alice viewed sku-03 and sku-05 (the seeded shop).
    token = await tightrope_app.token(
        "alice", ["recommendations:read"], consents=["personalisation"]
    )
    body = await tightrope_app.query(QUERY, token=token)
    assert "errors" not in body, body
    items = body["data"]["me"]["recommendations"]
    assert {item["product"]["sku"] for item in items} == {"sku-03", "sku-05"}
    assert all(item["strategy"] == "$name" for item in items)
    assert items[0]["reasons"][0]["code"] == "LOOKED_AT"


async def test_without_consent_it_does_not_run_and_the_answer_says_why(
    tightrope_app: Any,
) -> None:
    token = await tightrope_app.token(
        "alice", ["recommendations:read"], withheld=["personalisation"]
    )
    body = await tightrope_app.query(QUERY, token=token)
    assert body["data"]["me"]["recommendations"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "CONSENT_REQUIRED"
    assert error["extensions"]["purpose"] == "personalisation"
    assert error["extensions"]["category"] == "browsing_history"


async def test_the_manifest_is_what_the_gateway_holds_it_to(tightrope_app: Any) -> None:
    assembly = tightrope_app.app.state.assembly
    plugin = assembly.recommendations.strategies["$name"].plugin
    assert sorted(assembly.manifests.of(plugin).categories) == ["browsing_history"]
'''

CONSENT = '''\
"""$summary

A consent policy: the host asks every policy before every read of a
customer's data and allows it only if all allow it. This one never lets
browsing history be used for personalisation, whatever the customer granted:
a policy can only take away.
"""

from __future__ import annotations

from tightrope import ConsentQuestion, DataCategory, Decision, Manifest, Purpose, hookimpl


class $cls:
    def decide(self, question: ConsentQuestion) -> Decision:
        if (
            question.purpose is Purpose.PERSONALISATION
            and DataCategory.BROWSING_HISTORY in question.categories
        ):
            return question.deny("this shop does not personalise on what you browse")
        return question.allow()


@hookimpl
def plugin_manifest() -> Manifest:
    # A policy reads nothing itself: the host hands it the question.
    return Manifest(description="$summary")


@hookimpl
def register_consent_policies() -> list[$cls]:
    return [$cls()]
'''

CONSENT_TEST = '''\
"""$name, asked by a real gateway over a seeded graph (tightrope's fixtures)."""

from typing import Any

QUERY = "{ me { purchases { nodes { orderId } } recentlyViewed { product { sku } } } }"


async def test_browsing_is_never_used_for_personalisation(tightrope_app: Any) -> None:
    token = await tightrope_app.token(
        "alice", ["purchases:read", "browsing:read"], consents=["personalisation"]
    )
    body = await tightrope_app.query(QUERY, token=token)
    assert body["data"]["me"]["recentlyViewed"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONSENT_REQUIRED"
    assert "does not personalise on what you browse" in error["message"]


async def test_other_reads_stand(tightrope_app: Any) -> None:
    token = await tightrope_app.token("alice", ["purchases:read"])
    body = await tightrope_app.query("{ me { purchases { nodes { orderId } } } }", token=token)
    assert "errors" not in body, body
    assert len(body["data"]["me"]["purchases"]["nodes"]) == 2
'''

TEMPLATES = {
    "recommender": (RECOMMENDER, RECOMMENDER_TEST, "strategy"),
    "linker": (LINKER, LINKER_TEST, "linker"),
    "consent": (CONSENT, CONSENT_TEST, "policy"),
}


def write_package(name: str, kind: str, parent: Path) -> Path:
    """Write the package ``parent/name``; return its folder. Refuses to overwrite."""
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r}: use lower-case letters, digits and dashes (my-picks)")
    if kind not in TEMPLATES:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    root = parent / name
    if root.exists():
        raise FileExistsError(f"{root} exists already")
    module = name.replace("-", "_")
    plugin, tests, noun = TEMPLATES[kind]
    words = {
        "name": name,
        "dist": f"tightrope-{name}" if not name.startswith("tightrope-") else name,
        "module": module,
        "cls": "".join(part.capitalize() for part in name.split("-")),
        "kind": kind,
        "noun": noun,
        "api": API_VERSION,
        "summary": f"The {name} {kind} plugin for tightrope.",
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{module}/__init__.py": plugin,
        "tests/conftest.py": CONFTEST,
        f"tests/test_{module}.py": tests,
    }
    for path, template in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(template).substitute(words))
    return root
