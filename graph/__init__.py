"""graph: Neo4j and nothing else.

What plugins and the gateway may use is exported here; everything else in this
package is internal to it.
"""

from graph.access_log import (
    AccessRecord,
    CategoryUse,
    access_log_page,
    category_use,
    write_access_records,
)
from graph.catalogue import (
    ProductPage,
    brands_by_id,
    bump_catalogue_version,
    catalogue_version,
    categories_by_id,
    categories_of_products,
    children_of,
    list_products,
    products_by_sku,
    search_products,
)
from graph.consent import consent_history, consents_of_customers, set_consent
from graph.customers import customers_by_id, devices_by_id, devices_of_customers, sessions_by_id
from graph.driver import Graph, GraphTimeout, GraphUnavailable, Neo4jSettings, connect
from graph.history import (
    CartItem,
    CartKey,
    Purchase,
    PurchasePage,
    PurchasesKey,
    ViewedProduct,
    ViewsKey,
    carts_of_customers,
    carts_of_sessions,
    purchases_of_customers,
    views_of_customers,
    views_of_sessions,
)
from graph.ingest import RowError, WriteResult, parse_event, write_events
from graph.model import (
    PURPOSES,
    Brand,
    Category,
    Consent,
    Customer,
    CustomerRef,
    Device,
    Event,
    Product,
    Session,
)
from graph.oauth import GrantRecord, list_grants, revoke_grant
from graph.privacy import HeldData, data_held

__all__ = [
    "PURPOSES",
    "AccessRecord",
    "Brand",
    "CartItem",
    "CartKey",
    "Category",
    "CategoryUse",
    "Consent",
    "Customer",
    "CustomerRef",
    "Device",
    "Event",
    "GrantRecord",
    "Graph",
    "GraphTimeout",
    "GraphUnavailable",
    "HeldData",
    "Neo4jSettings",
    "Product",
    "ProductPage",
    "Purchase",
    "PurchasePage",
    "PurchasesKey",
    "RowError",
    "Session",
    "ViewedProduct",
    "ViewsKey",
    "WriteResult",
    "access_log_page",
    "brands_by_id",
    "bump_catalogue_version",
    "carts_of_customers",
    "carts_of_sessions",
    "catalogue_version",
    "categories_by_id",
    "categories_of_products",
    "category_use",
    "children_of",
    "connect",
    "consent_history",
    "consents_of_customers",
    "customers_by_id",
    "data_held",
    "devices_by_id",
    "devices_of_customers",
    "list_grants",
    "list_products",
    "parse_event",
    "products_by_sku",
    "purchases_of_customers",
    "revoke_grant",
    "search_products",
    "sessions_by_id",
    "set_consent",
    "views_of_customers",
    "views_of_sessions",
    "write_access_records",
    "write_events",
]
