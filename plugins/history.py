"""Built-in plugin ``tightrope-history``: what a customer bought, viewed and has in the basket.

A customer's views and basket span every session signed in as them and every
session on a device linked to them, so the basket started on the phone is
still there on the laptop. Those fields need ``browsing:read``; purchases need
``purchases:read``. A visitor's own session answers the same questions without
a scope, like the session's other fields: its id is the visitor's key.

Purchases and the basket serve the customer (purpose ``service``: scopes only);
"recently viewed" is personalisation, which needs the customer's consent. The
host's gate applies the row rules (the customer's own, or the back office; a
session its holder owns) and the consent policies.

Each field reads through a per-request DataLoader, so a request about many
customers or sessions costs one query per field, however many there are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tightrope import (
    CartItem,
    CartKey,
    Connection,
    CustomerRef,
    DataCategory,
    FieldSpec,
    Manifest,
    PurchasePage,
    PurchasesKey,
    Purpose,
    ReadAhead,
    RowRule,
    Session,
    Settings,
    TypeSpec,
    ViewedProduct,
    ViewsKey,
    batch_loader,
    carts_of_customers,
    carts_of_sessions,
    connection_fields,
    connection_types,
    decode_time_cursor,
    encode_cursor,
    hookimpl,
    make_connection,
    page_size,
    purchases_of_customers,
    views_of_customers,
    views_of_sessions,
)

Info = strawberry.Info


class HistorySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_HISTORY_", extra="ignore")

    # An item added to a basket longer ago than this is no longer in it.
    # (Which linked devices count, TIGHTROPE_HISTORY_MIN_LINK_CONFIDENCE, is a
    # gateway setting: the journey and recommendations follow it too.)
    cart_window_days: int = Field(default=30, ge=1, le=3650)


@hookimpl
def register_settings() -> type[BaseSettings]:
    return HistorySettings


@hookimpl
def register_loaders() -> dict[str, Any]:
    return {
        "customer_purchases": batch_loader(purchases_of_customers),
        "customer_views": batch_loader(views_of_customers),
        "customer_cart": batch_loader(carts_of_customers),
        "session_views": batch_loader(views_of_sessions),
        "session_cart": batch_loader(carts_of_sessions),
    }


@hookimpl
def register_types() -> list[TypeSpec]:
    return [
        TypeSpec("Purchase", "One order line: a product bought, when, how many, at what price."),
        *connection_types("Purchase"),
        TypeSpec("ViewedProduct", "A product viewed, with the last time it was viewed."),
        TypeSpec("CartItem", "A product in the basket, with the last time it was added."),
    ]


# -- resolvers ----------------------------------------------------------------


def _after(after: str | None) -> tuple[datetime | None, str | None]:
    position = decode_time_cursor(after, "id")
    return (None, None) if position is None else position


def _purchases_key(
    context: Any, customer_id: str, first: int | None, after: str | None
) -> PurchasesKey:
    settings: Settings = context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    after_at, after_id = _after(after)
    return PurchasesKey(customer_id, size, after_at, after_id)


# The key customer_purchases will load, for a query run from its plan to read
# ahead with the customer (tightrope.ReadAhead).
PURCHASES_AHEAD = ReadAhead(
    "customer_purchases",
    key=lambda row, arguments, context: _purchases_key(
        context, row, arguments.get("first"), arguments.get("after")
    ),
)


async def customer_purchases(
    root: CustomerRef, info: Info, first: int | None = None, after: str | None = None
) -> Connection:
    key = _purchases_key(info.context, root.id, first, after)
    page: PurchasePage = await info.context.loader("customer_purchases").load(key)
    cursors = [encode_cursor({"at": p.at.isoformat(), "id": p.event_id}) for p in page.purchases]
    return make_connection(page.purchases, cursors, page.has_next)


def _views_key(context: Any, id: str, first: int | None) -> ViewsKey:
    settings: Settings = context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    return ViewsKey(id, size, settings.history_min_link_confidence)


VIEWS_AHEAD = ReadAhead(
    "customer_views",
    key=lambda row, arguments, context: _views_key(context, row, arguments.get("first")),
)


def _cart_key(info: Info, id: str) -> CartKey:
    history = info.context.plugin_settings(HistorySettings)
    since = datetime.now(UTC) - timedelta(days=history.cart_window_days)
    # A basket is bounded like any list, so a bot's session cannot make it huge.
    limit = info.context.settings.max_page_size
    return CartKey(id, since, limit, info.context.settings.history_min_link_confidence)


async def customer_recently_viewed(
    root: CustomerRef, info: Info, first: int | None = None
) -> list[ViewedProduct]:
    key = _views_key(info.context, root.id, first)
    found: list[ViewedProduct] = await info.context.loader("customer_views").load(key)
    return found


async def customer_cart(root: CustomerRef, info: Info) -> list[CartItem]:
    found: list[CartItem] = await info.context.loader("customer_cart").load(
        _cart_key(info, root.id)
    )
    return found


async def session_views(root: Session, info: Info, first: int | None = None) -> list[ViewedProduct]:
    key = _views_key(info.context, root.id, first)
    found: list[ViewedProduct] = await info.context.loader("session_views").load(key)
    return found


async def session_cart(root: Session, info: Info) -> list[CartItem]:
    key = _cart_key(info, root.id)
    found: list[CartItem] = await info.context.loader("session_cart").load(key)
    return found


@hookimpl
def register_fields() -> list[FieldSpec]:
    purchases, browsing = DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY
    purchases_read = frozenset({"purchases:read"})
    browsing_read = frozenset({"browsing:read"})
    service, customer, session = Purpose.SERVICE, RowRule.CUSTOMER, RowRule.SESSION
    return [
        FieldSpec(
            "Customer",
            "purchases",
            "PurchaseConnection!",
            customer_purchases,
            description="What the customer bought, newest first.",
            data_category=purchases,
            scopes=purchases_read,
            purpose=service,
            row=customer,
            ahead=PURCHASES_AHEAD,
        ),
        FieldSpec(
            "Customer",
            "recentlyViewed",
            "[ViewedProduct!]!",
            customer_recently_viewed,
            description="Products the customer viewed in any of their sessions, on any of "
            "their devices: each once, most recently viewed first.",
            data_category=browsing,
            scopes=browsing_read,
            purpose=Purpose.PERSONALISATION,
            row=customer,
            ahead=VIEWS_AHEAD,
        ),
        FieldSpec(
            "Customer",
            "cart",
            "[CartItem!]!",
            customer_cart,
            description="The basket across the customer's devices: products added recently "
            "and not bought since, last added first.",
            data_category=browsing,
            scopes=browsing_read,
            purpose=service,
            row=customer,
        ),
        FieldSpec(
            "Session",
            "views",
            "[ViewedProduct!]!",
            session_views,
            description="Products viewed in this session: each once, most recent first.",
            data_category=browsing,
            purpose=service,
            row=session,
        ),
        FieldSpec(
            "Session",
            "cart",
            "[CartItem!]!",
            session_cart,
            description="This session's basket: products added recently and not bought "
            "since, last added first.",
            data_category=browsing,
            purpose=service,
            row=session,
        ),
        FieldSpec("Purchase", "product", "Product!", data_category=purchases),
        FieldSpec("Purchase", "at", "DateTime!", data_category=purchases),
        FieldSpec("Purchase", "qty", "Int", data_category=purchases),
        FieldSpec(
            "Purchase",
            "price",
            "Float",
            description="The unit price paid; null when the order line did not record it.",
            data_category=purchases,
        ),
        FieldSpec("Purchase", "orderId", "ID!", attr="order_id", data_category=purchases),
        *connection_fields("Purchase"),
        FieldSpec("ViewedProduct", "product", "Product!", data_category=browsing),
        FieldSpec(
            "ViewedProduct", "viewedAt", "DateTime!", attr="viewed_at", data_category=browsing
        ),
        FieldSpec("CartItem", "product", "Product!", data_category=browsing),
        FieldSpec("CartItem", "addedAt", "DateTime!", attr="added_at", data_category=browsing),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE, Purpose.PERSONALISATION}),
        categories=frozenset({DataCategory.PURCHASE_HISTORY, DataCategory.BROWSING_HISTORY}),
        description="What a customer bought, viewed and has in the basket.",
    )
