"""Neo4j's transient errors (two writers deadlocked) are the gateway's to retry, not the client's.

Deadlocks between concurrent writers are normal in Neo4j: a sign-in's linking
and a view on the same device met this way, and the view's client was told
UNAVAILABLE for an ordinary event. The gateway now tries such a write again
within the request's deadline and counts it on /metrics.
"""

from __future__ import annotations

import asyncio

import strawberry

from gateway import FieldSpec, Manifest, hookimpl
from graph import Graph
from tests.gateway.conftest import Serve, gql, settings_for_tests
from tests.gateway.test_metrics import sample
from tests.graph.test_driver import LOCK_PROBE, PROBES, OppositeLocks

LOCK = "mutation($first: Int!, $second: Int!) { lockProbes(first: $first, second: $second) }"


class ProbeLocker:
    """A plugin whose mutation writes two nodes of its own in the order the client names."""

    tightrope_name = "probe-locker"

    def __init__(self) -> None:
        self.locks = OppositeLocks()

    @hookimpl
    def plugin_manifest(self) -> Manifest:
        return Manifest(raw_cypher="writes DeadlockProbe nodes of its own")

    @hookimpl
    def register_fields(self) -> list[FieldSpec]:
        locks = self.locks

        async def lock_probes(root: object, info: strawberry.Info, first: int, second: int) -> bool:
            await locks.write(info.context.graph_for(info), first, second)
            return True

        return [FieldSpec("Mutation", "lockProbes", "Boolean!", lock_probes)]


async def test_two_writers_made_to_deadlock_both_succeed_without_an_error(
    demo_graph: Graph, served: Serve
) -> None:
    await demo_graph.write(PROBES)
    await demo_graph.write(LOCK_PROBE, {"id": 0, "me": 0})  # planned before the deadline holds
    # A deadline for each statement of a write (production's is a second; a
    # shared test machine is slow at times), which the retry must keep.
    settings = settings_for_tests(graph_deadline=5.0)
    async with served(settings, plugins=[ProbeLocker()]) as (_, client):
        one, other = await asyncio.gather(
            gql(client, LOCK, {"first": 1, "second": 2}),
            gql(client, LOCK, {"first": 2, "second": 1}),
        )
        metrics = (await client.get("/metrics")).text
    rows = await demo_graph.read("MATCH (p:DeadlockProbe) RETURN p.by AS by ORDER BY p.id")
    await demo_graph.write("MATCH (p:DeadlockProbe) DELETE p")
    assert one == other == {"data": {"lockProbes": True}}
    # Neo4j did fail one of them, and the gateway tried it again.
    retried = sample(
        metrics, "tightrope_graph_retries_total", kind="write", reason="DeadlockDetected"
    )
    assert retried is not None and retried >= 1
    assert [sorted(row["by"]) for row in rows] == [[1, 2], [1, 2]]
