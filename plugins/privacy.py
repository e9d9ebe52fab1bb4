"""Built-in plugin ``tightrope-privacy``: what is held about a customer, and who read it.

``me { accessLog(first, after) { at client { name kind } purpose categories
fields } }`` lists the allowed reads of the customer's data the host's gate
recorded, newest first. Records are written in batches (about once a second,
``TIGHTROPE_ACCESS_LOG_FLUSH_SECONDS``), so the last moment's reads appear a
moment later.

``me { dataAboutMe { category count oldest newest usedBy { plugin purpose
lastUsedAt } } }`` says, per data category, how much the graph holds and
which plugin may read it for which purpose (from the served schema) or did
(from the access log), and when it last did.

Both belong to the retailer's own privacy pages: scope ``privacy:read``, which
third parties never hold.

``exportMyData`` returns everything held about the customer as one JSON
document, with what each plugin contributed (gateway/privacy/rights.py); scope
``privacy:export``, only for the retailer's own frontends.

``forgetMe(confirmation)`` erases the customer and everything derived about
them, through every plugin (gateway/privacy/rights.py): asked without a confirmation
it only answers with one (valid ten minutes); asked again with it, it erases.
Scope ``privacy:erase``, likewise only for the retailer's own frontends. The
token used is dead afterwards, like every other of the customer's.

The customer's own page, ``/privacy``, is served here too (the host's page,
which shows and changes all of the above through the gate): disabling this
plugin takes it away.
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from starlette.routing import Route
from strawberry.scalars import JSON

from tightrope import (
    AccessRecord,
    BadUserInput,
    ClientKind,
    Connection,
    CustomerRef,
    CustomerRights,
    DataCategory,
    ErasureRefused,
    FieldRegistry,
    FieldSpec,
    Graph,
    Manifest,
    NotFound,
    Principal,
    Purpose,
    RowRule,
    ScopeSpec,
    Settings,
    TypeSpec,
    access_log_page,
    category_use,
    connection_fields,
    connection_types,
    data_held,
    decode_time_cursor,
    encode_cursor,
    hookimpl,
    make_connection,
    page_size,
    privacy_page_routes,
)

Info = strawberry.Info
CORE = "tightrope"

PRIVACY_READ = "privacy:read"
PRIVACY_ERASE = "privacy:erase"
PRIVACY_EXPORT = "privacy:export"
RETAILER = frozenset({ClientKind.FIRST_PARTY, ClientKind.PUBLIC})


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec(
            PRIVACY_READ, "what is held about you, and which apps read it and why", kinds=RETAILER
        ),
        ScopeSpec(
            PRIVACY_EXPORT, "a copy of everything held about you, to download", kinds=RETAILER
        ),
        ScopeSpec(
            PRIVACY_ERASE, "erase your account and everything held about you", kinds=RETAILER
        ),
    ]


@hookimpl
def register_routes() -> list[Route]:
    return privacy_page_routes()


@hookimpl
def register_types() -> list[TypeSpec]:
    return [
        TypeSpec("AccessRecord", "Reads of the customer's data by one client, for one purpose."),
        *connection_types("AccessRecord"),
    ]


@strawberry.type(description="The client that read; its name if it is still registered.")
class AccessClient:
    id: strawberry.ID | None
    name: str | None
    kind: str | None


@strawberry.type(description="A plugin that may read, or did read, a kind of data, and why.")
class DataUse:
    plugin: str
    purpose: str
    last_used_at: datetime | None = strawberry.field(description="Null if it never did.")


@strawberry.type(description="What is held about the customer of one data category.")
class DataAboutMe:
    category: str
    count: int
    oldest: datetime | None
    newest: datetime | None
    used_by: list[DataUse]


# -- accessLog ----------------------------------------------------------------


def _after(after: str | None) -> tuple[datetime | None, str | None]:
    position = decode_time_cursor(after, "id")
    return (None, None) if position is None else position


async def access_log(
    root: CustomerRef, info: Info, first: int | None = None, after: str | None = None
) -> Connection:
    settings: Settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    after_at, after_id = _after(after)
    graph: Graph = info.context.graph_for(info)
    records = await access_log_page(graph, root.id, size + 1, after_at, after_id)
    page = records[:size]
    cursors = [encode_cursor({"at": r.at.isoformat(), "id": r.id}) for r in page]
    return make_connection(page, cursors, len(records) > size)


def record_client(root: AccessRecord, info: Info) -> AccessClient:
    client_id = strawberry.ID(root.client_id) if root.client_id else None
    return AccessClient(id=client_id, name=root.client_name, kind=root.client_kind)


# -- dataAboutMe --------------------------------------------------------------


def _readers(registry: FieldRegistry) -> dict[str, set[tuple[str, str]]]:
    """Per category, the (plugin, purpose) of every gated field that reads it."""
    readers: dict[str, set[tuple[str, str]]] = {c.value: set() for c in DataCategory}
    for spec in registry.fields:
        if spec.row is not None and spec.data_category and spec.purpose:
            readers[spec.data_category.value].add((spec.plugin, spec.purpose.value))
    return readers


async def data_about_me(root: CustomerRef, info: Info) -> list[DataAboutMe]:
    graph: Graph = info.context.graph_for(info)
    held = await data_held(graph, root.id)
    if held is None:
        raise NotFound(f"no customer with id {root.id!r}", id=root.id)
    used = await category_use(graph, root.id)
    last_used = {(u.category, u.plugin, u.purpose): u.last_used_at for u in used}
    readers = _readers(info.context.registry)
    for category, plugin, purpose in last_used:
        readers.setdefault(category, set()).add((plugin, purpose))
    answer = []
    for category in sorted(readers):
        found = held.get(category)
        uses = [
            DataUse(plugin=plugin, purpose=purpose, last_used_at=last_used.get(key))
            for plugin, purpose in sorted(readers[category])
            for key in [(category, plugin, purpose)]
        ]
        answer.append(
            DataAboutMe(
                category=category,
                count=found.count if found else 0,
                oldest=found.oldest if found else None,
                newest=found.newest if found else None,
                used_by=uses,
            )
        )
    return answer


# -- exportMyData -------------------------------------------------------------


async def export_my_data(root: object, info: Info) -> JSON:
    principal: Principal = info.context.principal
    assert principal.customer_id is not None  # the gate's SELF rule
    rights: CustomerRights = info.context.rights
    try:
        # The host's rights act on the host's graph; each plugin's export hook
        # is handed its own checked graph (gateway/privacy/rights.py).
        document = await rights.export(info.context.host_graph, principal.customer_id)
    except ErasureRefused as exc:  # the customer no longer exists
        raise NotFound(str(exc)) from None
    return JSON(document)


# -- forgetMe -----------------------------------------------------------------


@strawberry.type(description="One kind of data an erasure removed, and how many.")
class Erased:
    what: str
    count: int
    held_by: str = strawberry.field(
        description="tightrope itself, or the plugin that derived or kept it."
    )


@strawberry.type(description="An erasure asked for (with the code that confirms it) or done.")
class Forgotten:
    erased: bool
    confirmation: str | None = strawberry.field(
        description="Send this back as forgetMe(confirmation:) to erase; null once erased."
    )
    confirm_before: datetime | None
    will_erase: list[Erased] = strawberry.field(
        description="Before confirmation: what is held, per kind of data, that would go."
    )
    removed: list[Erased]


async def forget_me(root: object, info: Info, confirmation: str | None = None) -> Forgotten:
    principal: Principal = info.context.principal
    assert principal.customer_id is not None  # the gate's SELF rule
    rights: CustomerRights = info.context.rights
    if confirmation is None:
        code, expires = rights.confirmation(principal.customer_id)
        when = datetime.fromtimestamp(expires, UTC)
        held = await data_held(info.context.graph_for(info), principal.customer_id) or {}
        preview = [
            Erased(what=category, count=h.count, held_by=CORE)
            for category, h in sorted(held.items())
            if h.count
        ]
        return Forgotten(
            erased=False, confirmation=code, confirm_before=when, will_erase=preview, removed=[]
        )
    if not rights.confirmed(principal.customer_id, confirmation):
        raise BadUserInput(
            "confirmation: not a valid confirmation for this customer, or expired; "
            "ask again without one",
            argument="confirmation",
        )
    try:
        done = await rights.erase(info.context.host_graph, principal.customer_id)
    except ErasureRefused as exc:
        raise BadUserInput(str(exc)) from None
    removed = [Erased(what=k, count=n, held_by=CORE) for k, n in sorted(done.removed.items())]
    removed += [
        Erased(what="derived data", count=n, held_by=plugin)
        for plugin, n in sorted(done.by_plugin.items())
    ]
    return Forgotten(
        erased=True, confirmation=None, confirm_before=None, will_erase=[], removed=removed
    )


@hookimpl
def register_fields() -> list[FieldSpec]:
    profile, service, customer = DataCategory.PROFILE, Purpose.SERVICE, RowRule.CUSTOMER
    read = frozenset({PRIVACY_READ})
    return [
        FieldSpec(
            "Customer",
            "accessLog",
            "AccessRecordConnection!",
            access_log,
            description="Who read this customer's data, for what and when, newest first.",
            data_category=profile,
            scopes=read,
            purpose=service,
            row=customer,
        ),
        FieldSpec(
            "Customer",
            "dataAboutMe",
            list[DataAboutMe],
            data_about_me,
            description="Per kind of data: how much is held, and who uses it for what.",
            data_category=profile,
            scopes=read,
            purpose=service,
            row=customer,
        ),
        FieldSpec("AccessRecord", "at", "DateTime!", data_category=profile),
        FieldSpec("AccessRecord", "client", AccessClient, record_client, data_category=profile),
        FieldSpec("AccessRecord", "purpose", "String!", data_category=profile),
        FieldSpec(
            "AccessRecord",
            "plugin",
            "String!",
            description="The plugin whose fields or strategy read.",
            data_category=profile,
        ),
        FieldSpec("AccessRecord", "categories", "[String!]!", data_category=profile),
        FieldSpec(
            "AccessRecord",
            "fields",
            "[String!]!",
            description="What was read: Type.field of each field, or a strategy's name.",
            data_category=profile,
        ),
        *connection_fields("AccessRecord"),
        FieldSpec(
            "Query",
            "exportMyData",
            JSON,
            export_my_data,
            description="Everything held about this customer, as one JSON document: "
            "profile, contact, consents and their history, devices and links, sessions "
            "and events, derived data, apps, the access log; and which plugin gave what.",
            data_category=profile,
            scopes=frozenset({PRIVACY_EXPORT}),
            purpose=service,
            row=RowRule.SELF,
        ),
        FieldSpec(
            "Mutation",
            "forgetMe",
            Forgotten,
            forget_me,
            description="Erase this customer and everything derived about them, after "
            "a confirmation: ask without one to get it, then again with it.",
            data_category=profile,
            scopes=frozenset({PRIVACY_ERASE}),
            purpose=service,
            row=RowRule.SELF,
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset(
            {
                DataCategory.PROFILE,
                DataCategory.CONTACT,
                DataCategory.PURCHASE_HISTORY,
                DataCategory.BROWSING_HISTORY,
                DataCategory.DEVICE,
                DataCategory.DERIVED_PREFERENCES,
            }
        ),
        description="The customer's access log, a summary of everything held about them, "
        "and their export and erasure.",
    )
