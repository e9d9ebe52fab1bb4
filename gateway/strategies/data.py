"""What a strategy may read: its subject's personal data by declared category, and aggregates.

The host reads the subject's personal data once per request (one query for
every part the allowed strategies declared, graph.recs ``profile_of``) and gives
each strategy a :class:`StrategyData` scoped to the categories *that strategy*
declared. Asking for another category raises the gate's one error
(gateway/gate/declared.py), naming the strategy, its plugin and the category:
a strategy that reaches for
more than it said it reads fails loudly instead of quietly widening what
customers consented to.

The catalogue and the aggregates ``tightrope recompute`` derives (item-to-item
edges, rankings) are nobody's personal data: any strategy may read them. They
are kept across requests in :class:`Aggregates`, emptied when a recompute (or
a catalogue load) bumps its version, and read through per-request DataLoaders,
so strategies running side by side share one query for whatever is missing.

docs/strategy-data.md is the reference of every method (a test keeps it in
step with this class).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from strawberry.dataloader import DataLoader

from gateway.errors import Forbidden
from gateway.fields import DataCategory
from gateway.gate.declared import Undeclared, require_own
from gateway.graphql.cache import VersionedCache, cached_read
from gateway.strategies.types import Registered, Subject, SubjectKind
from graph import Graph, Product, ProductPage, catalogue_version, list_products, products_by_sku
from graph.recs import (
    Owned,
    Preference,
    Profile,
    Ranked,
    Related,
    Seen,
    derived_version,
    ranking_kinds,
    rankings_of,
    related_of,
)

log = logging.getLogger("tightrope.plugins")

# Neighbours kept per product and kind, and products per ranking: what any
# strategy can ask for (a collaborative model needs a wide row to score well).
MAX_RELATED = 200
MAX_RANKED = 200
# Products in one page of the catalogue a strategy reads.
MAX_LISTED = 200


# Before the one check (gateway/gate/declared.py) this was an error class of its own.
UndeclaredCategory = Undeclared


class OtherSubject(Forbidden):
    """A strategy asked for the personal data of someone other than its subject."""

    def __init__(self, strategy: Registered, category: DataCategory) -> None:
        # Whom it asked about is left out: that is another shopper's id.
        super().__init__(
            f"strategy {strategy.name!r} of plugin {strategy.plugin!r} asked for the "
            f"{category.value} data of someone who is not the subject of the request",
            strategy=strategy.name,
            plugin=strategy.plugin,
            category=category.value,
        )


class Aggregates:
    """One app's caches of non-personal data: the catalogue and the derived aggregates."""

    def __init__(self, max_age: float, catalogue_max_age: float, max_entries: int = 10_000) -> None:
        self.derived = VersionedCache(derived_version, max_age=max_age, max_entries=max_entries)
        self.catalogue = VersionedCache(catalogue_version, max_age=catalogue_max_age)
        # (plugin, kind) of rankings asked for that no recompute wrote: warned once.
        self.unknown_kinds: set[tuple[str, str]] = set()

    def loaders(self, graph: Graph) -> Loaders:
        """This request's loaders, reading through the caches."""
        return Loaders(
            related=DataLoader(load_fn=partial(cached_read, self.derived, _related, graph)),
            ranking=DataLoader(load_fn=partial(cached_read, self.derived, _ranking, graph)),
            kinds=DataLoader(load_fn=partial(cached_read, self.derived, _kinds, graph)),
            product=DataLoader(
                load_fn=partial(cached_read, self.catalogue, products_by_sku, graph)
            ),
            listing=DataLoader(load_fn=partial(cached_read, self.catalogue, _listing, graph)),
            unknown_kinds=self.unknown_kinds,
        )


async def _related(graph: Graph, keys: Sequence[tuple[str, str]]) -> list[tuple[Related, ...]]:
    return [tuple(found) for found in await related_of(graph, keys, MAX_RELATED)]


async def _ranking(graph: Graph, keys: Sequence[tuple[str, str]]) -> list[tuple[Ranked, ...]]:
    return [tuple(found) for found in await rankings_of(graph, keys, MAX_RANKED)]


async def _kinds(graph: Graph, keys: Sequence[None]) -> list[tuple[str, ...]]:
    found = tuple(await ranking_kinds(graph))
    return [found for _ in keys]


# A page of the catalogue: (brand id, category id, first, after).
ListingKey = tuple[str | None, str | None, int, str | None]


async def _listing(graph: Graph, keys: Sequence[ListingKey]) -> list[ProductPage]:
    return list(
        await asyncio.gather(
            *(
                list_products(graph, first, after=after, brand_id=brand, category_id=category)
                for brand, category, first, after in keys
            )
        )
    )


@dataclass(frozen=True)
class Loaders:
    related: DataLoader[tuple[str, str], tuple[Related, ...]]
    ranking: DataLoader[tuple[str, str], tuple[Ranked, ...]]
    kinds: DataLoader[None, tuple[str, ...]]
    product: DataLoader[str, Product | None]
    listing: DataLoader[ListingKey, ProductPage]
    unknown_kinds: set[tuple[str, str]] = field(default_factory=set)


