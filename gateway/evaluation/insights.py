"""``tightrope evaluate insights``: a simulated shop with planted effects, measured end to end.

One seed (gateway/evaluation/shop.py builds the shop):

1. the catalogue, the customers and their consents are loaded, and 150 days
   of history go through ``write_events`` (the write path ``trackEvents``
   uses); ``tightrope recompute``'s work runs on it;
2. the gateway app (its plugins, gate, holdout and an A/B test between two
   blends, ``A`` and ``B``, whose shoppers are simulated alike) serves every
   customer one ``HOME`` list over GraphQL, as the shop's frontend would for a
   signed-in customer; the lists are recorded by the app as in production;
3. each shopper then acts on what they were shown: clicks (views sent with
   the list's id), and a purchase with probability ``BASE_CONVERSION``, times
   ``1 + LIFT`` if the list held personal recommendations. The events go back
   through ``trackEvents``, sent by the shop's back end;
4. the report is made by the pipeline every user gets (gateway/insights/
   report.py): the insights as of the moment the experiment starts (what a
   merchandiser would read that morning), the lift once it is over.

Scored: whether the planted lift (its expected value for the personal group,
given how many of them were shown personal lists) lies inside the reported
95 % interval; whether the A/B comparison, where nothing is planted, claims a
lift; the precision of the top five insights against what was planted; and
whether an insight about a plain bestseller ranks above a planted one.

The app here authenticates requests with a function that names the
customer (the frontend's token would); OAuth is not what is measured.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
from starlette.requests import Request
from tqdm import tqdm

from gateway.app import create_app
from gateway.evaluation.shop import BASE_CONVERSION, LIFT, Shop, build
from gateway.insights.experiment import Experiment
from gateway.insights.findings import Insight
from gateway.insights.report import Options, ShopReport
from gateway.principal import ClientKind, Principal
from gateway.settings import Settings
from gateway.strategies import recompute
from graph import Graph, write_events
from graph.evaluation import prepare
from graph.ingest import write_catalogue, write_customer_base

CUSTOMERS: Final = 3000
AB: Final = Experiment.model_validate(
    {
        "name": "evaluation",
        "variants": [
            {"name": "A", "share": 0.5},
            {"name": "B", "share": 0.5, "weights": {"collaborative": 0.5, "affinity": 0.3}},
        ],
    }
)
HOME: Final = """query($s: ID) { recommendations(placement: HOME, sessionId: $s, first: 8) {
  listId items { position product { sku inStock } reasons { purpose } } } }"""
TRACK: Final = """mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted
  rejected { index message } } }"""
CUSTOMER_HEADER: Final = "X-Evaluation-Customer"
CONCURRENCY: Final = 4
CLICK: Final = 0.08
GOALS: Final = {"coverage": 19, "precision_at_5": 0.8}


@dataclass
class SeedResult:
    seed: int
    customers: int
    events: int
    treated_share: float
    planted_lift: float
    lift: dict[str, Any]
    ab: dict[str, Any]
    top5: list[str]
    precision_at_5: float
    planted_found: int
    bestseller_above_planted: int
    seconds: dict[str, float]

    @property
    def covered(self) -> bool | None:
        r = self.lift.get("result")
        if r is None:
            return None
        return bool(r["lift_low"] <= self.planted_lift <= r["lift_high"])

    @property
    def ab_claimed(self) -> bool | None:
        return None if self.ab.get("result") is None else bool(self.ab["significant"])

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "covered": self.covered, "ab_claimed": self.ab_claimed}


async def _authenticate(request: Request) -> Principal:
    """The shop's frontend for a signed-in customer, or its back end sending events."""
    customer = request.headers.get(CUSTOMER_HEADER)
    if customer:
        return Principal("frontend", ClientKind.FIRST_PARTY, customer, frozenset({
            "recommendations:read"}))  # fmt: skip
    return Principal("backend", ClientKind.FIRST_PARTY, None, frozenset({"events:write"}))


async def _load(graph: Graph, shop: Shop, settings: Settings, progress: bool) -> None:
    await write_catalogue(graph, shop.catalogue)
    await write_customer_base(graph, shop.customers)
    events = sorted(shop.events, key=lambda e: e.at)
    pii = settings.pii_secret()
    with tqdm(total=len(events), desc="history", unit=" events", disable=not progress) as bar:
        for start in range(0, len(events), 5000):
            batch = events[start : start + 5000]
            result = await write_events(graph, batch, pii_key=pii)
            assert not result.rejected, result.rejected[:3]
            bar.update(len(batch))


