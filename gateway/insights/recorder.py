"""Recording what was served and what it led to, for the shop's figures (docs/insights.md).

Every list the recommendation service serves is noted here: one
:class:`~graph.insights.ServedRecord` (its id, placement, experiment group,
who saw it, the product and strategy at each position), kept in memory and
written in batches by a task of the app, never on the request's path (the
access log's buffer, gateway/gate/access_log.py, with its loss bound: a crash
loses at most about one flush interval of lists). Events a client sends back
"from list X" (``trackEvents`` with ``listId``) are written with the events,
in the same request.

Only what counts is recorded: a list or event of a shopper whose consent does
not allow ``analytics`` (the consent policies decide; for a visitor who never
answered, the deployment's regime) is not written at all. The figures check
consent again when they are made, so a later refusal takes a shopper out of
them too.

It also keeps the data-use ledger's notes (reads the access log does not
see, for the dormant-data report: gateway/insights/dormant.py) and writes
them with the lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from gateway.fields import DataCategory, Purpose
from gateway.gate.access_log import AccessLog
from gateway.insights.experiment import NOT_ASSIGNED, Assignment, Experiment, assign, subject_of
from gateway.strategies.types import ServedList, Shopper
from graph import Event, Graph
from graph.insights import (
    ListEventRecord,
    Noted,
    ServedRecord,
    list_event_key,
    note_uses,
    write_list_events,
    write_served,
)

if TYPE_CHECKING:
    from gateway.gate import RequestGate
    from gateway.settings import Settings

# The host asks the consent policies in its own name.
HOST: Final = "tightrope"
# What a list id looks like (gateway/strategies/runner.py ``new_list_id``).
LIST_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}", re.ASCII)
MAX_POSITION: Final = 1000
# Events that can come from a list: a login does not.
FROM_LISTS: Final = ("view", "add_to_cart", "purchase")


@dataclass(frozen=True, slots=True)
class FromList:
    """An event the client sent with the id of the list it came from."""

    event: Event
    list_id: str
    position: int | None


def list_reference(
    event_type: str, list_id: str | None, position: int | None
) -> tuple[str | None, str | None]:
    """The list id to keep for an event, or None and why it is not kept."""
    if list_id is None:
        return None, None
    if event_type not in FROM_LISTS:
        return None, f"a {event_type} comes from no list"
    if not LIST_ID.fullmatch(list_id):
        return None, "is not a list id this gateway serves"
    if position is not None and not 1 <= position <= MAX_POSITION:
        return None, f"position must be 1 to {MAX_POSITION}"
    return list_id, None


class Analytics:
    """One app's recording of served lists and list events."""

    def __init__(self, graph: Graph, settings: Settings) -> None:
        self.graph = graph
        pii_key = settings.pii_secret()
        self._secret = pii_key
        self.holdout_share = settings.holdout_share
        self.experiment: Experiment | None = settings.experiment

        async def write(graph: Graph, batch: Sequence[ServedRecord | Noted]) -> None:
            lists = [r for r in batch if isinstance(r, ServedRecord)]
            if lists:
                await write_served(graph, lists, pii_key)
            latest: dict[str, Noted] = {}
            for r in batch:
                if isinstance(r, Noted) and (r.key not in latest or latest[r.key].at < r.at):
                    latest[r.key] = r
            await note_uses(graph, latest.values())

        self.buffer = AccessLog(
            graph,
            interval=settings.access_log_flush_seconds,
            batch=settings.access_log_batch,
            max_pending=settings.access_log_max_pending,
            shutdown_seconds=settings.access_log_shutdown_seconds,
            write=write,
            what="served lists",
        )

    def start(self) -> None:
        self.buffer.start()

    def note_reads(
        self, plugin: str, reader: str, purpose: str, categories: Iterable[DataCategory]
    ) -> None:
        """Note a read the access log does not see (the dormant-data report's ledger).

        Only the latest time per plugin, reader, purpose and category is kept,
        and written with the next batch of lists.
        """
        at = datetime.now(UTC)
        self.buffer.add(Noted(plugin, reader, purpose, c.value, at) for c in categories)

    async def close(self) -> None:
        await self.buffer.close()

    async def counts(self, gate: RequestGate, customer_id: str | None, purchase: bool) -> bool:
        """Whether the shopper's consent lets analytics count what they see and do."""
        categories = {DataCategory.BROWSING_HISTORY}
        if purchase:
            categories.add(DataCategory.PURCHASE_HISTORY)
        decision = await gate.decision(customer_id, Purpose.ANALYTICS, frozenset(categories), HOST)
        return decision.allowed

    async def group_of(self, gate: RequestGate, shopper: Shopper | None) -> Assignment | None:
        """The shopper's group; None when their consent does not let analytics count them.

        A shopper with no id at all (a product page without a visit) is in
        no experiment group, but what they are shown still counts.
        """
        who = shopper or Shopper()
        if not await self.counts(gate, who.customer_id, purchase=False):
            return None
        subject = subject_of(who)
        if subject is None:
            return NOT_ASSIGNED
        return assign(self._secret, subject, self.holdout_share, self.experiment)

    def note_served(self, served: ServedList, shopper: Shopper | None, group: Assignment) -> None:
        """Keep a served list for the next write (its shopper counts: ``group_of`` said so)."""
        who = shopper or Shopper()
        record = ServedRecord(
            id=served.id,
            at=datetime.now(UTC),
            placement=served.placement,
            arm=group.arm,
            blend=group.blend,
            experiment=group.experiment,
            customer_id=who.customer_id,
            session_id=who.session_id,
            device_id=who.device_id,
            skus=tuple(item.sku for item in served.items),
            strategies=tuple(item.strategy for item in served.items),
        )
        self.buffer.add([record])

    async def note_list_events(self, gate: RequestGate, events: Sequence[FromList]) -> int:
        """Write the stored events that came from a list and count; how many were."""
        records = []
        for item in events:
            event = item.event
            if event.sku is None:
                continue
            customer = event.customer_id or gate.principal.customer_id
            if not await self.counts(gate, customer, purchase=event.type == "purchase"):
                continue
            who = event.session_id or customer or ""
            records.append(
                ListEventRecord(
                    key=list_event_key(event.type, event.event_id, event.sku, event.at, who),
                    list_id=item.list_id,
                    position=item.position,
                    sku=event.sku,
                    type=event.type,
                    at=event.at,
                    session_id=event.session_id,
                    customer_id=customer,
                    qty=event.qty,
                    price=event.price,
                )
            )
        await write_list_events(self.graph, records)
        return len(records)