class StrategyData:
    """One strategy's window on one request: its subject, its categories, the aggregates."""

    def __init__(
        self, strategy: Registered, subject: Subject, profile: Profile, loaders: Loaders
    ) -> None:
        self.subject = subject
        self._strategy = strategy
        self._profile = profile
        self._loaders = loaders

    def _need(self, category: DataCategory, asked: str | None = None) -> None:
        strategy = self._strategy
        require_own("strategy", strategy.name, strategy.plugin, strategy.categories, category)
        if asked is not None and asked != self.subject.id:
            raise OtherSubject(self._strategy, category)

    # -- personal: only what the strategy declared ------------------------------

    async def purchases(self, customer_id: str | None = None) -> tuple[Owned, ...]:
        """What the subject customer bought, newest first (needs PURCHASE_HISTORY)."""
        self._need(DataCategory.PURCHASE_HISTORY, customer_id)
        return self._profile.purchases

    async def views(self, subject_id: str | None = None) -> tuple[Seen, ...]:
        """Products the subject viewed, newest first (needs BROWSING_HISTORY)."""
        self._need(DataCategory.BROWSING_HISTORY, subject_id)
        return self._profile.views

    async def cart(self, subject_id: str | None = None) -> tuple[Seen, ...]:
        """Products the subject put in a basket, last added first (needs BROWSING_HISTORY)."""
        self._need(DataCategory.BROWSING_HISTORY, subject_id)
        return self._profile.cart

    async def preferences(self, customer_id: str | None = None) -> tuple[Preference, ...]:
        """Brands and categories derived for the subject customer (needs DERIVED_PREFERENCES)."""
        self._need(DataCategory.DERIVED_PREFERENCES, customer_id)
        return self._profile.preferences

    # -- not personal: free to read -------------------------------------------------

    async def related(
        self, skus: Iterable[str], kind: str, per_item: int = 50
    ) -> dict[str, tuple[Related, ...]]:
        """Each product's strongest neighbours of ``kind`` (``bought_together``, ...)."""
        wanted = list(dict.fromkeys(skus))
        found = await self._loaders.related.load_many([(sku, kind) for sku in wanted])
        return {sku: tuple(edges[:per_item]) for sku, edges in zip(wanted, found, strict=True)}

    async def ranking(self, kind: str, scope: str = "*", limit: int = 50) -> tuple[Ranked, ...]:
        """A ranking's top products, best first (``scope``: ``*``, ``category:ID``, ``brand:ID``).

        Empty when the ranking holds nothing; a ``kind`` that no recompute
        wrote (only ``trending`` is built in) is logged once as a warning.
        """
        found = await self._loaders.ranking.load((kind, scope))
        if not found:
            await self._warn_unknown(kind)
        return tuple(found[:limit])

    async def ranking_kinds(self) -> tuple[str, ...]:
        """The kinds of ranking the strategies' recomputes wrote (``trending``, ...)."""
        return await self._loaders.kinds.load(None)

    async def products(self, skus: Iterable[str]) -> dict[str, Product]:
        """Catalogue entries by SKU (a SKU the catalogue lacks is left out)."""
        wanted = list(dict.fromkeys(skus))
        found = await self._loaders.product.load_many(wanted)
        return {sku: p for sku, p in zip(wanted, found, strict=True) if p is not None}

    async def catalogue(
        self,
        *,
        brand_id: str | None = None,
        category_id: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ProductPage:
        """A page of the catalogue in SKU order: a brand's products, a category's (with its
        sub-categories'), or both; ``after`` is the last SKU of the page before.

        At most ``MAX_LISTED`` products a page (asking for more gets that many).
        """
        if first < 1:
            raise ValueError(f"first must be at least 1, not {first}")
        page = min(first, MAX_LISTED)
        return await self._loaders.listing.load((brand_id, category_id, page, after))

    async def _warn_unknown(self, kind: str) -> None:
        key = (self._strategy.plugin, kind)
        if key in self._loaders.unknown_kinds:
            return
        kinds = await self.ranking_kinds()
        if kinds and kind not in kinds:
            self._loaders.unknown_kinds.add(key)
            log.warning(
                "plugin %r: strategy %r asked for rankings of kind %r, which no recompute "
                "wrote (there are: %s); docs/strategy-data.md lists the kinds",
                self._strategy.plugin,
                self._strategy.name,
                kind,
                ", ".join(kinds),
            )


def profile_needs(subject: Subject, categories: Iterable[DataCategory]) -> dict[str, Any]:
    """Which parts of the profile to read for these categories (ProfileKey arguments)."""
    wanted = set(categories)
    customer = subject.id if subject.kind is SubjectKind.CUSTOMER else None
    session = subject.id if subject.kind is SubjectKind.SESSION else None
    return {
        "customer_id": customer,
        "session_id": session,
        "purchases": DataCategory.PURCHASE_HISTORY in wanted,
        "preferences": DataCategory.DERIVED_PREFERENCES in wanted,
        "browsing": DataCategory.BROWSING_HISTORY in wanted,
    }
