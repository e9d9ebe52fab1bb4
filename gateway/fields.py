"""What plugins contribute to the schema: fields, types and scopes, as plain data.

A :class:`FieldSpec` is the unit of the schema. Besides how to resolve the field
it declares what the host's gate (gateway/gate/) needs to decide who may see
it: the data category it reveals, the purpose it serves, the OAuth scopes it
needs and its row rule (whose data it is, and who may see that row). Resolvers
only fetch; the gate decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.principal import ClientKind


class DataCategory(StrEnum):
    """What kind of personal data a field reveals; consent is given per category."""

    PROFILE = "profile"
    CONTACT = "contact"
    PURCHASE_HISTORY = "purchase_history"
    BROWSING_HISTORY = "browsing_history"
    DEVICE = "device"
    DERIVED_PREFERENCES = "derived_preferences"


class Purpose(StrEnum):
    """Why a read happens; every consent is given or withheld per purpose.

    ``service`` is the customer's own data read through the retailer's own
    frontends (order history, basket): it needs scopes, no consent. The others
    need the customer's consent as the consent policies decide (docs/hooks.md).
    """

    SERVICE = "service"
    PERSONALISATION = "personalisation"
    CROSS_DEVICE = "cross_device"
    ANALYTICS = "analytics"
    THIRD_PARTY_SHARING = "third_party_sharing"
    MARKETING = "marketing"


class RowRule(StrEnum):
    """Whose data a field reveals and who may see that row; the gate applies it.

    The row is the parent object for a field of an object type, and the
    fetched value for a field of ``Query`` (or ``Mutation``).
    """

    # The token's own customer (``me``, ``setConsent``): needs a customer token.
    SELF = "self"
    # A field of a customer (the row's ``id``): the token's own customer, or any
    # customer for the back office (``customers:read``).
    CUSTOMER = "customer"
    # Any customer, for the back office only (``customers:read``): ``customer(id)``.
    BACK_OFFICE = "back_office"
    # A session (the row's ``customer_id``): an anonymous one to whoever holds its
    # id; one signed in as a customer only to that customer with
    # ``browsing:read``, or to the back office.
    SESSION = "session"


# The types the host always knows; plugins add fields to them, and may declare more.
CORE_TYPES: tuple[str, ...] = (
    "Query",
    "Mutation",
    "Customer",
    "Product",
    "Brand",
    "Category",
    "Device",
    "Session",
)


@dataclass(frozen=True)
class ReadAhead:
    """What a field's resolver will load, worked out before it runs (optional).

    A query that runs from its plan (gateway/graphql/prepared/) loads these at its
    start, so that a customer and what the request asks of them share one Bolt
    exchange instead of one each, one after the other. The resolver still
    loads the same key from the same loader (and finds it loaded); the gate
    still decides, field by field, what is returned.

    ``loader`` is one of the plugin's own loaders. ``key(row, arguments,
    context)`` is the key the resolver will load for the row whose id is
    ``row`` (None: it will load nothing). A field of ``Query`` that answers one
    customer also names that customer: ``row(arguments, context)``, the id its
    sub-fields read ahead with.
    """

    loader: str
    key: Callable[[str, Mapping[str, Any], Any], Any]
    row: Callable[[Mapping[str, Any], Any], str | None] | None = None


@dataclass(frozen=True)
class FieldSpec:
    """One field of one type, as a plugin registers it.

    ``returns`` is either a Python annotation (a scalar, a static strawberry type,
    ``list[str]``) or a type written as in GraphQL SDL that may name types built
    at start-up, e.g. ``"[Category!]!"`` or ``"ProductConnection!"``.
    ``resolver`` takes ``root`` (the parent object) and ``info`` plus the field's
    arguments; without one, the field reads attribute ``attr`` (default: ``name``)
    of the parent object. ``plugin`` is filled in by the host.

    A field with a ``row`` rule is *gated*: besides its scopes, the host checks
    the row rule and asks the consent policies whether ``purpose`` may read
    ``data_category`` of that row's customer, and records an allowed read in
    the customer's access log. Such a field must name its category and purpose.
    A field with a category but no row rule (``Purchase.at``) belongs to the
    row of the gated field that reached it. Fields of ``Query`` or ``Mutation``
    that reveal a category must have a row rule.
    """

    type_name: str
    name: str
    returns: Any
    resolver: Callable[..., Any] | None = None
    attr: str | None = None
    description: str | None = None
    data_category: DataCategory | None = None
    scopes: frozenset[str] = frozenset()
    plugin: str = ""
    purpose: Purpose | None = None
    row: RowRule | None = None
    # Optional: what the resolver will load, read ahead by prepared operations.
    ahead: ReadAhead | None = None

    @property
    def gated(self) -> bool:
        """Whether the host's gate wraps this field (scopes or a row rule)."""
        return bool(self.scopes) or self.row is not None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type_name, self.name)


