"""Undoing links: a customer's "this device is not mine", and a withdrawn consent.

Both only remove ``USED_BY`` edges (graph/links.py): no device, session or
event is touched, so what a customer's history, journey and recommendations
read is at once what it was before the link. Nothing is cached about links,
so the very next request sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.linking.types import DETERMINISTIC
from graph import Graph
from graph.links import Unlinked, drop_links, unlink


async def unlink_device(graph: Graph, customer_id: str, device_id: str) -> Unlinked | None:
    """Remove the device from the customer's; None when it is not linked to them.

    The customer's word is remembered: the evidence that linked the device
    does not link it again (gateway/linking/rules.py), only a sign-in after now.
    """
    return await unlink(graph, device_id, customer_id, datetime.now(UTC))


async def forget_guesses(graph: Graph, customer_id: str) -> int:
    """Remove every probabilistic link of the customer's (their cross_device consent ended).

    Links the customer proved (a sign-in, their email) stay: they never
    depended on that consent. Returns how many links went.
    """
    return await drop_links(graph, customer_id, DETERMINISTIC)
