"""Built-in plugin ``tightrope-authorised-apps``: the apps a customer let in, and taking them back.

``me { authorisedApps { client clientName scopes grantedAt } }`` lists the
customer's grants; ``revokeApp(clientId)`` deletes one, and the authorization
server's own check makes every access and refresh token of that app fail on
the very next request. Both belong to the retailer's own frontends (the privacy
dashboard), so their scopes are first-party only. Who may see or change whose
apps is the host's gate (row rules ``CUSTOMER`` and ``SELF``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import strawberry

from tightrope import (
    ClientKind,
    DataCategory,
    FieldSpec,
    Graph,
    Manifest,
    Principal,
    Purpose,
    RowRule,
    ScopeSpec,
    hookimpl,
    list_grants,
    revoke_grant,
)

Info = strawberry.Info


@strawberry.type(description="An app the customer allowed to read part of their profile.")
class AuthorisedApp:
    client: strawberry.ID = strawberry.field(description="The app's client id")
    client_name: str
    scopes: list[str] = strawberry.field(description="What the customer allowed it")
    granted_at: datetime = strawberry.field(description="When the customer last approved it")


# The retailer's own services (its privacy dashboard), never a browser app or a third party.
ONLY_OURS = frozenset({ClientKind.FIRST_PARTY})


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec("apps:read", "the apps you have allowed to access your account", kinds=ONLY_OURS),
        ScopeSpec("apps:write", "take back access from apps you allowed", kinds=ONLY_OURS),
    ]


async def authorised_apps(root: Any, info: Info) -> list[AuthorisedApp]:
    graph: Graph = info.context.graph_for(info)
    return [
        AuthorisedApp(
            client=strawberry.ID(g.client_id),
            client_name=g.client_name,
            scopes=list(g.scopes),
            granted_at=g.granted_at,
        )
        for g in await list_grants(graph, root.id)
    ]


async def revoke_app(root: Any, info: Info, client_id: strawberry.ID) -> bool:
    """True if the app had access and no longer has; False if it had none."""
    # The gate's SELF rule has made sure the token names a customer.
    principal: Principal = info.context.principal
    assert principal.customer_id is not None
    graph: Graph = info.context.graph_for(info)
    return await revoke_grant(graph, principal.customer_id, str(client_id), int(time.time()))


@hookimpl
def register_fields() -> list[FieldSpec]:
    return [
        FieldSpec(
            "Customer",
            "authorisedApps",
            list[AuthorisedApp],
            authorised_apps,
            description="Apps this customer allowed to read part of their profile.",
            data_category=DataCategory.PROFILE,
            scopes=frozenset({"apps:read"}),
            purpose=Purpose.SERVICE,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec(
            "Mutation",
            "revokeApp",
            "Boolean!",
            revoke_app,
            description="Take back an app's access: its tokens stop working at once.",
            data_category=DataCategory.PROFILE,
            scopes=frozenset({"apps:write"}),
            purpose=Purpose.SERVICE,
            row=RowRule.SELF,
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset({DataCategory.PROFILE}),
        description="The apps a customer authorised, and revoking them.",
    )