@dataclass(frozen=True)
class TypeSpec:
    """An object type a plugin adds beside the core types (its fields come as FieldSpecs)."""

    name: str
    description: str | None = None
    plugin: str = ""


ALL_KINDS: frozenset[ClientKind] = frozenset(ClientKind)
# The retailer's own clients: its services and back office, its web shop and app.
RETAILER_KINDS: frozenset[ClientKind] = frozenset({ClientKind.FIRST_PARTY, ClientKind.PUBLIC})
FIRST_PARTY_ONLY: frozenset[ClientKind] = frozenset({ClientKind.FIRST_PARTY})


@dataclass(frozen=True)
class ScopeSpec:
    """An OAuth scope: its name, what it grants in words a customer understands, and
    the kinds of client that may ever hold it (a client of another kind never gets
    it, whatever it asks for or its registration says).

    ``back_office``: the scope reads or writes *any* customer's data. No token
    issued for a customer ever holds it (gateway/gate/scopes.py).
    """

    name: str
    description: str
    plugin: str = ""
    kinds: frozenset[ClientKind] = ALL_KINDS
    back_office: bool = False


# The starting catalogue; plugins add more through ``register_scopes``.
CORE_SCOPES: tuple[ScopeSpec, ...] = (
    ScopeSpec("profile:read", "your customer id, display name and when you joined", "tightrope"),
    ScopeSpec("profile.contact:read", "your email address and other contact details", "tightrope"),
    ScopeSpec("purchases:read", "what you have bought", "tightrope"),
    ScopeSpec("browsing:read", "what you viewed and put in your cart, on any device", "tightrope"),
    ScopeSpec("devices:read", "the devices linked to you and how they were linked", "tightrope"),
    ScopeSpec("recommendations:read", "recommendations made for you and why", "tightrope"),
    ScopeSpec("consent:read", "the consents you have given", "tightrope"),
    # Only the retailer's own frontends change consents: a third party able to
    # write them could grant itself third_party_sharing.
    ScopeSpec("consent:write", "change the consents you have given", "tightrope", RETAILER_KINDS),
    # Recording views, carts, purchases and logins in a customer's name would
    # let another company shape their history and profile.
    ScopeSpec(
        "events:write", "send what you view, add to cart and buy", "tightrope", RETAILER_KINDS
    ),
    ScopeSpec(
        "customers:read",
        "back office: read any customer",
        "tightrope",
        FIRST_PARTY_ONLY,
        back_office=True,
    ),
)


@dataclass(frozen=True)
class FieldRegistry:
    """Every field of the served schema, with its metadata; read by gates and tests."""

    fields: tuple[FieldSpec, ...]
    types: tuple[TypeSpec, ...] = ()
    scopes: tuple[ScopeSpec, ...] = field(default=CORE_SCOPES)

    def of(self, type_name: str) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.type_name == type_name)

    def get(self, type_name: str, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.key == (type_name, name):
                return spec
        return None

    @property
    def scope_names(self) -> frozenset[str]:
        return frozenset(scope.name for scope in self.scopes)

    def scopes_for(self, kind: ClientKind | None) -> frozenset[str]:
        """Every scope a client of ``kind`` may hold at all (none for no client)."""
        from gateway.gate.scopes import ScopeTable  # the gate's table; it imports this module

        return ScopeTable(self.scopes).allowed(kind)
