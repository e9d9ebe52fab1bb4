"""A customer's word on links: "this device is not mine", a withdrawn consent, and the
answers to suggested devices ("yes, mine" / "not mine").

Undoing only removes ``USED_BY`` edges (graph/links.py), and a withdrawal the
customer's household memberships (graph/households.py): no device, session or
event is touched, so what a customer's history, journey and recommendations
read is at once what it was before the link. Nothing is cached about links,
so the very next request sees it. A confirmed suggestion is a proof of the
customer's own (the method ``confirmed``, confidence 1); a rejected one is
remembered as an unlinking, so nothing guesses or suggests that device to them
again (graph/suggestions.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from gateway.linking.types import CONFIRMED, DETERMINISTIC
from graph import Graph
from graph.households import leave_households
from graph.links import Unlinked, drop_links, unlink
from graph.suggestions import confirm_device as confirm
from graph.suggestions import reject_device as reject

# The links no guess, consent or other customer's proof takes away: the
# customer's own sign-ins, verified emails and word.
PROVED: Final = DETERMINISTIC | {CONFIRMED}


async def unlink_device(graph: Graph, customer_id: str, device_id: str) -> Unlinked | None:
    """Remove the device from the customer's; None when it is not linked to them.

    The customer's word is remembered: the evidence that linked the device
    does not link it again (gateway/linking/rules.py), only a sign-in after now.
    """
    return await unlink(graph, device_id, customer_id, datetime.now(UTC))


async def forget_guesses(graph: Graph, customer_id: str) -> int:
    """Remove every probabilistic link and suggestion of the customer's (their
    cross_device consent ended), and take them out of every household
    (gateway/linking/households.py).

    Links the customer proved (a sign-in, their verified email, their word)
    stay: they never depended on that consent. A household needs it of each
    member: the customer leaves, the household's guessed devices go with them
    (those guesses may rest on their browsing), and a household left with
    fewer than two members goes. Returns how many links went.
    """
    dropped = await drop_links(graph, customer_id, PROVED)
    await leave_households(graph, customer_id)
    return dropped


async def confirm_device(graph: Graph, customer_id: str, device_id: str) -> bool:
    """The customer says a device suggested to them is theirs; False if none was suggested."""
    at = datetime.now(UTC)
    text = f"You confirmed this device is yours on {at.day} {at:%B %Y}"
    return await confirm(graph, device_id, customer_id, at, text, sorted(PROVED))


async def reject_device(graph: Graph, customer_id: str, device_id: str) -> bool:
    """The customer says a device suggested to them is not theirs; False if none was."""
    return await reject(graph, device_id, customer_id, datetime.now(UTC))
