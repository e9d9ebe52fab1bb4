"""Undoing links: a customer's "this device is not mine", and a withdrawn consent.

Both only remove ``USED_BY`` edges (graph/links.py), and a withdrawal the
customer's household memberships (graph/households.py): no device, session or
event is touched, so what a customer's history, journey and recommendations
read is at once what it was before the link. Nothing is cached about links,
so the very next request sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.linking.types import DETERMINISTIC
from graph import Graph
from graph.households import leave_households
from graph.links import Unlinked, drop_links, unlink


async def unlink_device(graph: Graph, customer_id: str, device_id: str) -> Unlinked | None:
    """Remove the device from the customer's; None when it is not linked to them.

    The customer's word is remembered: the evidence that linked the device
    does not link it again (gateway/linking/rules.py), only a sign-in after now.
    """
    return await unlink(graph, device_id, customer_id, datetime.now(UTC))


async def forget_guesses(graph: Graph, customer_id: str) -> int:
    """Remove every probabilistic link of the customer's (their cross_device consent ended),
    and take them out of every household (gateway/linking/households.py).

    Links the customer proved (a sign-in, their email) stay: they never
    depended on that consent. A household needs it of each member: the
    customer leaves, the household's guessed devices go with them (those
    guesses may rest on their browsing), and a household left with fewer than
    two members goes. Returns how many links went.
    """
    dropped = await drop_links(graph, customer_id, DETERMINISTIC)
    await leave_households(graph, customer_id)
    return dropped
