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
* W2 recommendations: a signed-in customer's 10 recommendations (product sku,
  name and brand name, score, reasons), a token per customer (W1's 200
  customers, who granted personalisation). raw: the reads the gateway sends
  with cold caches, ranked by the same strategies and blend
  (bench/raw_recs.py), so the two must answer the same items, scores and
  reasons; each answer is also checked for what W2 means (:func:`check_w2`).
  The peer has no equivalent (see :data:`PEER_NULL`).
* W3 product page: name, price, brand name and category names of a SKU, and
  (tightrope and raw) its 10 similar products' sku and name; the peer has no
  ``similar`` (see :data:`PEER_W3_SIMILAR`).
* W4 ingestion: a batch of 50 view events (bench/lua/w4.lua makes them). The
  peer has no equivalent (see :data:`PEER_W4_NULL`).
* typename: ``{ __typename }``, nothing from the graph.
"""

from __future__ import annotations

import json
from typing import Any

from bench.fixtures import Fixtures

WORKLOADS = ("w1", "w2", "w3", "w4", "typename")
SYSTEMS = ("tightrope", "peer", "raw")
W4_BATCH = 50

TIGHTROPE_W1 = "query($n:Int){ me { id purchases(first: $n) { nodes { product { sku name } } } } }"
PEER_W1 = (
    "query($n:Int){ customers { id purchasesConnection(first: $n, "
    "sort: [{edge: {at: DESC}}, {edge: {event_id: DESC}}]) { edges { node { sku name } } } } }"
)
TIGHTROPE_W2 = (
    "{ me { recommendations(first: 10) { product { sku name brand { name } } "
    "score reasons { text } } } }"
)
W2_ITEMS = 10
TIGHTROPE_W3 = (
    "query($sku:ID!){ product(sku: $sku) { name price brand { name } categories { name } "
    "similar(first: 10) { product { sku name } } } }"
)
PEER_W3 = (
    "query($sku:ID!){ products(where: {sku: {eq: $sku}}) "
    "{ name price brand { name } categories { name } } }"
)
TYPENAME = "{ __typename }"

PEER_W2_NULL = (
    "@neo4j/graphql maps a graph to CRUD queries; it has no recommendation engine. The "
    "equivalent would be hand-written @cypher fields reading derived edges and a ranking "
    "written in Cypher (or a resolver in JavaScript), i.e. a recommender built inside the "
    "peer rather than the library's own query path; so the peer's W2 is not measured."
)
PEER_W4_NULL = (
    "@neo4j/graphql generates create/connect mutations that always create (or MERGE nodes "
    "by a unique field); it has no idempotent create of a relationship keyed by its "
    "event_id, no unknown-product rejection, no session upsert in one transaction. The "
    "equivalent would be a hand-written @cypher mutation, i.e. raw Cypher inside the peer, "
    "not the library's own write path; so the peer's W4 is not measured."
)
PEER_W3_SIMILAR = (
    "W3 asks tightrope and raw for similar(first: 10) too; the peer's W3 leaves it out "
    "(no recommendation engine, as for W2), so the peer does less work per W3 request "
    "and its answers are compared on the other fields only."
)
# Workloads the peer has no equivalent of, and why (recorded in the results).
PEER_NULL = {"w2": PEER_W2_NULL, "w4": PEER_W4_NULL}

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
    if workload == "w2":
        if system == "tightrope":
            bodies = [_graphql(TIGHTROPE_W2)] * len(f.customers)
            return "/graphql", bodies, [f"Bearer {t}" for t in f.w2_tokens]
        if system == "raw":
            bodies = [
                json.dumps({"customer": c, "family": fam})
                for c, fam in zip(f.customers, f.w2_families, strict=True)
            ]
            return "/w2", bodies, None
        raise ValueError("the peer has no W2")
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
    if workload == "w2":
        if system == "tightrope":
            items = [
                {**i, "sku": i["product"]["sku"], "name": i["product"]["name"]}
                for i in answer["data"]["me"]["recommendations"]
            ]
            brands = [i["product"]["brand"] for i in answer["data"]["me"]["recommendations"]]
        else:
            if answer.get("error"):
                raise ValueError(f"error: {answer['error']}")
            items = answer["items"]
            brands = [i["brand"] for i in items]
        return [
            (
                i["sku"],
                i["name"],
                brand["name"] if brand else None,
                # Summed in each system's order of strategies: equal to the last bits.
                round(float(i["score"]), 9),
                [r["text"] for r in i["reasons"]],
            )
            for i, brand in zip(items, brands, strict=True)
        ]
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
        if system == "tightrope":
            similar = [(i["product"]["sku"], i["product"]["name"]) for i in p["similar"]]
        elif system == "raw":
            similar = [(i["sku"], i["name"]) for i in p["similar"]]
        else:
            similar = None  # see PEER_W3_SIMILAR
        return (
            p["name"],
            round(float(p["price"]), 2),
            brand,
            sorted(c["name"] for c in p["categories"]),
            similar,
        )
    if workload == "typename":
        return answer["data"]["__typename"]
    raise ValueError(workload)


def check_w2(system: str, customer: str, items: list[Any], bought: set[str]) -> str | None:
    """What is wrong with one W2 answer (as :func:`normal` reduced it), or None.

    Beyond agreeing with each other, the answers must be what W2 means to
    measure: 10 items, each with a reason, none of them something the customer
    bought, and the personal strategies run (no "Not used" reason: the W2
    customers granted personalisation).
    """
    if len(items) != W2_ITEMS:
        return f"{system} answered {len(items)} items for {customer}, not {W2_ITEMS}"
    if any(not reasons for *_, reasons in items):
        return f"{system} answered an item without a reason for {customer}"
    if any(text.startswith("Not used") for *_, reasons in items for text in reasons):
        return f"{system} skipped personal strategies for {customer}"
    again = sorted({sku for sku, *_ in items} & bought)
    if again:
        return f"{system} recommended {customer} what they bought: {', '.join(again)}"
    return None
