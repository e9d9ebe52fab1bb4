"""The fixtures tightrope ships for plugins' tests (pytest11: gateway/authoring/testing.py)."""

from __future__ import annotations

import pytest

from gateway.authoring.testing import Gateway


async def test_tokens_carry_the_chosen_scopes_and_consents(tightrope_app: Gateway) -> None:
    query = "{ me { id purchases { nodes { orderId } } recentlyViewed { product { sku } } } }"
    granted = await tightrope_app.token(
        "alice", ["purchases:read", "browsing:read"], consents=["personalisation"]
    )
    body = await tightrope_app.query(query, token=granted)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["id"] == "alice" and len(me["purchases"]["nodes"]) == 2  # the seeded shop
    assert {v["product"]["sku"] for v in me["recentlyViewed"]} == {"sku-03", "sku-05"}

    withheld = await tightrope_app.token(
        "alice", ["purchases:read", "browsing:read"], withheld=["personalisation"]
    )
    refused = await tightrope_app.query(query, token=withheld)
    assert refused["data"]["me"]["recentlyViewed"] is None
    assert refused["errors"][0]["extensions"]["code"] == "CONSENT_REQUIRED"

    narrow = await tightrope_app.token("alice", ["purchases:read"])
    body = await tightrope_app.query("{ me { recentlyViewed { product { sku } } } }", token=narrow)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await tightrope_app.query("{ me { id } }")
    assert anonymous["data"] is None or anonymous["data"]["me"] is None


TRENDING = '{ me { recommendations(strategy: "trending") { product { sku } strategy } } }'


async def test_the_app_serves_what_recompute_derives(tightrope_app: Gateway) -> None:
    # Before each test the fixture derives what every strategy serves from, as
    # `tightrope recompute` does: here the trending rankings of the seeded shop.
    token = await tightrope_app.token("alice", ["recommendations:read"])
    body = await tightrope_app.query(TRENDING, token=token)
    assert "errors" not in body, body
    items = body["data"]["me"]["recommendations"]
    # sku-01, bought by both customers, sells best.
    assert items[0] == {"product": {"sku": "sku-01"}, "strategy": "trending"}
    summaries = await tightrope_app.recompute("trending")
    assert list(summaries) == ["trending"] and "rankings" in summaries["trending"]
    with pytest.raises(KeyError, match="no strategy named popular"):
        await tightrope_app.recompute("popular")


@pytest.mark.parametrize("tightrope_recompute", [[]])
async def test_a_suite_may_derive_nothing(tightrope_app: Gateway) -> None:
    token = await tightrope_app.token("alice", ["recommendations:read"])
    body = await tightrope_app.query(TRENDING, token=token)
    assert body["data"]["me"]["recommendations"] == []
    await tightrope_app.recompute()
    body = await tightrope_app.query(TRENDING, token=token)
    assert body["data"]["me"]["recommendations"]
