"""`tightrope insights`: the HTML report, its charts and data, opened in a real Chromium."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from graph import Graph
from tests.gateway.conftest import Serve
from tests.gateway.insights.conftest import ANALYTICS, click_first_item, customer_or_backend
from tests.gateway.oauth.test_browser import ARGS, CHROMIUM
from tests.gateway.oauth.test_browser import pytestmark as needs_chromium

ARTEFACTS = Path(__file__).resolve().parents[3] / "test-artefacts"
PNG = b"\x89PNG\r\n\x1a\n"


async def shop_with_clicks(served: Serve) -> None:
    async with served(authenticate=customer_or_backend) as (_, client):
        for c in ANALYTICS:
            await click_first_item(client, c)


@needs_chromium
async def test_the_report_is_one_file_that_opens_in_a_browser_with_every_part(
    shop: Graph, served: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import playwright.async_api as playwright_api

    await shop_with_clicks(served)
    monkeypatch.setenv("TIGHTROPE_INSIGHTS_MIN_CUSTOMERS", "3")
    out = tmp_path / "report"
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["insights", "--days", "7", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "personal recommendations against the holdout: not enough data yet" in result.output
    assert f"report: {out / 'report.html'}" in result.output
    for chart in ("strategies", "lift", "findings", "dormant"):
        assert (out / f"{chart}.png").read_bytes().startswith(PNG)
    data = json.loads((out / "report.json").read_text())
    home_row = next(r for r in data["performance"] if r["name"] == "home")
    assert home_row["clicks"] == len(ANALYTICS)

    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        await page.goto((out / "report.html").as_uri())
        headings = await page.locator("h2").all_inner_texts()
        images = await page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        home_cells = await page.locator("#lists tr", has_text="home").first.inner_text()
        dormant = await page.locator("#dormant tbody tr").count()
        ARTEFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTEFACTS / "insights-report.png"), full_page=True)
        await browser.close()
    assert headings == [
        "What personalisation earns",
        "What the lists did",
        "What to act on",
        "What the shop holds, and what it uses",
    ]
    assert len(images) == 4 and all(loaded for _, loaded in images), images
    assert str(len(ANALYTICS)) in home_cells
    assert dormant == len(data["dormant"]["rows"])
    # Self-contained: the page itself and its inlined images, nothing fetched from anywhere.
    assert all(url.startswith(("file:", "data:")) for url in fetched), fetched


async def test_json_prints_the_same_data_and_writes_nothing(
    shop: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["insights", "--json", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"performance", "lift", "findings", "dormant", "settings", "period"}
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
