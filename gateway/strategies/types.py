"""What a recommendation strategy is, and what it hands back: plain data and one protocol.

A strategy (a *recommender*) is an object a plugin returns from
``register_recommenders``. It says what it is for (its purpose), which kinds of
personal data it reads (its data categories), and answers one question: for
this subject, up to ``count`` scored candidates, each with the reasons it was
chosen. The host decides whether it may run at all (gateway/strategies/seam.py)
and hands it a data-access object that serves only the categories it declared
(gateway/strategies/data.py); the blend (a ``firstresult`` hook) turns the
candidates of every strategy that ran into one list.

Purposes: a strategy that reads anything personal serves ``personalisation``.
One that reads only the catalogue and aggregates over many shoppers
(popularity, co-occurrence) is marked ``not_personal``: it is no purpose a
customer grants or withholds, and such a strategy must declare no data
category. Its reasons carry that marker too, so a shopper can tell a personal
suggestion from one everyone gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from gateway.fields import DataCategory
from graph import Product

if TYPE_CHECKING:
    from gateway.strategies.data import StrategyData
    from graph import Graph

# The purpose of anything personal (a consent purpose, docs/design.md).
PERSONALISATION: Final = "personalisation"
# The marker of a strategy that reads nothing personal: no consent purpose at all.
NOT_PERSONAL: Final = "not_personal"
PURPOSES: Final = (PERSONALISATION, NOT_PERSONAL)


class SubjectKind(StrEnum):
    CUSTOMER = "customer"
    SESSION = "session"
    PRODUCT = "product"
    # A category's page: what to show there, for nobody in particular.
    CATEGORY = "category"


# What a recommender serves unless it says otherwise. A category's page came
# later: a strategy serves it only if it names it in its ``subjects``.
ALL_SUBJECTS: Final = frozenset({SubjectKind.CUSTOMER, SubjectKind.SESSION, SubjectKind.PRODUCT})


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom (or what) recommendations are for: a customer, a visit, or a product's page."""

    kind: SubjectKind
    id: str

    @classmethod
    def customer(cls, customer_id: str) -> Subject:
        return cls(SubjectKind.CUSTOMER, customer_id)

    @classmethod
    def session(cls, session_id: str) -> Subject:
        return cls(SubjectKind.SESSION, session_id)

    @classmethod
    def product(cls, sku: str) -> Subject:
        return cls(SubjectKind.PRODUCT, sku)

    @classmethod
    def category(cls, category_id: str) -> Subject:
        return cls(SubjectKind.CATEGORY, category_id)

    @property
    def personal(self) -> bool:
        """A customer or a visit has personal data; a product or a category does not."""
        return self.kind in (SubjectKind.CUSTOMER, SubjectKind.SESSION)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a product is suggested, in words a shopper understands.

    ``code`` is stable for clients (``BOUGHT_TOGETHER``, ``TRENDING``, ...);
    ``text`` is the sentence shown ("Because you bought Chelsea Boots by
    Northbrook"): it must be true, naming what the strategy really used.
    ``categories`` are the kinds of personal data behind it (empty for a
    non-personal reason) and ``purpose`` the purpose it served.
    """

    code: str
    text: str
    categories: frozenset[DataCategory] = frozenset()
    purpose: str = NOT_PERSONAL


@dataclass(frozen=True, slots=True)
class Candidate:
    """One product a strategy suggests, with its score (higher is better) and reasons."""

    sku: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One item of a blended list: the product, its score, the strategy that chose it, why.

    ``list_id`` and ``position`` (1 for the first item) are set by the host
    once the list is blended: a client sends them back with the events that
    follow, so that what the list led to is attributed to it.
    """

    product: Product
    score: float
    strategy: str
    reasons: tuple[Reason, ...]
    list_id: str = ""
    position: int = 0

    @property
    def sku(self) -> str:
        return self.product.sku


@dataclass(frozen=True, slots=True)
class Shopper:
    """Who a list is shown to, as far as the request knows.

    ``customer_id``: the token's customer, or the one the visit is signed in
    as; ``session_id`` and ``device_id``: the visit and the browser or app, as
    the client named them. Any may be None (a product page with no visit).
    """

    customer_id: str | None = None
    session_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServedList:
    """A list as served: its opaque id, where it was shown, and its items in order."""

    id: str
    placement: str
    items: tuple[Recommendation, ...]


@dataclass(frozen=True, slots=True)
class StrategyDecision:
    """Whether a strategy may run for a request, and why (the reason is shown when it may not).

    A refusal by the consent gate also names the purpose it refused (for a
    third-party client possibly ``third_party_sharing``) and the categories
    asked about, for the ``CONSENT_REQUIRED`` error of a strategy named alone.
    """

    allowed: bool
    reason: str
    purpose: str | None = None
    categories: frozenset[DataCategory] = frozenset()


@runtime_checkable
class Recommender(Protocol):
    """A recommendation strategy, as ``register_recommenders`` returns it.

    ``name`` is unique across plugins (the ``strategy`` argument of the API);
    ``purpose`` is ``personalisation`` or ``not_personal``; ``categories``
    the personal data it reads, which is all ``data`` will serve it. It may
    also say which kinds of subject it serves (``subjects``, a frozenset of
    :class:`SubjectKind`; all of them if absent): it is neither called nor
    given data for the others.
    """

    name: str
    purpose: str
    categories: frozenset[DataCategory]

    async def recommend(
        self, subject: Subject, count: int, data: StrategyData
    ) -> Sequence[Candidate]:
        """Up to ``count`` candidates for ``subject``, best first; empty if it has none."""
        ...


@runtime_checkable
class Recomputes(Protocol):
    """A strategy with data derived in bulk, refreshed by ``tightrope recompute``.

    A strategy that derives data about individual customers (one that can
    ``forget_customer``) should also take a keyword ``allowed``
    (:data:`CustomersAllowed`): the host then passes a function that keeps,
    of the customer ids given, those whose consent lets this strategy read
    its categories for its purpose, and the strategy derives only for them.
    """

    async def recompute(self, graph: Graph, progress: bool) -> str:
        """Rebuild the derived data; return a one-line summary of what was written."""
        ...


# Of the customer ids given, those whose consent allows a strategy's reads.
CustomersAllowed = Callable[[Collection[str]], Awaitable[frozenset[str]]]


@runtime_checkable
class ForgetsCustomers(Protocol):
    """A strategy that keeps data derived about individual customers (personal data)."""

    async def forget_customer(self, graph: Graph, customer_id: str) -> int:
        """Drop everything derived about ``customer_id``; return how many items went."""
        ...


@dataclass(frozen=True, slots=True)
class Registered:
    """A recommender with the plugin that registered it."""

    recommender: Any
    plugin: str

    @property
    def name(self) -> str:
        return str(self.recommender.name)

    @property
    def purpose(self) -> str:
        return str(self.recommender.purpose)

    @property
    def categories(self) -> frozenset[DataCategory]:
        return frozenset(self.recommender.categories)

    @property
    def personal(self) -> bool:
        return self.purpose != NOT_PERSONAL

    @property
    def subjects(self) -> frozenset[SubjectKind]:
        return frozenset(getattr(self.recommender, "subjects", ALL_SUBJECTS))

    def serves(self, subject: Subject) -> bool:
        return subject.kind in self.subjects


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """What one strategy answered for a request."""

    strategy: Registered
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A strategy the host did not call, and the seam's reason."""

    strategy: Registered
    reason: str


@dataclass(frozen=True, slots=True)
class BlendVariant:
    """The A/B test variant a list is blended for: its name and its strategy weights.

    ``weights`` replace the blend's own for the strategies they name
    (docs/insights.md, "A/B tests between blends").
    """

    name: str
    weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BlendRequest:
    """Everything ``blend_recommendations`` gets: candidates and the facts to filter them.

    ``products`` holds every candidate's catalogue entry (a SKU missing from it
    is not in the catalogue); ``owned`` the SKUs the subject already bought, with
    the day of the last purchase (the blend decides what may be bought again);
    ``excluded`` SKUs never to show (the product itself on its own page, the
    basket). ``fallback`` is False when the caller named one strategy: then
    nothing else may fill the list. ``variant`` is the A/B test variant the
    shopper is in (None outside a test).
    """

    subject: Subject
    count: int
    results: tuple[StrategyResult, ...]
    skipped: tuple[Skipped, ...]
    products: dict[str, Product]
    owned: dict[str, datetime] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()
    fallback: bool = True
    plugin_settings: dict[type, Any] = field(default_factory=dict)
    variant: BlendVariant | None = None

    def settings_of(self, model: type[Any]) -> Any:
        """A plugin's validated settings model instance (as registered with register_settings)."""
        return self.plugin_settings[model]
