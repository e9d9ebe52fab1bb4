"""The renewal policy, asked by a real gateway over tightrope's seeded shop."""

from typing import Any

import pytest

QUERY = "{ me { purchases { nodes { orderId } } recentlyViewed { product { sku } } } }"
SCOPES = ["purchases:read", "browsing:read"]


@pytest.mark.strict
async def test_in_a_strict_market_an_old_consent_no_longer_counts(tightrope_app: Any) -> None:
    token = await tightrope_app.token("alice", SCOPES, consents=["personalisation"])
    body = await tightrope_app.query(QUERY, token=token)
    assert body["data"]["me"]["recentlyViewed"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONSENT_REQUIRED"
    assert "must be renewed" in error["message"]
    # Service reads (the customer's own orders) need no consent: they stand.
    assert len(body["data"]["me"]["purchases"]["nodes"]) == 2


async def test_elsewhere_the_customers_consent_decides(tightrope_app: Any) -> None:
    token = await tightrope_app.token("alice", SCOPES, consents=["personalisation"])
    body = await tightrope_app.query(QUERY, token=token)
    assert "errors" not in body, body
    assert {v["product"]["sku"] for v in body["data"]["me"]["recentlyViewed"]} == {
        "sku-03",
        "sku-05",
    }


async def test_it_is_installed_and_reads_nothing_itself(tightrope_app: Any) -> None:
    assembly = tightrope_app.app.state.assembly
    manifest = assembly.manifests.of("example-consent-renewal")
    assert manifest.description.startswith("Consents expire")
    assert manifest.categories == frozenset() and manifest.raw_cypher is None
