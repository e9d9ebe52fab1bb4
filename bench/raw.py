"""RAW: the gateway's own Cypher on the bare async driver, behind the thinnest HTTP endpoint.

This is the floor the gateway is measured against. It sends the statements
the gateway sends for each workload, imported from graph/ (not copied), in the
same order and the same number of round trips, through ``execute_query`` as
graph/driver.py does, and serves them with the same uvicorn (same HTTP parser,
same event loop) as ``tightrope serve``. What it leaves out is everything
between the socket and the Cypher: Starlette and its middleware, token
verification (the signature check; the revocation read is kept, since it is
a round trip), GraphQL parsing, validation and execution, DataLoaders,
pydantic event parsing and the GraphQL response shape. The ratio
gateway/raw is therefore the cost of those layers.

Routes (POST, JSON bodies; answers are JSON of its own plain shape):

* ``/w1`` ``{"customer": id, "family": gid}``: the token family's revocation
  read, the customer, then the customer's 5 latest purchases with product sku
  and name (three reads, one after the other, as the gateway does them).
* ``/w3`` ``{"sku": sku}``: the product, then its brand and its categories
  (two reads at once, as the gateway's DataLoaders dispatch them).
* ``/w4`` ``{"family": gid, "events": [...]}``: the revocation read, then one
  write transaction running the statements ``graph.events.write_events`` runs
  for a batch of anonymous views (unknown products check, sessions MERGE,
  views CREATE). The events are the same JSON objects ``trackEvents`` gets.
* ``/typename``: ``{"data": {"__typename": "Query"}}`` without touching Neo4j.

Run: ``python -m bench.raw --port P`` with NEO4J_URI, NEO4J_USER and
NEO4J_PASSWORD set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, LiteralString

import uvicorn
from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, Query, RoutingControl

from graph.catalogue import BRANDS_BY_ID, CATEGORIES_OF_PRODUCTS, PRODUCTS_BY_SKU
from graph.customers import CUSTOMERS_BY_ID
from graph.events import CREATE_VIEWS, MERGE_SESSIONS, MISSING_PRODUCTS
from graph.history import PURCHASES_OF_CUSTOMERS
from graph.oauth import LIVE_FAMILY

# As the gateway's default query_timeout.
QUERY_TIMEOUT = 5.0
PURCHASES = 5

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Raw:
    def __init__(self, driver: AsyncDriver) -> None:
        self.driver = driver

    async def read(self, query: LiteralString, params: dict[str, Any]) -> list[dict[str, Any]]:
        result = await self.driver.execute_query(
            Query(query, timeout=QUERY_TIMEOUT),
            parameters_=params,
            routing_=RoutingControl.READ,
            database_="neo4j",
        )
        return [record.data() for record in result.records]

    async def live(self, family: str) -> bool:
        return bool(await self.read(LIVE_FAMILY, {"id": family, "now": int(time.time())}))

    async def w1(self, body: dict[str, Any]) -> dict[str, Any]:
        if not await self.live(body["family"]):
            return {"error": "token revoked"}
        customers = await self.read(CUSTOMERS_BY_ID, {"ids": [body["customer"]]})
        if not customers:
            return {"id": None}
        keys = [
            {
                "key": 0,
                "id": body["customer"],
                "limit": PURCHASES + 1,
                "after_at": None,
                "after_event_id": "",
            }
        ]
        rows = await self.read(PURCHASES_OF_CUSTOMERS, {"keys": keys})
        return {
            "id": customers[0]["id"],
            "purchases": [{"sku": r["sku"], "name": r["name"]} for r in rows[:PURCHASES]],
        }

    async def w3(self, body: dict[str, Any]) -> dict[str, Any]:
        sku = body["sku"]
        products = await self.read(PRODUCTS_BY_SKU, {"skus": [sku]})
        if not products:
            return {"product": None}
        p = products[0]
        brands, categories = await asyncio.gather(
            self.read(BRANDS_BY_ID, {"ids": [p["brand_id"]]}),
            self.read(CATEGORIES_OF_PRODUCTS, {"skus": [sku]}),
        )
        return {
            "name": p["name"],
            "price": p["price"],
            "brand": {"name": brands[0]["name"]} if brands else None,
            "categories": [{"name": c["name"]} for c in categories],
        }

    async def w4(self, body: dict[str, Any]) -> dict[str, Any]:
        if not await self.live(body["family"]):
            return {"error": "token revoked"}
        events = body["events"]
        sessions: dict[str, dict[str, Any]] = {}
        views = []
        for e in events:
            sid = e["sessionId"]
            s = sessions.setdefault(
                sid, {"id": sid, "started_at": e["at"], "channel": None, "device_id": None}
            )
            s["started_at"] = min(s["started_at"], e["at"])
            views.append(
                {"event_id": e["eventId"], "at": e["at"], "session_id": sid, "sku": e["sku"]}
            )
        skus = sorted({e["sku"] for e in events})

        async def work(tx: AsyncManagedTransaction) -> int:
            missing = await (await tx.run(MISSING_PRODUCTS, ids=skus)).single(strict=True)
            unknown = set(missing["missing"])
            rows = [v for v in views if v["sku"] not in unknown]
            await (await tx.run(MERGE_SESSIONS, rows=list(sessions.values()))).consume()
            record = await (await tx.run(CREATE_VIEWS, rows=rows)).single(strict=True)
            return int(record["created"])

        async with self.driver.session(database="neo4j") as session:
            created = await session.execute_write(work)
        return {"accepted": created, "duplicates": len(views) - created}


def make_app(raw: Raw) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    routes: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        "/w1": raw.w1,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    driver = AsyncGraphDatabase.driver(
        os.environ["NEO4J_URI"],
        auth=(os.environ["NEO4J_USER"], os.environ["NEO4J_PASSWORD"]),
        # As the gateway connects (gateway/app.py): 1 s to connect, no retries.
        connection_timeout=1.0,
        connection_acquisition_timeout=1.0,
        max_transaction_retry_time=0.0,
    )
    uvicorn.run(make_app(Raw(driver)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
