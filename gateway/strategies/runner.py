"""The host's side of recommending: which strategies run, what they read, and the blend.

A :class:`RecommendationService` is built once per app from the plugins'
``register_recommenders`` results (names must be unique; purposes and
categories are checked at start-up). For each request it

1. asks the seam (:func:`~gateway.strategies.seam.strategy_allowed`) about
   every registered strategy: a strategy refused is not called, and the
   reason goes to the blend, which shows it;
2. reads the subject's personal data once, only the parts the allowed
   strategies declared (plus what was bought, to leave it out);
3. runs the allowed strategies side by side, each with a data-access object
   scoped to its own categories;
4. hands every candidate, with the catalogue facts, to the
   ``blend_recommendations`` hook (first answer wins; the built-in blend
   answers last).

A strategy that fails in any way costs only its own candidates: one that
raises or runs past its plugin's budget (gateway/host/isolation.py), one refused a
read (a category it did not declare, another shopper's data, Cypher its
manifest does not allow: any ``FORBIDDEN``, whatever its class), one whose
graph query failed. It is logged by plugin and strategy, and the blend goes
on without it. Named alone (``strategy``), there is nothing to blend: its
failure is that field's error (``FORBIDDEN`` naming the strategy and what it
reached for, the masked ``INTERNAL``, or ``UNAVAILABLE``), and a consent
refusal is ``CONSENT_REQUIRED`` with the purpose and categories. A blend that
raises is logged and the next one answers instead, down to the built-in.

Nothing personal is kept between requests: an event sent a moment ago shows
in the next answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from gateway.errors import BadUserInput, ConsentRequired, GatewayError
from gateway.fields import DataCategory
from gateway.gate import RequestGate
from gateway.host.isolation import PluginFailed, WaitedOnGraph, bounded
from gateway.strategies.data import Aggregates, StrategyData, profile_needs
from gateway.strategies.seam import strategy_allowed
from gateway.strategies.types import (
    BlendRequest,
    BlendVariant,
    Candidate,
    Recommendation,
    Registered,
    ServedList,
    Shopper,
    Skipped,
    StrategyDecision,
    StrategyResult,
    Subject,
    SubjectKind,
)
from gateway.web.requestid import current_request_id
from graph import Graph, GraphUnavailable
from graph.recs import Profile, ProfileKey, profile_of

if TYPE_CHECKING:
    from gateway.experiment import Assignment
    from gateway.settings import Settings

# Each strategy is asked for this many times what the page needs (and at least
# MIN_CANDIDATES), so that the blend still fills the page after leaving out
# what is bought, out of stock or over a brand's share.
OVERSAMPLE = 3
MIN_CANDIDATES = 30

log = logging.getLogger("tightrope.plugins")

# Why a personal strategy did not run for a shopper in the holdout group.
HELD_OUT = (
    "this shopper is in the group that sees what everyone sees, "
    "to measure what personal suggestions add"
)


class Recorder(Protocol):
    """What the runner tells the shop's figures (gateway/insights/recorder.py
    ``Analytics``): the shopper's group, each list served, and reads of an
    anonymous visit's data that no customer's access log shows."""

    async def group_of(self, gate: RequestGate, shopper: Shopper | None) -> Assignment | None: ...

    def note_served(
        self, served: ServedList, shopper: Shopper | None, group: Assignment
    ) -> None: ...

    def note_reads(
        self, plugin: str, reader: str, purpose: str, categories: Iterable[DataCategory]
    ) -> None: ...


class RecommendationService:
    """One app's recommenders, their caches, and the blend hook."""

    def __init__(
        self,
        strategies: Sequence[Registered],
        blend: Callable[..., Any],
        aggregates: Aggregates,
        plugin_settings: dict[type, Any] | None = None,
        budget: Callable[[str], float] = lambda plugin: 2.0,
    ) -> None:
        self.strategies = {s.name: s for s in strategies}
        self._blend = blend
        self.aggregates = aggregates
        self.plugin_settings = plugin_settings or {}
        self.budget = budget
        # Records what is served, for the shop's figures; set when the app
        # starts (it needs the graph), None until then and outside an app.
        self.analytics: Recorder | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        strategies: Sequence[Registered],
        blend: Callable[..., Any],
        plugin_settings: dict[type, Any],
    ) -> RecommendationService:
        """The service of an app for the recommenders start-up collected and checked
        (gateway/host/collect.py) and the blend hook: caches and budgets as set."""
        aggregates = Aggregates(
            settings.recommendations_cache_seconds,
            settings.catalogue_cache_seconds,
            settings.recommendations_cache_entries,
        )
        return cls(strategies, blend, aggregates, plugin_settings, settings.plugin_budget)

    async def serve(
        self,
        gate: RequestGate,
        graph: Graph,
        subject: Subject,
        first: int,
        *,
        placement: str,
        shopper: Shopper | None = None,
        strategy: str | None = None,
        signed_in_as: str | None = None,
    ) -> ServedList:
        """One list for ``subject`` at ``placement``: an opaque id, and its items numbered.

        ``shopper`` is who sees it, as far as the request knows (None: nobody
        known, such as a product page without a visit). The shopper's group
        (gateway/insights/experiment.py) decides whether personal strategies
        run at all (not in the holdout) and with which blend weights.
        """
        group = None
        if self.analytics is not None:
            group = await self.analytics.group_of(gate, shopper)
        items = await self._recommend(gate, graph, subject, first, strategy, signed_in_as, group)
        list_id = new_list_id()
        numbered = tuple(
            replace(item, list_id=list_id, position=position)
            for position, item in enumerate(items, start=1)
        )
        served = ServedList(list_id, placement, numbered)
        if self.analytics is not None and group is not None:
            self.analytics.note_served(served, shopper, group)
        return served

    async def recommend(
        self,
        gate: RequestGate,
        graph: Graph,
        subject: Subject,
        first: int,
        strategy: str | None = None,
        signed_in_as: str | None = None,
        placement: str = "",
    ) -> list[Recommendation]:
        """Up to ``first`` explained recommendations for ``subject``; ``strategy`` names one.

        ``gate`` is the request's (it decides which strategies may run), ``graph``
        the app's (the subject's profile and the catalogue are read from it).

        ``signed_in_as``: the customer a visit was signed in as, whose consent
        its personal strategies need (gateway/strategies/seam.py). The items
        carry the id of their list and their position in it; ``placement``
        names where the list is shown (the field's name when the client did
        not say).
        """
        shopper = _shopper_of(subject, signed_in_as)
        served = await self.serve(
            gate,
            graph,
            subject,
            first,
            placement=placement or subject.kind.value,
            shopper=shopper,
            strategy=strategy,
            signed_in_as=signed_in_as,
        )
        return list(served.items)

    async def _recommend(
        self,
        gate: RequestGate,
        graph: Graph,
        subject: Subject,
        first: int,
        strategy: str | None,
        signed_in_as: str | None,
        group: Assignment | None = None,
    ) -> list[Recommendation]:
        if strategy is not None and strategy not in self.strategies:
            known = ", ".join(sorted(self.strategies)) or "none"
            raise BadUserInput(
                f"strategy: no recommender named {strategy!r} (known: {known})",
                argument="strategy",
            )
        decisions: dict[str, StrategyDecision] = {}
        held_out = group is not None and group.holdout
        for name, registered in self.strategies.items():
            if held_out and registered.personal:
                decisions[name] = StrategyDecision(False, HELD_OUT)
            else:
                decisions[name] = await strategy_allowed(gate, registered, subject, signed_in_as)
        selected = [strategy] if strategy is not None else list(self.strategies)
        selected = [n for n in selected if self.strategies[n].serves(subject)]
        # A held-out shopper is not refused: the list says why it is not personal.
        named = decisions.get(strategy or "")
        if strategy in selected and named and not named.allowed and named.reason != HELD_OUT:
            raise refused_by_consent(self.strategies[strategy], named)
        allowed = [self.strategies[n] for n in selected if decisions[n].allowed]
        skipped = tuple(
            Skipped(self.strategies[n], decisions[n].reason)
            for n in selected
            if not decisions[n].allowed
        )
        profile = await profile_of(graph, self._profile_key(subject, allowed, decisions))
        loaders = self.aggregates.loaders(graph)
        want = max(first * OVERSAMPLE, MIN_CANDIDATES)
        answers = await asyncio.gather(
            *(
                _isolated(s, subject, want, StrategyData(s, subject, profile, loaders), self.budget)
                for s in allowed
            )
        )
        if strategy is not None:
            # Named alone, its failure is the field's: nothing else could answer.
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
        results = tuple(
            StrategyResult(s, () if isinstance(a, Exception) else a)
            for s, a in zip(allowed, answers, strict=True)
        )
        if self.analytics is not None and subject.kind is SubjectKind.SESSION and not signed_in_as:
            # An anonymous visit's own data, read with no customer's access log to
            # show it: noted for the dormant-data report.
            for s in allowed:
                if s.personal:
                    self.analytics.note_reads(
                        s.plugin, f"strategy {s.name}", s.purpose, s.categories
                    )
        skus = list(dict.fromkeys(c.sku for r in results for c in r.candidates))
        found = await loaders.product.load_many(skus)
        request = BlendRequest(
            subject=subject,
            count=first,
            results=results,
            skipped=skipped,
            products={sku: p for sku, p in zip(skus, found, strict=True) if p is not None},
            owned={o.sku: o.at for o in profile.purchases},
            excluded=_excluded(subject, profile),
            fallback=strategy is None,
            plugin_settings=self.plugin_settings,
            variant=BlendVariant(group.blend, dict(group.weights))
            if group is not None and group.experiment is not None
            else None,
        )
        blended = _blend(self._blend, request)
        if blended is None:
            raise RuntimeError("no plugin answered blend_recommendations")
        return list(blended)[:first]

    def _profile_key(
        self,
        subject: Subject,
        allowed: Sequence[Registered],
        decisions: dict[str, StrategyDecision],
    ) -> ProfileKey:
        categories: set[DataCategory] = set()
        for s in allowed:
            categories |= s.categories
        # What the subject bought (a customer) or has in the basket (a visit) is
        # left out of what is shown; it is read when any strategy allowed to read
        # that category for this request exists, whether or not it was asked for.
        for name, registered in self.strategies.items():
            if decisions[name].allowed and registered.serves(subject):
                categories |= registered.categories & {
                    DataCategory.PURCHASE_HISTORY,
                    DataCategory.BROWSING_HISTORY,
                }
        return ProfileKey(**profile_needs(subject, categories))


