"""Seasonal picks, served by a real gateway over tightrope's seeded shop."""

from typing import Any

import pytest

from tightrope_seasonal import parse_picks

QUERY = """
{ me { recommendations(first: 5, strategy: "seasonal") {
    product { sku } strategy reasons { code text } } } }
"""


async def test_the_months_picks_in_stock_in_order(tightrope_app: Any) -> None:
    # No consent asked: the picks are the same for everyone.
    token = await tightrope_app.token("bob", ["recommendations:read"])
    body = await tightrope_app.query(QUERY, token=token)
    assert "errors" not in body, body
    items = body["data"]["me"]["recommendations"]
    # sku-12 is out of stock in the seeded shop.
    assert [item["product"]["sku"] for item in items] == ["sku-07", "sku-09"]
    assert items[0]["reasons"][0] == {"code": "SEASONAL", "text": "In season for December: Coat 7"}


async def test_it_is_installed_and_declares_nothing_personal(tightrope_app: Any) -> None:
    assembly = tightrope_app.app.state.assembly
    strategy = assembly.recommendations.strategies["seasonal"]
    assert strategy.plugin == "example-seasonal-picks"  # loaded from its entry point
    manifest = assembly.manifests.of(strategy.plugin)
    assert manifest.purposes == frozenset() and manifest.categories == frozenset()


def test_picks_are_read_strictly() -> None:
    assert parse_picks("11,12:a,b;6:c") == {11: ["a", "b"], 12: ["a", "b"], 6: ["c"]}
    with pytest.raises(ValueError, match="months 1-12"):
        parse_picks("13:a")
