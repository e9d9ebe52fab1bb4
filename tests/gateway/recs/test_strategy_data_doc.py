"""docs/strategy-data.md stays in step with what a strategy's ``data`` offers.

Every public method of ``StrategyData`` is documented with its exact
signature, every field of every type the methods return has its row, every
kind of ranking and of related product the built-in strategies derive is
named, and the page's example runs as written.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from gateway import NOT_PERSONAL, DataCategory, Manifest, Purpose, StrategyData, Subject
from graph import Graph, Product, ProductPage
from graph.recs import Owned, Preference, Ranked, Related, Seen
from tests.gateway.conftest import Serve, gql
from tests.gateway.recs.test_blend import Plugin

DOC = Path(__file__).resolve().parents[3] / "docs" / "strategy-data.md"
TYPES = (Owned, Seen, Preference, Product, ProductPage, Related, Ranked)


def signature(name: str, method: Any) -> str:
    """A method's signature as the page writes it (annotations as in the source)."""
    parts, starred = [], False
    for param in list(inspect.signature(method).parameters.values())[1:]:
        if param.kind is param.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        text = f"{param.name}: {param.annotation}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    returns = inspect.signature(method).return_annotation
    return f"{name}({', '.join(parts)}) -> {returns}"


def methods() -> dict[str, str]:
    return {
        name: signature(name, method)
        for name, method in inspect.getmembers(StrategyData, inspect.isfunction)
        if not name.startswith("_")
    }


def headings() -> list[str]:
    return re.findall(r"^### `(.+)`$", DOC.read_text(), re.MULTILINE)


def section(title: str) -> str:
    """The text under ``### `title``` up to the next heading."""
    text = DOC.read_text()
    start = text.index(f"### `{title}`\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end >= 0 else None]


def test_every_method_is_documented_with_its_exact_signature() -> None:
    found = methods()
    assert {"purchases", "views", "catalogue", "ranking", "related"} <= set(found)
    documented = [h for h in headings() if "(" in h]
    assert sorted(documented) == sorted(found.values())


def test_every_field_of_what_the_methods_return_has_its_row() -> None:
    returned = " ".join(methods().values())
    for kind in TYPES:
        assert kind.__name__ in returned or kind is Product, kind  # Product: in ProductPage
        rows = section(kind.__name__)
        for field in dataclasses.fields(kind):
            # A table cell writes the type's "|" as "\\|".
            cell = str(field.type).replace("|", "\\|")
            assert f"| `{field.name}` | `{cell}` |" in rows, (kind.__name__, field.name)


async def test_every_kind_the_built_ins_derive_is_documented(shop: Graph) -> None:
    # The shop fixture ran every built-in strategy's recompute.
    rankings = await shop.read("MATCH (r:Ranking) RETURN collect(DISTINCT r.kind) AS kinds")
    related = await shop.read("MATCH ()-[a:ALSO]->() RETURN collect(DISTINCT a.kind) AS kinds")
    assert rankings[0]["kinds"] and related[0]["kinds"]
    ranking_doc = section(methods()["ranking"])
    related_doc = section(methods()["related"])
    for kind in rankings[0]["kinds"]:
        assert f"| `{kind}` |" in ranking_doc, kind
    for kind in related[0]["kinds"]:
        assert f"| `{kind}` |" in related_doc, kind


async def test_the_pages_example_lists_a_brands_products_from_recommend(
    shop: Graph, served: Serve
) -> None:
    [example] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    space: dict[str, Any] = {}
    exec(compile(example, str(DOC), "exec"), space)  # noqa: S102 - our own documentation
    manifest = Manifest(
        purposes=frozenset({Purpose.PERSONALISATION}),
        categories=frozenset({DataCategory.PURCHASE_HISTORY}),
    )
    loyal = Plugin("brand-loyal", manifest, register_recommenders=lambda: [space["BrandLoyal"]()])
    query = '{ me { recommendations(first: 10, strategy: "brand-loyal") { product { sku } } } }'
    async with served(plugins=[loyal]) as (_, client):
        body = await gql(client, query, customer="ana")
    assert "errors" not in body, body
    # Ana bought two Northbrook boots: the three others, all of them, alone.
    skus = [item["product"]["sku"] for item in body["data"]["me"]["recommendations"]]
    assert sorted(skus) == ["ankle", "desert", "rain-boots"]


@pytest.mark.single_run  # counts what its plugin is asked
async def test_a_ranking_kind_nothing_derives_is_empty_and_warned_about_once(
    shop: Graph, served: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[Any, ...]] = []

    class Popular:
        name = "popular-picks"
        purpose = NOT_PERSONAL
        categories: frozenset[DataCategory] = frozenset()

        async def recommend(self, subject: Subject, count: int, data: StrategyData) -> list[Any]:
            popular, kinds = await data.ranking("popular"), await data.ranking_kinds()
            seen.append((popular, kinds, await data.ranking("trending")))
            return []

    plugin = Plugin("popular-plugin", register_recommenders=lambda: [Popular()])
    query = '{ product(sku: "chelsea") { similar { score } } }'
    with caplog.at_level(logging.WARNING, logger="tightrope"):
        async with served(plugins=[plugin]) as (_, client):
            for _ in range(2):
                await gql(client, query)
    assert len(seen) == 2
    for popular, kinds, trending in seen:
        assert popular == () and kinds == ("trending",) and trending
    warned = [r.getMessage() for r in caplog.records if "'popular'" in r.getMessage()]
    assert len(warned) == 1  # once per plugin and kind, not per request
    assert "'popular-plugin'" in warned[0] and "trending" in warned[0]