def new_list_id() -> str:
    """An opaque id for a served list: 96 random bits, URL-safe (16 characters)."""
    return secrets.token_urlsafe(12)


def _shopper_of(subject: Subject, signed_in_as: str | None) -> Shopper | None:
    """Who sees a list the client asked for by subject (the fields before placements)."""
    if subject.kind is SubjectKind.CUSTOMER:
        return Shopper(customer_id=subject.id)
    if subject.kind is SubjectKind.SESSION:
        return Shopper(customer_id=signed_in_as, session_id=subject.id)
    return None


def _excluded(subject: Subject, profile: Profile) -> frozenset[str]:
    """Never suggested: the product on its own page, what is in the visit's basket."""
    if subject.kind is SubjectKind.PRODUCT:
        return frozenset({subject.id})
    if subject.kind is SubjectKind.SESSION:
        return frozenset(item.sku for item in profile.cart)
    return frozenset()


def _blend(hook: Callable[..., Any], request: BlendRequest) -> Any:
    """The first blend's answer; one that raises is logged by plugin and the next one asked."""
    implementations = getattr(hook, "get_hookimpls", None)
    if implementations is None:
        return hook(request=request)
    # pluggy asks the most recently registered (and tryfirst) implementations first.
    for impl in reversed(implementations()):
        try:
            blended = impl.function(**{arg: request for arg in impl.argnames})
        except Exception:
            log.exception("plugin %r failed in blend_recommendations", impl.plugin_name)
            continue
        if blended is not None:
            return blended
    return None


