"""RAW: the gateway's own graph reads and writes on the bare driver, behind the thinnest endpoint.

This is the floor the gateway is measured against. Each route calls the
functions of graph/ the gateway's resolvers end in (``live_family``,
``purchases_of_customers``, ``products_by_sku``, ``brands_by_id``,
``categories_of_products``, ``parse_event`` and ``write_events``; for
recommendations ``consents_of_customers``, ``profile_of``, ``related_of`` and
``rankings_of``: bench/raw_recs.py), so it sends the gateway's own Cypher
statements in the same order and the same number of round trips, through the
same :class:`graph.Graph` facade and driver settings, and it keeps doing so
when graph/ changes. It is served by the same uvicorn as ``tightrope serve``
(same HTTP parser, same event loop). What it leaves out is everything between
the socket and graph/: Starlette and the gateway's middleware, the consent gate
(and its access log), the token's signature check (the revocation read is kept:
it is a round trip), GraphQL parsing, validation and execution, DataLoaders and
the GraphQL response shape. The ratio gateway/raw is therefore the cost of
those layers (for W2 and W3's similar: not of the ranking, which both run),
less what the gateway's caches save: raw keeps nothing between requests, while
the gateway keeps the catalogue (gateway/graphql/cache.py), the recommendations'
aggregates (item-to-item edges, rankings: gateway/strategies/data.py) and a
token's liveness for a second (gateway/oauth/liveness.py), so it can answer
faster than raw (a ratio above 1).

Routes (POST, JSON bodies; answers are JSON of its own plain shape):

* ``/w1`` ``{"customer": id, "family": gid}``: the token family's revocation
  read (which also proves the customer exists), then the customer's 5 latest
  purchases with product sku and name (two reads, one after the other, as the
  gateway does them when nothing is kept).
* ``/w2`` ``{"customer": id, "family": gid}``: a customer's 10 recommendations
  with the reads the gateway sends for ``me { recommendations(first: 10) {
  product { sku name brand { name } } score reasons { text } } }`` when its
  caches are cold, ranked by the built-in strategies and blend themselves
  (bench/raw_recs.py), so its answers equal the gateway's.
* ``/w3`` ``{"sku": sku}``: the product, then its brand, its categories and
  what ``similar(first: 10)`` reads (its item-to-item edges, its category's
  trending ranking) at once, as the gateway's DataLoaders dispatch them, then
  the similar products' catalogue entries; ranked by the same strategies and
  blend (bench/raw_recs.py).
* ``/w4`` ``{"family": gid, "events": [...]}``: the revocation read, then
  ``write_events`` on the batch, as ``trackEvents`` calls it for a client
  token. The events are the same JSON objects ``trackEvents`` gets.
* ``/typename``: ``{"data": {"__typename": "Query"}}`` without touching Neo4j.

Run: ``python -m bench.raw --port P [--workers N]`` with NEO4J_URI,
NEO4J_USER and NEO4J_PASSWORD set; with N processes each binds the port
itself, as the gateway's workers do (gateway/web/workers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from bench.dataset import BENCH_PII_KEY
from bench.raw_recs import RawRecommendations, Unprepared
from gateway.web.workers import reuse_port_socket
from graph import (
    Graph,
    Neo4jSettings,
    PurchasesKey,
    brands_by_id,
    categories_of_products,
    connect,
    parse_event,
    products_by_sku,
    purchases_of_customers,
    write_events,
)
from graph.oauth import live_family

# As the gateway's default query_timeout.
QUERY_TIMEOUT = 5.0
PURCHASES = 5
RECOMMENDATIONS = 10
SIMILAR = 10  # W3's similar(first: 10)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(row: dict[str, Any]) -> dict[str, Any]:
    """An EventInput's JSON as the row parse_event reads (what the GraphQL layer hands it)."""
    out = {_CAMEL.sub("_", k).lower(): v for k, v in row.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


class Raw:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.recs = RawRecommendations(graph)

    async def live(self, family: str) -> bool:
        return await live_family(self.graph, family, int(time.time())) is not None

    async def w1(self, body: dict[str, Any]) -> dict[str, Any]:
        if not await self.live(body["family"]):
            return {"error": "token revoked"}
        # The liveness read proves the customer exists (as the gateway's does).
        customer = body["customer"]
        (page,) = await purchases_of_customers(self.graph, [PurchasesKey(customer, PURCHASES)])
        return {
            "id": customer,
            "purchases": [{"sku": p.product.sku, "name": p.product.name} for p in page.purchases],
        }

    async def w2(self, body: dict[str, Any]) -> dict[str, Any]:
        """A customer's 10 recommendations: the gateway's reads and ranking (bench/raw_recs.py)."""
        if not await self.live(body["family"]):
            return {"error": "token revoked"}
        try:
            items = await self.recs.recommend(body["customer"], RECOMMENDATIONS)
        except Unprepared as exc:
            return {"error": str(exc)}
        return {"id": body["customer"], "items": items}

    async def w3(self, body: dict[str, Any]) -> dict[str, Any]:
        (product,) = await products_by_sku(self.graph, [body["sku"]])
        if product is None:
            return {"product": None}
        no_brand: list[Any] = [None]
        (brand,), (categories,), (related, rankings) = await asyncio.gather(
            brands_by_id(self.graph, [product.brand_id]) if product.brand_id else _value(no_brand),
            categories_of_products(self.graph, [product.sku]),
            self.recs.similar_reads(product),
        )
        similar = await self.recs.similar_ranked(product, SIMILAR, related, rankings)
        return {
            "name": product.name,
            "price": product.price,
            "brand": {"name": brand.name} if brand else None,
            "categories": [{"name": c.name} for c in categories],
            "similar": similar,
        }

    async def w4(self, body: dict[str, Any]) -> dict[str, Any]:
        if not await self.live(body["family"]):
            return {"error": "token revoked"}
        events = [parse_event(_snake(e)) for e in body["events"]]
        result = await write_events(self.graph, events, pii_key=BENCH_PII_KEY)
        return {
            "accepted": sum(result.created.values()),
            "duplicates": sum(result.already_stored.values()),
            "rejected": len(result.rejected),
        }


async def _value(value: Any) -> Any:
    return value


def make_app(raw: Raw) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    routes: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        "/w1": raw.w1,
        "/w2": raw.w2,
        "/w3": raw.w3,
        "/w4": raw.w4,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/typename":
            answer: dict[str, Any] = {"data": {"__typename": "Query"}}
        elif path in routes:
            answer = await routes[path](json.loads(b"".join(chunks)))
        else:
            answer = {"error": "no such route"}
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def app_from_environment() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The raw app for uvicorn's factory: one driver per process, as the gateway connects."""
    # As the gateway connects (gateway/app.py): 1 s to connect, no retries.
    settings = Neo4jSettings(
        os.environ["NEO4J_URI"],
        os.environ["NEO4J_USER"],
        os.environ["NEO4J_PASSWORD"],
        timeout=1.0,
        retry_time=0.0,
        query_timeout=QUERY_TIMEOUT,
    )
    return make_app(Raw(connect(settings)))


def _serve(port: int) -> None:
    """One process of several on ``port``, each with its own socket (as the gateway's workers)."""
    sock = reuse_port_socket("127.0.0.1", port)
    config = uvicorn.Config(APP, factory=True, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--workers", type=int, default=1, help="processes, as `tightrope serve --workers`"
    )
    args = parser.parse_args()
    if args.workers <= 1:
        uvicorn.run(APP, factory=True, host="127.0.0.1", port=args.port, log_level="warning")
        return
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_serve, args=(args.port,)) for _ in range(args.workers)]
    for process in processes:
        process.start()

    def stop(signum: int, frame: object) -> None:
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()


APP = "bench.raw:app_from_environment"

if __name__ == "__main__":
    main()
