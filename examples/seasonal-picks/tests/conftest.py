"""December picks for the seeded shop (tightrope's fixtures serve the installed plugin)."""

import pytest


@pytest.fixture(autouse=True)
def december(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read when the app starts, which the tightrope_app fixture does after this.
    monkeypatch.setenv("TIGHTROPE_SEASONAL_PICKS", "12,1:sku-07,sku-12,sku-09;6:sku-02")
    monkeypatch.setenv("TIGHTROPE_SEASONAL_MONTH", "12")