def refused_by_consent(strategy: Registered, decision: StrategyDecision) -> ConsentRequired:
    """The error of a strategy named alone that the consent gate refused to run."""
    purpose = decision.purpose or strategy.purpose
    categories = sorted(c.value for c in decision.categories or strategy.categories)
    return ConsentRequired(
        f"strategy {strategy.name!r} needs consent for {purpose} "
        f"({', '.join(categories)}): {decision.reason}",
        strategy=strategy.name,
        purpose=purpose,
        category=categories[0],
        categories=categories,
    )


async def _isolated(
    strategy: Registered,
    subject: Subject,
    count: int,
    data: StrategyData,
    budget: Callable[[str], float],
) -> tuple[Candidate, ...] | Exception:
    """A strategy's candidates, or how it failed (logged by plugin and strategy).

    Every failure is caught here, whatever its class: a strategy never takes
    the blend down with it.
    """
    plugin = strategy.plugin
    work = _run(strategy, subject, count, data)
    try:
        return await bounded(work, plugin, f"strategy {strategy.name!r}", budget(plugin))
    except (PluginFailed, WaitedOnGraph) as exc:
        return exc  # bounded logged it
    except GraphUnavailable as exc:
        log.warning(
            "plugin %r: strategy %r lost its candidates: the graph is unavailable (request %s)",
            plugin,
            strategy.name,
            current_request_id(),
        )
        return exc
    except Exception as exc:
        # A refusal (FORBIDDEN: a category or subject it did not declare, Cypher
        # its manifest does not allow; its message names what it reached for) or
        # any other answer meant for a client.
        message = exc.message if isinstance(exc, GatewayError) else str(exc)
        log.error(
            "plugin %r: strategy %r was refused and lost its candidates (request %s): %s",
            plugin,
            strategy.name,
            current_request_id(),
            message,
        )
        if isinstance(exc, GatewayError):
            exc.extensions.setdefault("strategy", strategy.name)
        return exc


async def _run(
    strategy: Registered, subject: Subject, count: int, data: StrategyData
) -> tuple[Candidate, ...]:
    answer = await strategy.recommender.recommend(subject, count, data)
    candidates = tuple(answer)
    for candidate in candidates:
        if not isinstance(candidate, Candidate):
            raise TypeError(
                f"recommender {strategy.name!r} of plugin {strategy.plugin!r} returned "
                f"{type(candidate).__name__}, not a Candidate"
            )
    return candidates[:count]
