"""A customer's rights to their data, carried out through every plugin: export and erasure.

``exportMyData`` gathers what the graph holds (graph/export.py: the profile,
the opened contact, every relationship of the customer, their sessions with
their events, their apps' sessions) and asks every plugin for what it keeps
(the ``export_customer_data`` hook); the document names who contributed what,
and a plugin that failed is named as such, never silently left out.

``forgetMe`` (plugins/privacy.py) and ``tightrope customers forget ID`` both
come here to erase. An erasure runs in two steps:

1. every plugin erases what it keeps about the customer (the
   ``erase_customer_data`` hook), while the customer still exists so it can
   find what hangs off them. If one fails, the erasure stops there with a
   clear error and the customer is left in place: running it again finishes
   the job (plugins erase idempotently);
2. the graph's own erasure (graph/erasure.py) deletes the customer and
   everything that carries their identity in one transaction, and leaves
   tombstones so that events still arriving for them are refused.

Erasing a customer who was already erased is answered as such, not as an
unknown id: the tombstone (a keyed hash, not the id) says so.

``forgetMe`` asks for confirmation first: without one it returns a
confirmation code, an HMAC of the customer's id and an expiry under the
deployment's PII key, valid for ten minutes; with a valid code it erases.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from inspect import isawaitable
from typing import Any, Final

from gateway.host.manager import PluginHost
from gateway.settings import Settings
from graph import Graph, GraphUnavailable
from graph.contacts import contacts_by_id
from graph.erasure import erase_customer, is_erased
from graph.export import export_customer, plain
from graph.insights import erase_served, export_served

log = logging.getLogger("tightrope.rights")

CONFIRMATION_SECONDS: Final = 600
# A confirmation code: its expiry (epoch seconds), a dot, then its MAC.
CODE: Final = re.compile(r"(?P<expires>[0-9]+)\.(?P<mac>[0-9a-f]+)", re.ASCII)
RETRY_PAUSES: Final = (0.2, 0.5, 1.0)
CORE: Final = "tightrope"


class ErasureRefused(Exception):
    """The erasure did not run (or did not finish); the message says why, for the customer."""


class AlreadyErased(ErasureRefused):
    pass


class UnknownCustomer(ErasureRefused):
    pass


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed: by kind of data, and by who held it (a plugin or the core)."""

    customer_id: str
    removed: dict[str, int]
    by_plugin: dict[str, int] = field(default_factory=dict)