async def _serve(
    client: httpx.AsyncClient, shop: Shop, progress: bool
) -> dict[str, dict[str, Any]]:
    """One HOME list per customer, as their frontend asks for it."""
    gate = asyncio.Semaphore(CONCURRENCY)
    served: dict[str, dict[str, Any]] = {}
    bar = tqdm(total=len(shop.customers.customers), desc="lists", disable=not progress)

    async def one(cid: str) -> None:
        async with gate:
            answer = await client.post(
                "/graphql",
                json={"query": HOME, "variables": {"s": f"{cid}-exp"}},
                headers={CUSTOMER_HEADER: cid},
            )
        body = answer.json()
        assert "errors" not in body, body
        served[cid] = body["data"]["recommendations"]
        bar.update(1)

    await asyncio.gather(*(one(c.id) for c in shop.customers.customers))
    bar.close()
    return served


def _treated(listed: dict[str, Any]) -> bool:
    return any(
        r["purpose"] == "personalisation" for item in listed["items"] for r in item["reasons"]
    )


def _act(shop: Shop, served: dict[str, dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """What each shopper does after seeing their list: clicks, and perhaps a purchase."""
    rng = random.Random(f"{shop.seed}:behaviour")  # noqa: S311 - a reproducible scenario
    stock = [p.sku for p in shop.in_stock]
    weights = [shop.weights[s] for s in stock]
    rows: list[dict[str, Any]] = []

    def send(cid: str, at: datetime, kind: str, sku: str | None = None, **extra: Any) -> None:
        rows.append(
            {
                "eventId": f"x{shop.seed}-{len(rows)}",
                "type": kind,
                "sessionId": f"{cid}-exp",
                "customerId": cid,
                "at": (at + timedelta(milliseconds=len(rows))).isoformat(),
                **({"sku": sku} if sku else {}),
                **extra,
            }
        )

    for n, (cid, listed) in enumerate(sorted(served.items())):
        at = now + timedelta(seconds=n % 600)
        send(cid, at, "LOGIN")
        clicked = []
        for item in listed["items"][:5]:
            if rng.random() < CLICK:
                sku = item["product"]["sku"]
                clicked.append(sku)
                send(cid, at, "VIEW", sku, listId=listed["listId"], position=item["position"])
        chance = BASE_CONVERSION * ((1 + LIFT) if _treated(listed) else 1.0)
        if rng.random() < chance:
            bought = rng.choice(clicked) if clicked and rng.random() < 0.6 else None
            send(cid, at, "PURCHASE", bought or rng.choices(stock, weights)[0], qty=1)
    return rows


async def _track(client: httpx.AsyncClient, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 200):
        answer = await client.post(
            "/graphql", json={"query": TRACK, "variables": {"e": rows[start : start + 200]}}
        )
        body = answer.json()
        assert "errors" not in body and not body["data"]["trackEvents"]["rejected"], body


def _precision(ranked: Sequence[Insight], shop: Shop) -> tuple[list[str], float, int, int]:
    """Top five, precision@5, planted subjects found at all, bestsellers above planted."""
    planted = shop.planted.subjects()

    def hit(i: Insight) -> bool:
        return i.kind in planted.get(i.subject, frozenset())

    top = ranked[:5]
    found = {i.subject for i in ranked if hit(i)}
    last_planted = max((r for r, i in enumerate(ranked) if hit(i)), default=-1)
    plain = {f"product:{s}" for s in shop.planted.bestsellers} - set(planted)
    above = sum(
        1 for r, i in enumerate(ranked) if i.subject in plain and r < last_planted
    )  # fmt: skip
    labels = [f"{i.kind} {i.subject}{' *' if hit(i) else ''}" for i in top]
    return labels, sum(hit(i) for i in top) / 5, len(found), above


async def evaluate(
    graph: Graph, settings: Settings, seed: int, customers: int = CUSTOMERS, progress: bool = True
) -> SeedResult:
    """Build, load, serve, act, report and score one seed (see the module)."""
    clock = datetime.now(UTC)
    seconds: dict[str, float] = {}
    # A simulated shop on a graph of its own: the development keys will do.
    config = settings.model_copy(
        update={
            "experiment": AB,
            "rate_limit_per_second": 0.0,
            "warm_up": False,
            "dev_mode": True,
            # A shared machine under load: patient, as the tests are.
            "graph_deadline": 60.0,
            "graph_cooldown": 0.0,
            "query_timeout": 60.0,
            "neo4j_timeout": 30.0,
            "plugin_budget_seconds": 60.0,
        }
    )
    await prepare(graph)
    shop = build(seed, customers, clock)
    await _load(graph, shop, config, progress)
    seconds["load"] = (datetime.now(UTC) - clock).total_seconds()
    app = create_app(config, authenticate=_authenticate)
    recommenders = list(app.state.assembly.recommendations.strategies.values())
    policies = app.state.assembly.gate.policies
    assembly = app.state.assembly
    await recompute(
        recommenders,
        graph,
        False,
        assembly.graphs.of,
        policies,
        assembly.manifests.categories_of,
    )
    started = datetime.now(UTC)
    seconds["recompute"] = (started - clock).total_seconds() - seconds["load"]
    insights = await ShopReport(graph, policies, config, Options(started)).insights()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            served = await _serve(client, shop, progress)
            rows = _act(shop, served, datetime.now(UTC))
            await _track(client, rows)
    ended = datetime.now(UTC)
    seconds["serve"] = (ended - started).total_seconds()
    # The report as of the last event the shoppers sent (their clocks ran a little ahead).
    last = max([ended, *(datetime.fromisoformat(r["at"]) for r in rows)])
    report = ShopReport(graph, policies, config, Options(last + timedelta(seconds=1), days=1))
    lists = await report.lists()
    lift, *ab = lists.lifts
    arms = {s.customer_id: s.arm for s in lists.lists}
    personal = [c for c, arm in arms.items() if arm == "personal" and c is not None]
    treated = sum(_treated(served[c]) for c in personal) / max(1, len(personal))
    top5, precision, found, above = _precision(insights.ranked, shop)
    return SeedResult(
        seed=seed,
        customers=customers,
        events=len(shop.events) + len(rows),
        treated_share=treated,
        # What the personal group's rate is, over the holdout's, by construction.
        planted_lift=LIFT * treated,
        lift=_lift_json(lift),
        ab=_lift_json(ab[0]) if ab else {},
        top5=top5,
        precision_at_5=precision,
        planted_found=found,
        bestseller_above_planted=above,
        seconds={**seconds, "all": (datetime.now(UTC) - clock).total_seconds()},
    )


def _lift_json(lift: Any) -> dict[str, Any]:
    return {
        "comparison": lift.comparison,
        "status": lift.status,
        "needed": lift.needed,
        "treatment": asdict(lift.treatment),
        "control": asdict(lift.control),
        "result": asdict(lift.result) if lift.result else None,
        "significant": lift.significant,
    }


def _interval(result: dict[str, Any] | None, lift: dict[str, Any]) -> str:
    if not result:
        return str(lift.get("status", "-"))
    low, high = 100 * result["lift_low"], 100 * result["lift_high"]
    return f"{100 * result['lift']:+6.1f} ({low:+6.1f}, {high:+6.1f})"


def table(results: Sequence[SeedResult]) -> str:
    """One line per seed, then the goals and whether they were met."""
    lines = [
        f"{'seed':>5} {'planted':>8} {'lift (95 % interval)':>26} {'in':>3} "
        f"{'A/B B vs A (95 %)':>24} {'claim':>5} {'p@5':>5} {'found':>5} {'best>':>5}",
    ]
    for r in results:
        res, ab = r.lift.get("result"), r.ab.get("result")
        lift, abs_ = _interval(res, r.lift), _interval(ab, r.ab)
        covered = {True: "yes", False: "NO", None: "-"}[r.covered]
        claimed = {True: "YES", False: "no", None: "-"}[r.ab_claimed]
        lines.append(
            f"{r.seed:>5} {100 * r.planted_lift:+7.1f}% {lift:>26} {covered:>3} {abs_:>24} "
            f"{claimed:>5} {r.precision_at_5:>5.2f} {r.planted_found:>3}/5 "
            f"{r.bestseller_above_planted:>5}"
        )
    n = len(results)
    inside = sum(1 for r in results if r.covered)
    claims = sum(1 for r in results if r.ab_claimed)
    mean_p = sum(r.precision_at_5 for r in results) / n if n else 0.0
    above = sum(r.bestseller_above_planted for r in results)
    lines += [
        "",
        f"planted lift inside the 95 % interval: {inside} of {n} seeds (goal: at least 19 of 20)",
        f"A/B with nothing planted, lift claimed: {claims} of {n} seeds "
        f"(goal: no more often than the interval allows, 5 %)",
        f"precision@5 of the insights: mean {mean_p:.2f}, at least 0.8 on "
        f"{sum(1 for r in results if r.precision_at_5 >= 0.8)} of {n} seeds (goal: 0.8)",
        f"plain bestsellers ranked above a planted insight: {above} (goal: 0)",
    ]
    return "\n".join(lines)
