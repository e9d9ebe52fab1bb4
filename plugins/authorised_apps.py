"""Built-in plugin ``tightrope-authorised-apps``: the apps a customer let in, and taking them back.

``me { authorisedApps { client clientName scopes grantedAt } }`` lists the
customer's grants; ``revokeApp(clientId)`` deletes one, and the authorization
server's own check makes every access and refresh token of that app fail on
the very next request. Both belong to the retailer's own frontends (the privacy
dashboard), so their scopes are first-party only.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import strawberry

from gateway import (
    DataCategory,
    FieldSpec,
    Forbidden,
    Principal,
    ScopeSpec,
    Unauthenticated,
    hookimpl,
)
from graph import Graph, list_grants, revoke_grant

Info = strawberry.Info


@strawberry.type(description="An app the customer allowed to read part of their profile.")
class AuthorisedApp:
    client: strawberry.ID = strawberry.field(description="The app's client id")
    client_name: str
    scopes: list[str] = strawberry.field(description="What the customer allowed it")
    granted_at: datetime = strawberry.field(description="When the customer last approved it")


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec("apps:read", "the apps you have allowed to access your account"),
        ScopeSpec("apps:write", "take back access from apps you allowed"),
    ]


def _customer_of(info: Info) -> str:
    principal: Principal = info.context.principal
    if principal.customer_id is None:
        raise Unauthenticated("needs a token issued for a customer")
    return principal.customer_id


async def authorised_apps(root: Any, info: Info) -> list[AuthorisedApp]:
    principal: Principal = info.context.principal
    if root.id != principal.customer_id and "customers:read" not in principal.scopes:
        raise Forbidden("only the customer (or the back office) sees their apps")
    graph: Graph = info.context.graph
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
    customer = _customer_of(info)
    graph: Graph = info.context.graph
    return await revoke_grant(graph, customer, str(client_id), int(time.time()))


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
        ),
        FieldSpec(
            "Mutation",
            "revokeApp",
            "Boolean!",
            revoke_app,
            description="Take back an app's access: its tokens stop working at once.",
            scopes=frozenset({"apps:write"}),
        ),
    ]