class CustomerRights:
    """The host side of a customer's rights; one per app (or CLI command)."""

    def __init__(
        self,
        host: PluginHost,
        settings: Settings,
        plugin_graphs: Callable[[Graph], object] | None = None,
    ) -> None:
        self._host = host
        self._settings = settings
        # What the hooks' ``graph`` argument is: in an app, each plugin's own
        # checked graph (PluginGraphs.per_plugin); the host's one elsewhere.
        self._plugin_graphs = plugin_graphs or (lambda graph: graph)

    @property
    def _pii_key(self) -> str:
        # Asked when needed: assembling an app (``tightrope schema``) needs no secret.
        return self._settings.pii_secret()

    # -- confirmation -----------------------------------------------------------

    def _mac(self, customer_id: str, expires: int) -> str:
        message = f"tightrope forget {customer_id} {expires}".encode()
        return hmac.new(self._pii_key.encode(), message, hashlib.sha256).hexdigest()[:32]

    def confirmation(self, customer_id: str, now: float | None = None) -> tuple[str, int]:
        """A code that confirms erasing ``customer_id``, and when it expires (epoch seconds)."""
        expires = int(now if now is not None else time.time()) + CONFIRMATION_SECONDS
        return f"{expires}.{self._mac(customer_id, expires)}", expires

    def confirmed(self, customer_id: str, code: str, now: float | None = None) -> bool:
        """Whether ``code`` confirms erasing ``customer_id`` now; a malformed code does not."""
        # ASCII only: str.isdigit takes "²", which int() refuses, and
        # compare_digest raises on a non-ASCII str. Any code that is not ours
        # must be a plain "no", never an error.
        parsed = CODE.fullmatch(code) if len(code) <= 64 else None
        if parsed is None:
            return False
        expires = int(parsed["expires"])
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(parsed["mac"].encode(), self._mac(customer_id, expires).encode())

    # -- export -----------------------------------------------------------------

    async def export(self, graph: Graph, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer, as one JSON-ready document."""
        core = await export_customer(graph, customer_id)
        if core is None:
            await self._refuse_missing(graph, customer_id)
            raise AssertionError("unreachable")
        keys = self._settings.data_keys_in_use()
        contact = (await contacts_by_id(graph, [customer_id], keys))[0]
        held: dict[str, Any] = {
            "contact": None
            if contact is None
            else {k: v for k, v in asdict(contact).items() if v is not None},
            **core,
            # The recommendation lists shown to them and what they sent back from
            # them (the host records these: gateway/insights/recorder.py).
            "recommendations_served": plain(await export_served(graph, customer_id)),
        }
        document: dict[str, Any] = {
            "customer_id": customer_id,
            "exported_at": datetime.now(UTC).isoformat(),
            **held,
            "plugins": {},
            "contributors": {CORE: sorted(held)},
            "not_exported": [],
        }
        for name, result in self._host.collect_each(
            "export_customer_data", customer_id=customer_id, graph=self._plugin_graphs(graph)
        ):
            try:
                if isinstance(result, BaseException):
                    raise result
                data = await result if isawaitable(result) else result
            except Exception:
                log.exception("plugin %r failed in export_customer_data", name)
                document["not_exported"].append(
                    {"plugin": name, "reason": "the plugin failed; ask again later"}
                )
                continue
            if data:
                document["plugins"][name] = plain(data)
                document["contributors"][name] = sorted(data) if isinstance(data, dict) else []
        return document

    # -- erasure ----------------------------------------------------------------

    async def erase(self, graph: Graph, customer_id: str) -> Erasure:
        """Erase the customer through every plugin, then in the graph (see the module)."""
        rows = await graph.read(
            "MATCH (c:Customer {id: $id}) RETURN count(c) AS n", {"id": customer_id}
        )
        if not rows or not rows[0]["n"]:
            await self._refuse_missing(graph, customer_id)
        by_plugin: dict[str, int] = {}
        for name, result in self._host.collect_each(
            "erase_customer_data", customer_id=customer_id, graph=self._plugin_graphs(graph)
        ):
            try:
                if isinstance(result, BaseException):
                    raise result
                count = await result if isawaitable(result) else result
            except Exception:
                log.exception("plugin %r failed in erase_customer_data", name)
                raise ErasureRefused(
                    f"the erasure stopped: plugin {name!r} could not erase its data; "
                    "nothing else was erased yet, and running it again finishes the job"
                ) from None
            if count:
                by_plugin[name] = int(count)
        # What the host recorded of the lists served to them, while their visits
        # and devices can still be found (idempotent, like a plugin's part).
        served = await erase_served(graph, customer_id)
        removed = await self._erase_in_graph(graph, customer_id)
        if removed is None:  # erased by someone else meanwhile
            await self._refuse_missing(graph, customer_id)
            raise AssertionError("unreachable")
        if served:
            removed = {**removed, "recommendation lists and their events": served}
        return Erasure(customer_id, removed, by_plugin)

    async def _erase_in_graph(self, graph: Graph, customer_id: str) -> dict[str, int] | None:
        # The erasure is one transaction: a failed attempt changed nothing. It
        # may meet a lock held by a busy writer (an access log flush, a batch
        # of events) and lose a deadlock, so it is worth a few more tries
        # before the customer is told to come back. Only devices proved theirs
        # go: a guessed one may be someone else's (graph/erasure.py).
        erase = partial(erase_customer, graph, customer_id, self._pii_key)
        for pause in RETRY_PAUSES:
            try:
                return await erase()
            except GraphUnavailable:
                log.warning("erasing a customer failed; trying again in %.1fs", pause)
                await asyncio.sleep(pause)
        return await erase()

    async def _refuse_missing(self, graph: Graph, customer_id: str) -> None:
        if await is_erased(graph, customer_id, self._pii_key):
            raise AlreadyErased(f"customer {customer_id!r} was already erased")
        raise UnknownCustomer(f"no customer {customer_id!r}")
