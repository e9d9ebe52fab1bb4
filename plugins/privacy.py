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
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from tightrope import (
    AccessRecord,
    BadUserInput,
    ClientKind,
    Connection,
    CustomerRef,
    DataCategory,
    FieldRegistry,
    FieldSpec,
    Graph,
    Manifest,
    NotFound,
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
    decode_cursor,
    encode_cursor,
    hookimpl,
    make_connection,
    page_size,
)

Info = strawberry.Info

PRIVACY_READ = "privacy:read"


@hookimpl
def register_scopes() -> list[ScopeSpec]:
    return [
        ScopeSpec(
            PRIVACY_READ,
            "what is held about you, and which apps read it and why",
            kinds=frozenset({ClientKind.FIRST_PARTY, ClientKind.PUBLIC}),
        )
    ]


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
    position = decode_cursor(after)
    if position is None:
        return None, None
    at, record_id = position.get("at"), position.get("id")
    try:
        if not isinstance(at, str) or not isinstance(record_id, str):
            raise ValueError
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError
    except ValueError:
        raise BadUserInput("after: not a cursor of this list", argument="after") from None
    return parsed, record_id


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
        description="The customer's access log and a summary of everything held about them.",
    )
