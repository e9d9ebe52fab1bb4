"""The retail graph as plain, frozen dataclasses.

These are what the loader, the demo generator and the repository functions pass
around: no driver types, no behaviour. Timestamps are timezone-aware datetimes;
the driver stores them as Neo4j ``DateTime`` values, which compare and sort
correctly across offsets.

Nothing is invented: a property the graph does not hold is ``None`` here (and
null in the API), never a default that would say something false. Only keys
(ids, SKUs) are always there. A device first seen in an event, for instance,
has no kind until a customers file says what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

# The purposes a customer can grant or withhold consent for (docs/design.md).
PURPOSES: Final = (
    "personalisation",
    "cross_device",
    "analytics",
    "third_party_sharing",
    "marketing",
)

EventType = Literal["view", "add_to_cart", "purchase", "login"]
EVENT_TYPES: Final[tuple[EventType, ...]] = ("view", "add_to_cart", "purchase", "login")

DeviceKind = Literal["mobile", "desktop", "tablet", "kiosk"]
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = ("mobile", "desktop", "tablet", "kiosk")


@dataclass(frozen=True, slots=True)
class Brand:
    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str | None
    parent_id: str | None = None  # None for a root such as "Women"


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str | None
    price: float | None
    brand_id: str | None
    category_id: str | None
    in_stock: bool | None = True


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """A customer known only by id: what the fields of the Customer type may rely on.

    ``me`` answers with one when the token's check already proved the customer
    exists, so a query of ``me { id purchases }`` reads no customer node; a
    field that needs more (``createdAt``) loads it.
    """

    id: str


@dataclass(frozen=True, slots=True)
class Customer(CustomerRef):
    created_at: datetime | None
    # Only a keyed hash of the email is kept, so the graph can match a returning
    # customer by email without holding the address itself.
    email_hmac: str | None = None
    # The contact details, sealed (graph/sealed.py): only ciphertext is stored.
    contact_enc: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A customer's contact details, in clear: only ever in memory, sealed in the graph."""

    email: str | None = None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: DeviceKind | None
    ua_family: str | None
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceLink:
    """(:Device)-[:USED_BY]->(:Customer): how we know a device is a customer's."""

    device_id: str
    customer_id: str
    method: str  # "login", "app_install", "probabilistic", ...
    confidence: float  # 1.0 for deterministic links
    linked_at: datetime
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """How a device came to count as a customer's: the stored ``USED_BY`` edge.

    ``evidence`` is what a customer reads ("You signed in on this device on
    2 March 2026"), ``codes`` the same for machines (``SIGNED_IN``,
    ``SAME_NETWORK``, ...), ``linker`` the linker that proposed it. Links
    imported from a customers file may carry only some of these.
    """

    method: str | None
    confidence: float | None
    linked_at: datetime | None
    evidence: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    linker: str | None = None


@dataclass(frozen=True, slots=True)
class LinkedDevice(Device):
    """A device as one of a customer's: with the link that makes it theirs."""

    link: Link | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    customer_id: str
    purpose: str  # one of PURPOSES
    granted: bool
    at: datetime
    version: str = "1"
    # Where it was given: "api", "page" or "import" (older data, such as the
    # demo's, also says "web", "app" or "store").
    source: str = "web"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    started_at: datetime | None
    channel: str | None = None
    device_id: str | None = None
    # The customer the visitor signed in as during this session, if they did.
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One behavioural event, as sent by a frontend or found in an events file.

    ``event_id`` is chosen by the sender and makes every write idempotent: the
    same event sent twice is stored once.
    """

    event_id: str
    type: EventType
    at: datetime
    session_id: str | None = None
    device_id: str | None = None
    channel: str | None = None
    sku: str | None = None
    customer_id: str | None = None
    qty: int | None = None
    price: float | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Catalogue:
    brands: tuple[Brand, ...]
    categories: tuple[Category, ...]  # parents before children
    products: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class CustomerBase:
    """Customers with their known devices, device links and consents."""

    customers: tuple[Customer, ...]
    devices: tuple[Device, ...]
    links: tuple[DeviceLink, ...]
    consents: tuple[Consent, ...]
