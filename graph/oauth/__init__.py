"""OAuth 2 state in the graph: clients, customers' grants, codes, token families.

The authorization server keeps nothing in memory between requests, so several
gateway processes can share one graph. One module a concern:

- :mod:`graph.oauth.clients` — ``(:Client)``, a registered application.
- :mod:`graph.oauth.customers` — finding the customer (by email, or by id).
- :mod:`graph.oauth.passwords` — customers' password hashes and failed sign-ins.
- :mod:`graph.oauth.grants` — ``(:Customer)-[:AUTHORISED]->(:Client)``.
- :mod:`graph.oauth.codes` — one-time authorization codes.
- :mod:`graph.oauth.families` — token families, the unit of revocation.
- :mod:`graph.oauth.refresh` — rotating refresh tokens inside a family.
- :mod:`graph.oauth.page_sessions` — signed-in sessions of the privacy page.

Times are epoch seconds (integers) except the grant's ``at``, which is shown to
customers and stored as a datetime. Everything is re-exported here, so callers
import from ``graph.oauth``.
"""

from typing import LiteralString

from graph.oauth import codes, families, page_sessions, refresh
from graph.oauth.clients import (
    ClientRecord,
    create_client,
    get_client,
    list_clients,
    remove_client,
)
from graph.oauth.codes import CodeRecord, claim_code, get_code, revoke_family_of_code, save_code
from graph.oauth.customers import customer_by_email, customer_exists
from graph.oauth.families import (
    FamilyRecord,
    LiveFamily,
    create_family,
    get_family,
    live_family,
    revoke_family,
)
from graph.oauth.grants import GrantRecord, grant_scopes, list_grants, merge_grant, revoke_grant
from graph.oauth.page_sessions import end_page_session, page_session_customer, start_page_session
from graph.oauth.passwords import (
    get_password_hash,
    reserve_sign_in_attempt,
    set_password_hash,
    sign_in_succeeded,
)
from graph.oauth.refresh import RefreshRecord, claim_refresh, get_refresh, save_refresh

# Constraints and indexes of the OAuth nodes (graph/schema.py applies them).
STATEMENTS: tuple[LiteralString, ...] = (
    *families.STATEMENTS,
    *refresh.STATEMENTS,
    *codes.STATEMENTS,
    *page_sessions.STATEMENTS,
)

__all__ = [
    "STATEMENTS",
    "ClientRecord",
    "CodeRecord",
    "FamilyRecord",
    "GrantRecord",
    "LiveFamily",
    "RefreshRecord",
    "claim_code",
    "claim_refresh",
    "create_client",
    "create_family",
    "customer_by_email",
    "customer_exists",
    "end_page_session",
    "get_client",
    "get_code",
    "get_family",
    "get_password_hash",
    "get_refresh",
    "grant_scopes",
    "list_clients",
    "list_grants",
    "live_family",
    "merge_grant",
    "page_session_customer",
    "remove_client",
    "reserve_sign_in_attempt",
    "revoke_family",
    "revoke_family_of_code",
    "revoke_grant",
    "save_code",
    "save_refresh",
    "set_password_hash",
    "sign_in_succeeded",
    "start_page_session",
]
