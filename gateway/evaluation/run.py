"""One evaluation run: split, load, recompute, ask the gateway's service, score, compare.

The strategies and the blend are asked exactly as ``Customer.recommendations``
asks them (the app's :class:`~gateway.strategies.RecommendationService`,
with a principal that is the customer's own token holding
``recommendations:read``): the seam, the scoped data access, the Cypher, the
caches and the blend are the served ones. Only HTTP and GraphQL parsing are
left out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from gateway.app import assemble
from gateway.evaluation import baselines, movielens
from gateway.evaluation.protocol import K, Scores, Split, score, stratified_split
from gateway.principal import ClientKind, Principal
from gateway.settings import Settings
from gateway.strategies import Subject, recompute
from graph import Graph
from graph.evaluation import Bought, Item, load, prepare

BLEND = "blend"
# Requests in flight at once: the machine has two cores, Neo4j needs one.
CONCURRENCY = 4


@dataclass
class Report:
    dataset: str
    seed: int
    users: int
    items: int
    train: int
    test: int
    rows: dict[str, tuple[Scores, Scores]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def row(name: str) -> dict[str, Any]:
            every, sparse = self.rows[name]
            return {"all": every.as_dict(), "sparse_third": sparse.as_dict()}

        references = ("popularity", "als", "bpr")
        return {
            "dataset": self.dataset,
            "seed": self.seed,
            "k": K,
            "protocol": "Microsoft Recommenders: 75/25 stratified per user, items seen in "
            "training removed, binary relevance",
            "users": self.users,
            "items": self.items,
            "train_interactions": self.train,
            "test_interactions": self.test,
            BLEND: row(BLEND),
            **{name: row(name) for name in references if name in self.rows},
            "strategies": {
                name: row(name) for name in self.rows if name != BLEND and name not in references
            },
            "notes": self.notes,
            "seconds": self.seconds,
        }


def _slug(genre: str) -> str:
    return "genre-" + "".join(ch if ch.isalnum() else "-" for ch in genre.lower())


async def load_split(graph: Graph, data: movielens.Dataset, split: Split) -> None:
    """The training part into the evaluation graph: movies, users, their interactions."""
    await prepare(graph)
    genres = sorted({g for m in data.movies for g in m.genres})
    items = [
        Item(
            f"ml-{m.item}",
            f"{m.title} ({m.year})" if m.year else m.title,
            tuple(_slug(g) for g in m.genres),
        )
        for m in data.movies
    ]
    customers = [f"u-{user}" for user in split.users]
    bought = [
        Bought(f"u-{r.user}", f"ml-{r.item}", int(r.at))
        for user in split.users
        for r in split.train[user]
    ]
    await load(graph, [(_slug(g), g) for g in genres], items, customers, bought)


async def served_lists(
    graph: Graph, settings: Settings, users: Sequence[str], progress: bool
) -> dict[str, dict[str, list[str]]]:
    """Every strategy's and the blend's top-``K`` per user, from the gateway's own service."""
    assembly = assemble(settings)
    service = assembly.recommendations
    runs: list[str | None] = [None, *sorted(service.strategies)]
    lists: dict[str, dict[str, list[str]]] = {name or BLEND: {} for name in runs}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def ask(user: str, strategy: str | None, bar: tqdm[Any]) -> None:
        principal = Principal(
            "evaluation", ClientKind.FIRST_PARTY, f"u-{user}", frozenset({"recommendations:read"})
        )
        context = assembly.context(principal, graph)
        async with gate:
            found = await context.recommend(Subject.customer(f"u-{user}"), K, strategy)
        lists[strategy or BLEND][user] = [r.sku.removeprefix("ml-") for r in found]
        bar.update()

    with tqdm(
        total=len(users) * len(runs), desc="serving", unit=" lists", disable=not progress
    ) as bar:
        for strategy in runs:
            await asyncio.gather(*(ask(user, strategy, bar) for user in users))
    return lists


async def evaluate(
    graph: Graph, settings: Settings, seed: int, users: int | None, progress: bool
) -> Report:
    began = time.monotonic()
    data = movielens.load(users)
    split = stratified_split(data.ratings, seed)
    train = sum(len(v) for v in split.train.values())
    test = sum(len(v) for v in split.test.values())
    catalogue = len(split.train_items)
    report = Report("ml-100k", seed, len(split.users), len(data.movies), train, test)

    await load_split(graph, data, split)
    report.seconds["load"] = time.monotonic() - began
    began = time.monotonic()
    assembly = assemble(settings)
    strategies = list(assembly.recommendations.strategies.values())
    policies = assembly.gate.policies
    await recompute(strategies, graph, progress, assembly.graphs.of, policies)
    report.seconds["recompute"] = time.monotonic() - began
    began = time.monotonic()
    lists = await served_lists(graph, settings, split.users, progress)
    report.seconds["serve"] = time.monotonic() - began
    requests = len(split.users) * len(lists)
    report.notes["serving"] = (
        f"{requests} lists in {report.seconds['serve']:.1f}s "
        f"({1000 * report.seconds['serve'] / max(1, requests):.1f} ms each, {CONCURRENCY} at once)"
    )

    began = time.monotonic()
    lists["popularity"] = baselines.popularity(split)
    try:
        lists.update(baselines.implicit_models(split, seed))
    except ImportError:
        report.notes["als"] = report.notes["bpr"] = "implicit is not installed"
    report.seconds["baselines"] = time.monotonic() - began

    sparse = split.sparse_third()
    for name, found in lists.items():
        if name != BLEND and not any(found.values()):
            report.notes[name] = "serves no customer (a visit's or a product's strategy)"
        report.rows[name] = (
            score(found, split.test, split.users, catalogue),
            score(found, split.test, sparse, catalogue),
        )
    report.notes["run"] = f"finished {datetime.now(UTC).isoformat(timespec='seconds')}"
    return report
