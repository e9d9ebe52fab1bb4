"""Signals an event may carry for linking, made safe to keep: keyed hashes of coarse values.

* A **user agent** becomes its browser family ("Mobile Safari on iOS"), whose
  keyed hash is kept, and the kind of device it names (mobile, tablet,
  desktop), kept as the device's kind when nothing else said it; the string
  itself (versions, build numbers: a fingerprint) is never stored.
* A **network** (the shopper's IP address, or a network in CIDR notation)
  becomes its prefix (``TIGHTROPE_LINKING_IPV4_PREFIX``, /24;
  ``TIGHTROPE_LINKING_IPV6_PREFIX``, /56), whose keyed hash is kept. An
  address that is not on the public internet (a private LAN address, loopback)
  says nothing about where the shopper is and is ignored.
* An **email** address given on the device (a guest checkout, a newsletter
  form) becomes ``graph.pii.email_hmac`` of it, the very hash customers'
  emails are stored as, so it can only be compared with them.

The keys come from the validated settings (``Settings.signals_secret()`` and
``Settings.pii_secret()``). A malformed value is not an error for the event:
the event is stored, that signal ignored, and :func:`read_signals` says which
one and why.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from gateway.linking.types import EventSignals
from graph.pii import email_hmac, signal_hmac

if TYPE_CHECKING:
    from gateway.settings import Settings

MAX_USER_AGENT: Final = 1024
MAX_NETWORK: Final = 64
MAX_EMAIL: Final = 254
# A user agent is printable ASCII (RFC 9110 allows little else in practice).
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class BadSignal(ValueError):
    """A signal that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class SignalKeys:
    """What turning signals into hashes needs, read once from the settings."""

    signals: str
    pii: str
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56

    @classmethod
    def from_settings(cls, settings: Settings) -> SignalKeys:
        return cls(
            settings.signals_secret(),
            settings.pii_secret(),
            settings.linking_ipv4_prefix,
            settings.linking_ipv6_prefix,
        )


@dataclass(frozen=True, slots=True)
class IgnoredSignal:
    field: str  # userAgent, network or email
    reason: str


# (marker in the user agent, browser family), first match wins: Edge and
# Samsung Internet also say "Chrome", Chrome also says "Safari".
_BROWSERS: Final = (
    ("EdgA/", "Edge Mobile"),
    ("EdgiOS/", "Edge Mobile"),
    ("Edg/", "Edge"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("OPR/", "Opera"),
    ("FxiOS/", "Firefox Mobile"),
    ("CriOS/", "Chrome Mobile"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS: Final = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("iPod", "iOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def browser_family(user_agent: str) -> str:
    """The browser family and system of a user agent ("Mobile Safari on iOS"); no versions."""
    value = user_agent.strip()
    if not value or len(value) > MAX_USER_AGENT or not _PRINTABLE.match(value):
        raise BadSignal(f"not a user agent (printable ASCII, 1 to {MAX_USER_AGENT} characters)")
    system = next((name for marker, name in _SYSTEMS if marker in value), "Other")
    browser = next((name for marker, name in _BROWSERS if marker in value), None)
    if browser is None:
        # An app or a tool names itself first ("ShopApp/4.2 (iPhone)"); a
        # browser that claims only "Mozilla" is no family we know.
        name = value.split("/", 1)[0].split(" ", 1)[0]
        browser = name if name and name != "Mozilla" and len(name) <= 40 else "Other"
    mobile = "Mobile" in value or system in ("iOS", "Android")
    if browser in ("Chrome", "Safari", "Firefox") and mobile and system != "iPadOS":
        browser = f"{browser} Mobile" if browser != "Safari" else "Mobile Safari"
    return f"{browser} on {system}"


def device_kind(user_agent: str) -> str | None:
    """What kind of device a user agent says it runs on; None when it does not say."""
    if "iPad" in user_agent or ("Android" in user_agent and "Mobile" not in user_agent):
        return "tablet"
    if any(m in user_agent for m in ("iPhone", "iPod", "Android", "Mobile")):
        return "mobile"
    if any(m in user_agent for m in ("Windows", "Macintosh", "CrOS", "X11")):
        return "desktop"
    return None


def network_prefix(network: str, ipv4_prefix: int = 24, ipv6_prefix: int = 56) -> str:
    """The network an address (or a narrower network) is in: its prefix, in CIDR notation."""
    value = network.strip()
    if not value or len(value) > MAX_NETWORK:
        raise BadSignal("not an IP address or network")
    try:
        given = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadSignal("not an IP address or network") from None
    keep = ipv4_prefix if given.version == 4 else ipv6_prefix
    if given.prefixlen < keep:
        raise BadSignal(f"a network wider than /{keep} says too little about where a shopper is")
    address = given.network_address
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    ):
        raise BadSignal("not a public address: it says nothing about the shopper's network")
    return str(given.supernet(new_prefix=keep))


def _email(value: str) -> str:
    email = value.strip()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise BadSignal("not an email address")
    return email


def read_signals(
    keys: SignalKeys,
    *,
    user_agent: str | None = None,
    network: str | None = None,
    email: str | None = None,
    email_verified: bool = False,
) -> tuple[EventSignals, list[IgnoredSignal]]:
    """The hashes of an event's signals, and the signals ignored (with why).

    ``email_verified``: the shop's back end says the address was verified, so it
    proves whose device this is; otherwise it is only typed (``typed_email``).
    """
    ignored: list[IgnoredSignal] = []
    hashed: dict[str, str | None] = {
        "network": None,
        "user_agent": None,
        "email": None,
        "typed_email": None,
        "device_kind": None,
    }
    if user_agent is not None:
        try:
            family = browser_family(user_agent)
            hashed["user_agent"] = signal_hmac("user_agent", family, keys.signals)
            hashed["device_kind"] = device_kind(user_agent)
        except BadSignal as exc:
            ignored.append(IgnoredSignal("userAgent", str(exc)))
    if network is not None:
        try:
            prefix = network_prefix(network, keys.ipv4_prefix, keys.ipv6_prefix)
            hashed["network"] = signal_hmac("network", prefix, keys.signals)
        except BadSignal as exc:
            ignored.append(IgnoredSignal("network", str(exc)))
    if email is not None:
        try:
            hashed["email" if email_verified else "typed_email"] = email_hmac(
                _email(email), keys.pii
            )
        except BadSignal as exc:
            ignored.append(IgnoredSignal("email", str(exc)))
    return EventSignals(**hashed), ignored
