"""Parsing catalogue and customer records: one row in, one model object out.

Each parser raises :class:`~graph.ingest.rows.RowError` for the first bad
field. Whether a record's references (a product's brand, a consent's customer)
exist is not decided here but when loading, against the file and the graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from graph.ingest.rows import (
    RowError,
    boolean,
    number,
    required_text,
    required_timestamp,
    text,
    timestamp,
)
from graph.model import (
    DEVICE_KINDS,
    PURPOSES,
    Brand,
    Category,
    Consent,
    Contact,
    Customer,
    Device,
    DeviceLink,
    Product,
)
from graph.pii import email_hmac
from graph.sealed import DataKeys, seal_contact

# A phone number as people write it: digits, spaces and + - . ( ) /.
PHONE = re.compile(r"^\+?[0-9 ()./-]{3,40}$")

RecordParser = Callable[[Mapping[str, Any]], Any]


def parse_brand(row: Mapping[str, Any]) -> Brand:
    return Brand(required_text(row, "id"), required_text(row, "name"))


def parse_category(row: Mapping[str, Any]) -> Category:
    cid = required_text(row, "id")
    parent = text(row, "parent_id", required=False)
    if parent == cid:
        raise RowError("parent_id", "a category cannot be its own parent")
    return Category(cid, required_text(row, "name"), parent)


def parse_product(row: Mapping[str, Any]) -> Product:
    price = number(row, "price", minimum=0)
    if price is None:
        raise RowError("price", "is required")
    return Product(
        sku=required_text(row, "sku"),
        name=required_text(row, "name"),
        price=price,
        brand_id=required_text(row, "brand_id"),
        category_id=required_text(row, "category_id"),
        in_stock=boolean(row, "in_stock", default=True),
    )


def parse_contact(row: Mapping[str, Any]) -> Contact | None:
    """The row's contact details (email, name, phone), or None if it gives none."""
    email = text(row, "email", required=False)
    if email is not None and ("@" not in email or len(email) > 254 or " " in email):
        raise RowError("email", "is not an email address")
    name = text(row, "name", required=False)
    phone = text(row, "phone", required=False)
    if phone is not None and not PHONE.match(phone):
        raise RowError("phone", "is not a phone number")
    if email is None and name is None and phone is None:
        return None
    return Contact(email=email, name=name, phone=phone)


def customer_parser(pii_key: str, data_keys: DataKeys) -> Callable[[Mapping[str, Any]], Customer]:
    """The customer row parser for one load: emails hashed, contact details sealed.

    Both keys are the deployment's (``Settings.pii_secret()`` and
    ``Settings.data_keys_in_use()``). A row that gives any contact detail
    replaces the stored contact as a whole; a row that gives none leaves it.
    """

    def parse(row: Mapping[str, Any]) -> Customer:
        customer_id = required_text(row, "id")
        contact = parse_contact(row)
        email = contact.email if contact else None
        return Customer(
            customer_id,
            required_timestamp(row, "created_at"),
            email_hmac(email, pii_key) if email else text(row, "email_hmac", required=False),
            seal_contact(contact, customer_id, data_keys) if contact else None,
        )

    return parse


def parse_device(row: Mapping[str, Any]) -> tuple[Device, DeviceLink | None]:
    """A device, and its link to a customer when the row names one."""
    kind = required_text(row, "kind")
    if kind not in DEVICE_KINDS:
        raise RowError("kind", f"{kind!r} is not one of {', '.join(DEVICE_KINDS)}")
    first = required_timestamp(row, "first_seen")
    last = timestamp(row, "last_seen", required=False) or first
    ua_family = text(row, "ua_family", required=False) or ""
    device = Device(required_text(row, "id"), kind, ua_family, first, last)
    customer = text(row, "customer_id", required=False)
    if customer is None:
        return device, None
    confidence = number(row, "confidence", minimum=0.0)
    if confidence is not None and confidence > 1.0:
        raise RowError("confidence", "must be between 0 and 1")
    link = DeviceLink(
        device.id,
        customer,
        text(row, "method", required=False) or "import",
        1.0 if confidence is None else confidence,
        timestamp(row, "linked_at", required=False) or first,
        text(row, "evidence", required=False),
    )
    return device, link


def parse_consent(row: Mapping[str, Any]) -> Consent:
    purpose = required_text(row, "purpose")
    if purpose not in PURPOSES:
        raise RowError("purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
    return Consent(
        required_text(row, "customer_id"),
        purpose,
        boolean(row, "granted"),
        required_timestamp(row, "at"),
        text(row, "version", required=False) or "1",
        text(row, "source", required=False) or "import",
    )


def record_parsers(pii_key: str, data_keys: DataKeys) -> dict[str, RecordParser]:
    """The parser of each value of the ``record`` column, for one load."""
    return {
        "brand": parse_brand,
        "category": parse_category,
        "product": parse_product,
        "customer": customer_parser(pii_key, data_keys),
        "device": parse_device,
        "consent": parse_consent,
    }
