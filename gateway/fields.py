"""What plugins contribute to the schema: fields, types and scopes, as plain data.

A :class:`FieldSpec` is the unit of the schema. Besides how to resolve the field
it records the data category the field reveals and the OAuth scopes it needs;
the host reads those (the scope gate, the consent gate, the access log) so that
no resolver has to enforce anything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DataCategory(StrEnum):
    """What kind of personal data a field reveals; consent is given per category."""

    PROFILE = "profile"
    CONTACT = "contact"
    PURCHASE_HISTORY = "purchase_history"
    BROWSING_HISTORY = "browsing_history"
    DEVICE = "device"
    DERIVED_PREFERENCES = "derived_preferences"


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
class FieldSpec:
    """One field of one type, as a plugin registers it.

    ``returns`` is either a Python annotation (a scalar, a static strawberry type,
    ``list[str]``) or a type written as in GraphQL SDL that may name types built
    at start-up, e.g. ``"[Category!]!"`` or ``"ProductConnection!"``.
    ``resolver`` takes ``root`` (the parent object) and ``info`` plus the field's
    arguments; without one, the field reads attribute ``attr`` (default: ``name``)
    of the parent object. ``plugin`` is filled in by the host.
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

    @property
    def key(self) -> tuple[str, str]:
        return (self.type_name, self.name)


@dataclass(frozen=True)
class TypeSpec:
    """An object type a plugin adds beside the core types (its fields come as FieldSpecs)."""

    name: str
    description: str | None = None
    plugin: str = ""


@dataclass(frozen=True)
class ScopeSpec:
    """An OAuth scope: its name and what it grants, in words a customer understands."""

    name: str
    description: str
    plugin: str = ""


# The starting catalogue; plugins add more through ``register_scopes``.
CORE_SCOPES: tuple[ScopeSpec, ...] = (
    ScopeSpec("profile:read", "your customer id, display name and when you joined", "tightrope"),
    ScopeSpec("profile.contact:read", "your email address and other contact details", "tightrope"),
    ScopeSpec("purchases:read", "what you have bought", "tightrope"),
    ScopeSpec("browsing:read", "what you viewed and put in your cart, on any device", "tightrope"),
    ScopeSpec("devices:read", "the devices linked to you and how they were linked", "tightrope"),
    ScopeSpec("recommendations:read", "recommendations made for you and why", "tightrope"),
    ScopeSpec("consent:read", "the consents you have given", "tightrope"),
    ScopeSpec("consent:write", "change the consents you have given", "tightrope"),
    ScopeSpec("events:write", "send what you view, add to cart and buy", "tightrope"),
    ScopeSpec("customers:read", "back office: read any customer", "tightrope"),
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
