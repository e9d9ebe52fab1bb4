"""The linker is off unless its window is set: these tests turn it on (30 minutes)."""

import pytest


@pytest.fixture(autouse=True)
def thirty_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read when the app starts, which the tightrope_app fixture does after this.
    monkeypatch.setenv("TIGHTROPE_CLEARED_COOKIES_MINUTES", "30")
