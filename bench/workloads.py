"""The workloads, as each system is asked them, and what each answer must come to.

Every workload is one fixed query text with variables rotating over 200 ids,
posted as JSON. For each (workload, system) :func:`prelude` gives the data of
the wrk script (bench/lua/rotate.lua, or w4.lua for W4), and :func:`normal`
reduces an answer to what the three systems must agree on, which the bench
checks for every id before it measures anything.

* W1 profile: a signed-in customer's id and 5 latest purchases (sku, name).
  tightrope: ``me`` with a token per customer. peer: ``customers``, which its
  ``@authorization`` filter narrows to the token's ``sub``, purchases sorted
  newest first as the gateway sorts them (time, then event id). raw: the
  gateway's three reads (bench/raw.py).
* W3 product page: name, price, brand name and category names of a SKU.
* W4 ingestion: a batch of 50 view events (bench/lua/w4.lua makes them). The
  peer has no equivalent (see :data:`PEER_W4_NULL`).
* typename: ``{ __typename }``, nothing from the graph.
"""

from __future__ import annotations

import json
from typing import Any

from bench.fixtures import Fixtures

WORKLOADS = ("w1", "w3", "w4", "typename")
SYSTEMS = ("tightrope", "peer", "raw")
W4_BATCH = 50

TIGHTROPE_W1 = "query($n:Int){ me { id purchases(first: $n) { nodes { product { sku name } } } } }"
PEER_W1 = (
    "query($n:Int){ customers { id purchasesConnection(first: $n, "
    "sort: [{edge: {at: DESC}}, {edge: {event_id: DESC}}]) { edges { node { sku name } } } } }"
)
TIGHTROPE_W3 = (
    "query($sku:ID!){ product(sku: $sku) { name price brand { name } categories { name } } }"
)
PEER_W3 = (
    "query($sku:ID!){ products(where: {sku: {eq: $sku}}) "
    "{ name price brand { name } categories { name } } }"
)
TYPENAME = "{ __typename }"

PEER_W4_NULL = (
    "@neo4j/graphql generates create/connect mutations that always create (or MERGE nodes "
    "by a unique field); it has no idempotent create of a relationship keyed by its "
    "event_id, no unknown-product rejection, no session upsert in one transaction. The "
    "equivalent would be a hand-written @cypher mutation, i.e. raw Cypher inside the peer, "
    "not the library's own write path; so the peer's W4 is not measured."
)

PATHS = {"tightrope": "/graphql", "peer": "/", "raw": ""}


def _graphql(query: str, variables: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return json.dumps(body, separators=(",", ":"))


def requests(workload: str, system: str, f: Fixtures) -> tuple[str, list[str], list[str] | None]:
    """(path, bodies, Authorization header values or None) for the 200 ids of a workload."""
    if workload == "w1":
        if system == "tightrope":
            bodies = [_graphql(TIGHTROPE_W1, {"n": 5})] * len(f.customers)
            return "/graphql", bodies, [f"Bearer {t}" for t in f.tokens]
        if system == "peer":
            bodies = [_graphql(PEER_W1, {"n": 5})] * len(f.customers)
            return "/", bodies, [f"Bearer {t}" for t in f.peer_tokens]
        bodies = [
            json.dumps({"customer": c, "family": fam})
            for c, fam in zip(f.customers, f.families, strict=True)
        ]
        return "/w1", bodies, None
    if workload == "w3":
        if system == "tightrope":
            return "/graphql", [_graphql(TIGHTROPE_W3, {"sku": s}) for s in f.skus], None
        if system == "peer":
            return "/", [_graphql(PEER_W3, {"sku": s}) for s in f.skus], None
        return "/w3", [json.dumps({"sku": s}) for s in f.skus], None
    if workload == "typename":
        path = {"tightrope": "/graphql", "peer": "/", "raw": "/typename"}[system]
        return path, [_graphql(TYPENAME)], None
    raise ValueError(f"{workload} has no fixed bodies")


def prelude(workload: str, system: str, f: Fixtures, prefix: str, start: int) -> dict[str, Any]:
    """The data the wrk script of this (workload, system) starts with."""
    if workload == "w4":
        return {
            "path": "/graphql" if system == "tightrope" else "/w4",
            "auth": f"Bearer {f.events_token}",
            "skus": f.skus,
            "batch": W4_BATCH,
            "prefix": prefix,
            "envelope": "graphql" if system == "tightrope" else "raw",
            "family": f.events_family,
        }
    path, bodies, auth = requests(workload, system, f)
    return {"path": path, "bodies": bodies, "auth": auth, "start": start % len(bodies)}


def script_name(workload: str) -> str:
    return "w4.lua" if workload == "w4" else "rotate.lua"


# -- what the answers must agree on ------------------------------------------------


def normal(workload: str, system: str, answer: dict[str, Any]) -> Any:
    """The part of an answer all systems must give alike; raises on an error answer."""
    if system != "raw" and answer.get("errors"):
        raise ValueError(f"errors: {answer['errors']}")
    if workload == "w1":
        if system == "tightrope":
            me = answer["data"]["me"]
            return me["id"], [
                (n["product"]["sku"], n["product"]["name"]) for n in me["purchases"]["nodes"]
            ]
        if system == "peer":
            (me,) = answer["data"]["customers"]
            edges = me["purchasesConnection"]["edges"]
            return me["id"], [(e["node"]["sku"], e["node"]["name"]) for e in edges]
        return answer["id"], [(p["sku"], p["name"]) for p in answer["purchases"]]
    if workload == "w3":
        if system == "tightrope":
            p = answer["data"]["product"]
            brand = p["brand"]["name"] if p["brand"] else None
        elif system == "peer":
            (p,) = answer["data"]["products"]
            brand = p["brand"][0]["name"] if p["brand"] else None
        else:
            p = answer
            brand = p["brand"]["name"] if p["brand"] else None
        return (
            p["name"],
            round(float(p["price"]), 2),
            brand,
            sorted(c["name"] for c in p["categories"]),
        )
    if workload == "typename":
        return answer["data"]["__typename"]
    raise ValueError(workload)
