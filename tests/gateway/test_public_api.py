"""The plugin API, name by name: what ``tightrope`` exports, and what left it.

A name added here is a promise to every plugin author (the minor version of
``tightrope.API_VERSION`` grows); a name removed breaks their plugins, so it
first goes through ``gateway.host.hookspecs.DEPRECATED_EXPORTS`` for a release.
"""

from __future__ import annotations

import warnings

import pytest

import gateway
import graph
import tightrope
from gateway.host.hookspecs import DEPRECATED_EXPORTS
from gateway.host.manager import PluginDeprecationWarning

# Every name a plugin may import, as of plugin API 1.1.
PUBLIC = [
    "API_VERSION",
    "CROSS_DEVICE",
    "DETERMINISTIC",
    "EMAIL",
    "LOGIN",
    "NOT_PERSONAL",
    "PERSONALISATION",
    "PURPOSES",
    "AccessRecord",
    "AlreadyErased",
    "Arrival",
    "BadUserInput",
    "BlendRequest",
    "Brand",
    "Candidate",
    "CartItem",
    "CartKey",
    "Category",
    "CategoryUse",
    "ClientKind",
    "Connection",
    "Consent",
    "ConsentPolicy",
    "ConsentQuestion",
    "ConsentRequired",
    "Contact",
    "Context",
    "Customer",
    "CustomerRef",
    "CustomerRights",
    "CustomersAllowed",
    "DataCategory",
    "Decision",
    "Device",
    "Edge",
    "Erasure",
    "ErasureRefused",
    "ErrorCode",
    "Event",
    "EventSignals",
    "Evidence",
    "FieldRegistry",
    "FieldSpec",
    "Forbidden",
    "GatewayError",
    "GrantRecord",
    "Graph",
    "GraphBusy",
    "GraphTimeout",
    "GraphUnavailable",
    "HeldData",
    "IdentityLinker",
    "IgnoredSignal",
    "Interaction",
    "JourneyPage",
    "JourneyStep",
    "Link",
    "LinkedDevice",
    "LinkerData",
    "Manifest",
    "NetworkView",
    "NotFound",
    "Observation",
    "Owned",
    "PageInfo",
    "PluginDeprecationWarning",
    "Preference",
    "Principal",
    "Product",
    "ProductPage",
    "Proposal",
    "Purchase",
    "PurchasePage",
    "PurchasesKey",
    "Purpose",
    "QueryTooComplex",
    "Ranked",
    "Ranking",
    "RateLimited",
    "ReadAhead",
    "Reason",
    "Recommendation",
    "Recommender",
    "RecomputeFailed",
    "Registered",
    "Related",
    "RequestGate",
    "RowError",
    "RowRule",
    "ScopeSpec",
    "Seen",
    "ServedList",
    "Session",
    "Settings",
    "Shopper",
    "SignIn",
    "Skipped",
    "StrategyData",
    "StrategyResult",
    "Subject",
    "SubjectKind",
    "SuggestedDevice",
    "Trend",
    "TypeSpec",
    "Unauthenticated",
    "Unavailable",
    "Undeclared",
    "VersionedCache",
    "ViewedProduct",
    "ViewsKey",
    "WriteResult",
    "access_log_page",
    "batch_loader",
    "brands_by_id",
    "cached_batch_loader",
    "carts_of_customers",
    "carts_of_sessions",
    "catalogue_version",
    "categories_by_id",
    "categories_of_products",
    "category_use",
    "children_of",
    "confirm_device",
    "connection_fields",
    "connection_types",
    "consent_history",
    "contacts_by_id",
    "customers_by_id",
    "customers_who_bought",
    "data_held",
    "decode_cursor",
    "decode_time_cursor",
    "devices_by_id",
    "devices_of_customers",
    "drop_preferences",
    "drop_stale",
    "encode_cursor",
    "flat_input",
    "forget_guesses",
    "hookimpl",
    "journey_of",
    "links_between",
    "list_grants",
    "list_products",
    "make_connection",
    "page_size",
    "parse_event",
    "password_sign_in",
    "privacy_page_routes",
    "products_by_sku",
    "purchase_interactions",
    "purchases_of_customers",
    "reject_device",
    "revoke_grant",
    "search_products",
    "session_interactions",
    "sessions_by_id",
    "suggestions_of_customers",
    "trends",
    "unlink_device",
    "views_of_customers",
    "views_of_sessions",
    "write_events",
    "write_preferences",
    "write_rankings",
    "write_related",
]


def test_the_public_names_are_exactly_these() -> None:
    assert tightrope.__all__ == PUBLIC
    assert tightrope.API_VERSION == "1.1"


def test_no_host_only_writer_is_public() -> None:
    host_only = {"connect", "create_app", "set_consent", "write_access_records"}
    assert host_only.isdisjoint(tightrope.__all__)
    assert host_only <= DEPRECATED_EXPORTS.keys()
    assert DEPRECATED_EXPORTS.keys().isdisjoint(tightrope.__all__)


@pytest.mark.parametrize("name", sorted(DEPRECATED_EXPORTS))
def test_a_deprecated_name_still_imports_and_says_what_to_use(name: str) -> None:
    gone = DEPRECATED_EXPORTS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(tightrope, name)
    origin = gateway if name in gateway.__all__ else graph
    assert value is getattr(origin, name)
    [warning] = caught
    assert issubclass(warning.category, PluginDeprecationWarning)
    assert f"tightrope.{name} is deprecated since plugin API {gone.since}" in str(warning.message)
    assert gone.instead in str(warning.message)


def test_a_name_never_exported_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'WIPE'"):
        _ = tightrope.WIPE  # type: ignore[attr-defined]


def test_context_consent_is_the_gate_under_its_old_name(graph: graph.Graph) -> None:
    from gateway.app import assemble
    from tests.gateway.conftest import settings_for_tests

    context = assemble(settings_for_tests()).context(gateway.ANONYMOUS, graph)
    with pytest.warns(PluginDeprecationWarning, match="use info.context.gate"):
        old = context.consent
    assert old is context.gate
