"""Linking signals: what a user agent and an address are reduced to before they are hashed."""

from __future__ import annotations

import pytest

from gateway.linking.signals import (
    BadSignal,
    SignalKeys,
    browser_family,
    device_kind,
    network_prefix,
    read_signals,
)
from graph.pii import email_hmac
from tests.gateway.linking_helpers import IPAD, IPHONE, MAC

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)
SAMSUNG = (
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


@pytest.mark.parametrize(
    ("agent", "family", "kind"),
    [
        (IPHONE, "Mobile Safari on iOS", "mobile"),
        (IPAD, "Safari on iPadOS", "tablet"),
        (MAC, "Chrome on macOS", "desktop"),
        (ANDROID_CHROME, "Chrome Mobile on Android", "mobile"),
        (SAMSUNG, "Samsung Internet on Android", "mobile"),
        (EDGE, "Edge on Windows", "desktop"),
        (FIREFOX, "Firefox on Linux", "desktop"),
        ("ShopApp/4.2.1 (iPhone; iOS 17.4)", "ShopApp on iOS", "mobile"),
        ("Mozilla/5.0 (compatible)", "Other on Other", None),
    ],
)
def test_a_user_agent_becomes_its_family_and_kind_without_versions(
    agent: str, family: str, kind: str | None
) -> None:
    assert browser_family(agent) == family
    assert device_kind(agent) == kind
    # Two versions of one browser are one family: no fingerprint survives.
    assert browser_family(agent.replace("17_4", "17_5").replace("124.0", "125.1")) == family


@pytest.mark.parametrize("agent", ["", "   ", "x" * 1025, "caf\u00e9/1.0", "bell\u0007"])
def test_a_malformed_user_agent_is_refused(agent: str) -> None:
    with pytest.raises(BadSignal):
        browser_family(agent)


@pytest.mark.parametrize(
    ("given", "prefix"),
    [
        ("81.2.69.142", "81.2.69.0/24"),
        (" 81.2.69.7 ", "81.2.69.0/24"),
        ("81.2.69.128/25", "81.2.69.0/24"),
        ("2a00:1450:4009:81f::200e", "2a00:1450:4009:800::/56"),
    ],
)
def test_an_address_becomes_its_network(given: str, prefix: str) -> None:
    assert network_prefix(given) == prefix


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("999.1.1.1", "not an IP address"),
        ("81.2.69.142:443", "not an IP address"),
        ("81.2.0.0/16", "wider than /24"),
        ("10.1.2.3", "not a public address"),
        ("192.168.1.20", "not a public address"),
        ("127.0.0.1", "not a public address"),
        ("fe80::1", "not a public address"),
        ("", "not an IP address"),
    ],
)
def test_a_network_that_says_nothing_is_refused(given: str, words: str) -> None:
    with pytest.raises(BadSignal, match=words):
        network_prefix(given)


def test_signals_are_keyed_hashes_that_match_only_under_one_key() -> None:
    keys = SignalKeys("signals-key", "pii-key")
    one, ignored = read_signals(keys, user_agent=IPHONE, network="81.2.69.142", email="A@b.test")
    same, _ = read_signals(keys, user_agent=IPHONE.replace("17_4", "17_5"), network="81.2.69.9")
    other, _ = read_signals(SignalKeys("another-key", "pii-key"), network="81.2.69.142")
    assert ignored == []
    assert one.network == same.network and one.user_agent == same.user_agent
    assert other.network != one.network
    assert one.network is not None and "81.2" not in one.network
    # An email hashes exactly as customers' stored emails do, and only as that;
    # typed, it is only a hint, verified (the shop's word) a proof.
    assert one.typed_email == email_hmac("a@b.test", "pii-key") and one.email is None
    verified, _ = read_signals(keys, email="A@b.test", email_verified=True)
    assert verified.email == email_hmac("a@b.test", "pii-key") and verified.typed_email is None
    assert one.device_kind == "mobile"


def test_the_signals_key_is_the_settings_own_or_derived_from_the_pii_key() -> None:
    from tests.gateway.conftest import settings_for_tests

    derived = settings_for_tests().signals_secret()
    assert derived != settings_for_tests().pii_secret()
    assert settings_for_tests(signals_key="chosen").signals_secret() == "chosen"
