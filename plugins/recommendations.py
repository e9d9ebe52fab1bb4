"""Built-in plugin ``tightrope-recommendations``: recommendations in the API.

``Customer.recommendations(first, strategy)`` needs ``recommendations:read``;
``Session.recommendations(first)`` is the visit's own, answered without a
scope like the session's other fields; ``Product.similar(first)`` is for a
product's page. Every item names its product, score, the strategy that chose
it and its reasons. The host (``info.context.recommend``) decides which
strategies may run and blends them; this module only turns arguments into a
subject.
"""

from __future__ import annotations

import strawberry

from tightrope import (
    Customer,
    DataCategory,
    FieldSpec,
    Manifest,
    Product,
    Purpose,
    Reason,
    Recommendation,
    RowRule,
    Session,
    Settings,
    Subject,
    TypeSpec,
    hookimpl,
    page_size,
)

Info = strawberry.Info

# A page of recommendations: ten unless asked, at most the gateway's page limit.
DEFAULT_FIRST = 10


def _first(info: Info, first: int | None) -> int:
    settings: Settings = info.context.settings
    return page_size(first, min(DEFAULT_FIRST, settings.max_page_size), settings.max_page_size)


async def customer_recommendations(
    root: Customer, info: Info, first: int | None = None, strategy: str | None = None
) -> list[Recommendation]:
    subject = Subject.customer(root.id)
    found: list[Recommendation] = await info.context.recommend(
        subject, _first(info, first), strategy
    )
    return found


async def session_recommendations(
    root: Session, info: Info, first: int | None = None
) -> list[Recommendation]:
    found: list[Recommendation] = await info.context.recommend(
        Subject.session(root.id), _first(info, first), signed_in_as=root.customer_id
    )
    return found


async def product_similar(
    root: Product, info: Info, first: int | None = None
) -> list[Recommendation]:
    found: list[Recommendation] = await info.context.recommend(
        Subject.product(root.sku), _first(info, first)
    )
    return found


def reason_categories(root: Reason, info: Info) -> list[str]:
    return sorted(category.value for category in root.categories)


@hookimpl
def register_types() -> list[TypeSpec]:
    return [
        TypeSpec("Recommendation", "A suggested product, how strongly, by which strategy, why."),
        TypeSpec("RecommendationReason", "Why a product is suggested, in a shopper's words."),
    ]


@hookimpl
def register_fields() -> list[FieldSpec]:
    derived = DataCategory.DERIVED_PREFERENCES
    return [
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
