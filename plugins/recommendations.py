"""Built-in plugin ``tightrope-recommendations``: recommendations in the API.

``recommendations(placement, ...)`` is what a frontend asks for by the place
on its page: ``HOME``, ``CATEGORY`` (with ``categoryId``), ``PRODUCT`` (with
``sku``) or ``BASKET`` (with ``sessionId``). It answers for a visit never seen
before too (a first visit gets what is popular), and every list it serves has
an opaque ``listId`` and numbered items, which the client sends back with the
events that follow (``trackEvents``), so that what a list led to is counted
for its placement, strategy and blend (docs/insights.md).

``Customer.recommendations(first, strategy)`` needs ``recommendations:read``
(as does a ``HOME`` list about the customer rather than the visit);
``Session.recommendations(first)`` is the visit's own, answered without a
scope like the session's other fields; ``Product.similar(first)`` is for a
product's page. Every item names its product, score, the strategy that chose
it, its reasons, its list and its position. The host
(``info.context.recommend``) decides which strategies may run and blends them;
this module only turns arguments into a subject.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from tightrope import (
    BadUserInput,
    Category,
    Customer,
    DataCategory,
    FieldSpec,
    Manifest,
    NotFound,
    Product,
    Purpose,
    Reason,
    Recommendation,
    RequestGate,
    RowRule,
    ServedList,
    Session,
    Settings,
    Shopper,
    Subject,
    TypeSpec,
    hookimpl,
    page_size,
)

Info = strawberry.Info

# A page of recommendations: ten unless asked, at most the gateway's page limit.
DEFAULT_FIRST = 10
# Ids a client names (a visit, a device): as long as the event writer takes.
MAX_ID = 200
RECOMMENDATIONS_READ = "recommendations:read"


@strawberry.enum(description="Where on the shop's pages a list is shown.")
class Placement(Enum):
    HOME = "home"
    CATEGORY = "category"
    PRODUCT = "product"
    BASKET = "basket"


def _first(info: Info, first: int | None) -> int:
    settings: Settings = info.context.settings
    return page_size(first, min(DEFAULT_FIRST, settings.max_page_size), settings.max_page_size)


async def customer_recommendations(
    root: Customer, info: Info, first: int | None = None, strategy: str | None = None
) -> list[Recommendation]:
    subject = Subject.customer(root.id)
    found: list[Recommendation] = await info.context.recommend(
        subject, _first(info, first), strategy, placement="Customer.recommendations"
    )
    return found


async def session_recommendations(
    root: Session, info: Info, first: int | None = None
) -> list[Recommendation]:
    found: list[Recommendation] = await info.context.recommend(
        Subject.session(root.id),
        _first(info, first),
        signed_in_as=root.customer_id,
        placement="Session.recommendations",
    )
    return found


async def product_similar(
    root: Product, info: Info, first: int | None = None
) -> list[Recommendation]:
    found: list[Recommendation] = await info.context.recommend(
        Subject.product(root.sku), _first(info, first), placement="Product.similar"
    )
    return found


def _id(value: strawberry.ID | None, argument: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_ID:
        raise BadUserInput(f"{argument}: 1 to {MAX_ID} characters", argument=argument)
    return text


async def _visit(info: Info, session_id: str | None) -> Session | None:
    """The visit named, if the graph knows it (a first visit it does not)."""
    if session_id is None:
        return None
    found: Session | None = await info.context.loader("session").load(session_id)
    return found


async def placement_recommendations(
    root: object,
    info: Info,
    placement: Placement,
    session_id: strawberry.ID | None = None,
    device_id: strawberry.ID | None = None,
    category_id: strawberry.ID | None = None,
    sku: strawberry.ID | None = None,
    first: int | None = None,
) -> ServedList:
    gate: RequestGate = info.context.gate
    session = _id(session_id, "sessionId")
    device = _id(device_id, "deviceId")
    # The visit's row rule (the gate's): the customer it was signed in as, or
    # none for an anonymous or a first visit; FORBIDDEN or NOT_FOUND else.
    signed_in = None
    if session is not None:
        where = f"recommendations for session {session!r}"
        signed_in = await gate.admit_session(session, where, first_visit=True)
    if device is not None:
        # A device named for the shop's figures is one the gateway issued (and
        # the visit's): a chosen id would file this list under another's device.
        problem = gate.unissued(session, device)
        if problem is not None:
            argument = "sessionId" if problem[0] == "session_id" else "deviceId"
            raise BadUserInput(f"{argument}: {problem[1]}", argument=argument)
    customer = gate.principal.customer_id or signed_in
    if device is None:
        # Only then is the visit read for its device (the app usually names it).
        visit = await _visit(info, session)
        device = visit.device_id if visit is not None else None
    subject = await _subject(info, placement, gate, session, signed_in, category_id, sku)
    shopper = Shopper(customer_id=customer, session_id=session, device_id=device)
    served: ServedList = await info.context.serve_list(
        subject,
        _first(info, first),
        placement=placement.value,
        shopper=shopper,
        signed_in_as=signed_in,
    )
    return served


async def _subject(
    info: Info,
    placement: Placement,
    gate: RequestGate,
    session: str | None,
    signed_in: str | None,
    category_id: strawberry.ID | None,
    sku: strawberry.ID | None,
) -> Subject:
    """What the list is about: the shopper (home, basket), a category or a product."""
    if placement is Placement.CATEGORY:
        category = _id(category_id, "categoryId")
        if category is None:
            raise BadUserInput("placement CATEGORY needs categoryId", argument="categoryId")
        found: Category | None = await info.context.loader("category").load(category)
        if found is None:
            raise NotFound(f"no category with id {category!r}", id=category)
        return Subject.category(category)
    if placement is Placement.PRODUCT:
        product = _id(sku, "sku")
        if product is None:
            raise BadUserInput("placement PRODUCT needs sku", argument="sku")
        if await info.context.loader("product").load(product) is None:
            raise NotFound(f"no product with SKU {product!r}", sku=product)
        return Subject.product(product)
    if placement is Placement.BASKET:
        if session is None:
            raise BadUserInput("placement BASKET needs sessionId", argument="sessionId")
        return Subject.session(session)
    # HOME: the customer's own recommendations when the token is theirs and may
    # read them (recommendations:read); otherwise the visit's (a first visit
    # gets what is popular).
    customer = gate.principal.customer_id
    own = customer is not None and signed_in in (None, customer)
    if own and customer is not None and RECOMMENDATIONS_READ in gate.scopes:
        return Subject.customer(customer)
    if session is None:
        raise BadUserInput(
            "placement HOME needs sessionId, unless the token is a customer's with "
            f"{RECOMMENDATIONS_READ}",
            argument="sessionId",
        )
    return Subject.session(session)


def served_items(root: ServedList, info: Info) -> list[Recommendation]:
    return list(root.items)


def served_placement(root: ServedList, info: Info) -> Placement:
    return Placement(root.placement)


def reason_categories(root: Reason, info: Info) -> list[str]:
    return sorted(category.value for category in root.categories)


@hookimpl
def register_types() -> list[TypeSpec]:
    return [
        TypeSpec("Recommendation", "A suggested product, how strongly, by which strategy, why."),
        TypeSpec("RecommendationReason", "Why a product is suggested, in a shopper's words."),
        TypeSpec(
            "RecommendationList",
            "A list served for a placement: send its listId back with the events it leads to.",
        ),
    ]


@hookimpl
def register_fields() -> list[FieldSpec]:
    derived = DataCategory.DERIVED_PREFERENCES
    return [
        FieldSpec(
            "Query",
            "recommendations",
            # Nullable: a refused or malformed request nulls this field, not the answer.
            "RecommendationList",
            placement_recommendations,
            description="A list for a place on the shop's pages. HOME: the customer's own "
            "(a customer token with recommendations:read) or the visit's (`sessionId`); "
            "CATEGORY: popular in `categoryId`; PRODUCT: for the page of `sku`; BASKET: "
            "goes with the basket of `sessionId`. A visit never seen before gets what is "
            "popular. `deviceId` (or the visit's device) keeps a visitor in the same "
            "experiment group across visits.",
        ),
        FieldSpec(
            "RecommendationList",
            "listId",
            "String!",
            attr="id",
            description="Opaque. Send it back as `listId` (with the item's `position`) on the "
            "views, add-to-carts and purchases that follow from the list.",
        ),
        FieldSpec("RecommendationList", "placement", Placement, served_placement),
        FieldSpec("RecommendationList", "items", "[Recommendation!]!", served_items),
        FieldSpec(
            "Customer",
            "recommendations",
            "[Recommendation!]!",
            customer_recommendations,
            description="Products for this customer, best first, each with its reasons. "
            "`strategy` asks one strategy alone (no fallback).",
            data_category=derived,
            scopes=frozenset({"recommendations:read"}),
            # The list itself serves the customer; each personal strategy in it is
            # asked about its own purpose (personalisation) by the runner's seam.
            purpose=Purpose.SERVICE,
            row=RowRule.CUSTOMER,
        ),
        FieldSpec(
            "Session",
            "recommendations",
            "[Recommendation!]!",
            session_recommendations,
            description="Products for this visit, from what it viewed and put in its basket; "
            "popular products when it has done nothing yet.",
            data_category=DataCategory.BROWSING_HISTORY,
            purpose=Purpose.SERVICE,
            row=RowRule.SESSION,
        ),
        FieldSpec(
            "Product",
            "similar",
            "[Recommendation!]!",
            product_similar,
            description="Products bought or viewed together with this one.",
        ),
        FieldSpec("Recommendation", "product", "Product!"),
        FieldSpec("Recommendation", "score", "Float!"),
        FieldSpec(
            "Recommendation", "strategy", "String!", description="The strategy that chose it."
        ),
        FieldSpec("Recommendation", "reasons", "[RecommendationReason!]!"),
        FieldSpec(
            "Recommendation",
            "listId",
            "String!",
            attr="list_id",
            description="The list this item was served in (send it back with the events).",
        ),
        FieldSpec(
            "Recommendation",
            "position",
            "Int!",
            description="Where in its list: 1 for the first item.",
        ),
        FieldSpec("RecommendationReason", "code", "String!"),
        FieldSpec("RecommendationReason", "text", "String!"),
        FieldSpec(
            "RecommendationReason",
            "categories",
            "[String!]!",
            reason_categories,
            description="The kinds of personal data behind the reason (none: not personal).",
        ),
        FieldSpec(
            "RecommendationReason",
            "purpose",
            "String!",
            description="personalisation, or not_personal.",
        ),
    ]


@hookimpl
def plugin_manifest() -> Manifest:
    return Manifest(
        purposes=frozenset({Purpose.SERVICE}),
        categories=frozenset({DataCategory.BROWSING_HISTORY, DataCategory.DERIVED_PREFERENCES}),
        description="The recommendation fields and what a customer's preferences are.",
    )
