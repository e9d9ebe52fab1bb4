"""Consent policies: the plugins' answers to "may this read happen?", combined with AND.

A policy is any object with a ``decide(question)`` method (plain or ``async``)
returned by a plugin's ``register_consent_policies`` hook. The host asks every
policy and allows a read only when all of them allow it; with no policy
installed, only ``service`` reads are allowed. A policy that raises denies
(the error is logged with its plugin's name): a broken policy must fail closed.

The question carries the customer's consents as an awaitable, not a value: the
host reads them (once per request, through a DataLoader) only if a policy asks,
so a ``service`` read by the retailer's own frontend costs no graph read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from inspect import isawaitable
from typing import Protocol

from gateway.fields import DataCategory, Purpose
from gateway.principal import ClientKind
from graph import Consent, Graph, GraphUnavailable, consents_of_customers

log = logging.getLogger("tightrope.gate")

ConsentsRead = Callable[[], Awaitable[Mapping[str, Consent]]]


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer for one read: allowed or not, and why not."""

    allowed: bool
    reason: str | None
    purpose: Purpose
    categories: frozenset[DataCategory]


async def _no_consents() -> Mapping[str, Consent]:
    return {}


@dataclass(frozen=True)
class ConsentQuestion:
    """What a policy decides on: one purpose, the categories read, who reads about whom.

    ``customer_id`` is None for an anonymous visitor (whose consents are empty).
    ``plugin`` names the plugin whose field or strategy reads.
    """

    purpose: Purpose
    categories: frozenset[DataCategory]
    customer_id: str | None
    client_id: str | None
    client_kind: ClientKind | None
    plugin: str
    read_consents: ConsentsRead = field(default=_no_consents, repr=False, compare=False)

    async def consents(self) -> Mapping[str, Consent]:
        """The customer's current answer per purpose (a purpose never answered is absent)."""
        return await self.read_consents()

    def allow(self) -> Decision:
        return Decision(True, None, self.purpose, self.categories)

    def deny(self, reason: str) -> Decision:
        return Decision(False, reason, self.purpose, self.categories)


class ConsentPolicy(Protocol):
    """What ``register_consent_policies`` returns: ``decide`` may be ``async``."""

    def decide(self, question: ConsentQuestion) -> Decision | Awaitable[Decision]: ...


NO_POLICY = "no consent policy is installed: only service reads are allowed"


class Policies:
    """The app's policies, each with the name of the plugin that registered it."""

    def __init__(self, entries: Iterable[tuple[str, ConsentPolicy]] = ()) -> None:
        self.entries = tuple(entries)

    async def decide(self, question: ConsentQuestion) -> Decision:
        """Every policy's answer, combined with AND; the first refusal is the answer."""
        if not self.entries:
            if question.purpose is Purpose.SERVICE:
                return question.allow()
            return question.deny(NO_POLICY)
        for name, policy in self.entries:
            try:
                answer = policy.decide(question)
                if isawaitable(answer):
                    answer = await answer
            except GraphUnavailable:
                # The consents could not be read: the read is refused all the
                # same, but as UNAVAILABLE. CONSENT_REQUIRED would tell a shop
                # to ask the customer for a consent they may well have given.
                raise
            except Exception:
                log.exception("consent policy of plugin %r failed: the read is refused", name)
                return question.deny(f"the consent policy of {name} failed")
            if not isinstance(answer, Decision):
                log.error("consent policy of plugin %r answered %r: refused", name, answer)
                return question.deny(f"the consent policy of {name} gave no decision")
            if not answer.allowed:
                return question.deny(answer.reason or f"refused by {name}")
        return question.allow()

    async def decide_for_customers(
        self,
        graph: Graph,
        customer_ids: Collection[str],
        purpose: Purpose,
        categories: frozenset[DataCategory],
        plugin: str,
    ) -> dict[str, Decision]:
        """Each customer's decision on ``plugin`` reading ``categories`` for ``purpose``.

        For work outside a request, with no client (linking after the
        response, ``tightrope recompute``). The customers' consents are read
        once for all of them, and only if a policy asks.
        """
        wanted = sorted(set(customer_ids))
        read: asyncio.Future[list[dict[str, Consent]]] | None = None

        async def consents_of(index: int) -> Mapping[str, Consent]:
            nonlocal read
            if read is None:
                read = asyncio.ensure_future(consents_of_customers(graph, wanted))
            return (await read)[index]

        decisions = {}
        for index, customer_id in enumerate(wanted):
            question = ConsentQuestion(
                purpose, categories, customer_id, None, None, plugin, partial(consents_of, index)
            )
            decisions[customer_id] = await self.decide(question)
        return decisions
