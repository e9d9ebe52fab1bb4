"""The plugin's market settings, set before tightrope's fixtures start the app."""

import pytest


@pytest.fixture(autouse=True)
def market(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    # A test marked `strict` runs as a deployment for Germany, where a consent
    # must be renewed: with a maximum age of zero days, every consent is too old.
    if request.node.get_closest_marker("strict"):
        monkeypatch.setenv("TIGHTROPE_RENEWAL_MARKET", "de")
        monkeypatch.setenv("TIGHTROPE_RENEWAL_MAX_AGE_DAYS", "0")
    else:
        monkeypatch.setenv("TIGHTROPE_RENEWAL_MARKET", "nl")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "strict: run as a deployment for a strict market")
