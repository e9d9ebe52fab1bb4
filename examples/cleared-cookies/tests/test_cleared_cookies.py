"""cleared-cookies, asked by a real gateway over a seeded graph (tightrope's fixtures).

alice signs in on her Mac at home; then a device nobody has seen visits from
the same network. Each test changes one thing about it.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tightrope_cleared_cookies as plugin

HOME = "81.2.69.142"  # a household's public address: its /24 is the network
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
DEVICES = "{ me { devices { id link { method confidence evidence } } } }"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def event(kind: str, device: str, minutes: int, agent: str, **more: str) -> dict[str, Any]:
    return {
        "eventId": f"{device}-{minutes}",
        "type": kind,
        "at": (START + timedelta(minutes=minutes)).isoformat(),
        "deviceId": device,
        "sessionId": f"{device}-{minutes}",
        "network": HOME,
        "userAgent": agent,
        **more,
    }


async def visit(
    app: Any, *, agent: str = MAC, after: int = 10, consents: tuple[str, ...] = ("cross_device",)
) -> dict[str, Any]:
    """alice signs in on her Mac; ``after`` minutes later a new device visits; her devices."""
    alice = await app.token("alice", ["devices:read"], consents=list(consents))
    # The shop's own back end sends the events: it may name the device ids it
    # keeps (a customer's own token names only ids from startVisit).
    shop = await app.token(None, ["events:write"])
    await app.track([event("LOGIN", "alice-mac", 0, MAC, customerId="alice")], token=shop)
    # sku-08: nothing alice looked at, so the built-in network linker (which
    # weighs shared products) stays unsure and this linker's word is the one.
    await app.track([event("VIEW", "new-device", after, agent, sku="sku-08")], token=shop)
    body = await app.query(DEVICES, token=alice)
    assert "errors" not in body, body
    return {d["id"]: d["link"] for d in body["data"]["me"]["devices"]}


async def test_the_same_browser_back_soon_after_is_linked(tightrope_app: Any) -> None:
    link = (await visit(tightrope_app))["new-device"]
    assert link["method"] == "cleared-cookies"
    assert link["confidence"] == 0.95
    assert link["evidence"] == [
        "The same browser on your network, within 30 minutes of your signed-in visit"
    ]


async def test_another_browser_is_not_linked(tightrope_app: Any) -> None:
    assert "new-device" not in await visit(tightrope_app, agent=IPHONE)


async def test_after_the_window_it_is_not_linked(tightrope_app: Any) -> None:
    assert "new-device" not in await visit(tightrope_app, after=45)


async def test_without_cross_device_consent_the_host_links_nothing(tightrope_app: Any) -> None:
    assert "new-device" not in await visit(tightrope_app, consents=())


def test_it_is_off_until_its_window_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(plugin.WINDOW_VARIABLE)
    assert plugin.window() is None
    monkeypatch.setenv(plugin.WINDOW_VARIABLE, "600")
    with pytest.raises(ValueError, match="1 to 120"):
        plugin.window()
