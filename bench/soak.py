"""The soak: a served gateway under a steady mixed load for a set time (``make soak``).

Not a test and not a benchmark of speed: it asks whether the gateway *holds*
over time. One gateway process (``tightrope serve``, outside dev mode) over a
local Neo4j holding the demo retailer gets a fixed rate of requests, sent on a
fixed schedule whatever the answers' speed (an open loop: a slow answer does not
slow the load), mixed as a shop's traffic is:

- catalogue: a product page, or a page of products with their brands;
- profile: a signed-in customer's profile and recent purchases;
- recommendations: that customer's, and an anonymous visit's;
- events: a batch of five views of an anonymous visit (fresh event ids);
- sign-ins: the shop's back end reports a customer signing in on a device
  (a LOGIN and a view in a new session), which starts linking the device
  to the customer after the answer (gateway/linking);
- views on those devices: batches of views in an anonymous session on the
  device that signed in a moment before, sent while its linking runs (the two
  writers that deadlocked in Neo4j on 2026-12-07 and answered UNAVAILABLE);
- token refresh: the customer's refresh token spent (it rotates) every few
  seconds, its new access token used from then on.

The customer's tokens come from the real authorization code flow (sign-in
form, PKCE, code exchange) of a trusted first-party client the soak
registers; the back end's token comes from the same client's
``client_credentials`` grant.

Reported every ``--every`` seconds and at the end: requests, errors (any
non-200 answer, any error in a body, any transport failure: the goal is 0),
of which ``UNAVAILABLE`` (an error of that code, or a 503), p50 and p99
latency per window, and the gateway's resident memory. The summary gives
``UNAVAILABLE`` per thousand requests, the p99 drift (the last window against
the first after the warm-up) and the memory growth over the run after the
warm-up (the goal is under 10 %). It exits 1 when an error was seen or memory
grew 10 % or more.

Run from the repository root: ``python -m bench.soak --duration 600 --rate 50``
(``make soak`` starts its Neo4j on ``SOAK_PORT`` and passes ``SOAK_ARGS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

import httpx

from bench.systems import ROOT, gateway_env
from graph.local import LocalServer
from tests.gateway.oauth.helpers import Registered, full_flow, refresh

SCOPES = "profile:read purchases:read recommendations:read events:write consent:write"
REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "soak-password-not-a-secret"  # noqa: S105 - a generated customer's
PRODUCT_PAGE = """query ProductPage($sku: ID!) { product(sku: $sku) {
  sku name price brand { name } categories { name } } }"""
LISTING = """query Listing($brand: ID) { products(first: 20, brandId: $brand) {
  nodes { sku name price brand { name } } pageInfo { endCursor } } }"""
PROFILE = """query Profile { me { id createdAt purchases(first: 10) {
  nodes { at product { sku name } } } } }"""
RECOMMENDED = """query ForMe { me { recommendations(first: 8) {
  product { sku name } strategy reasons { text } } } }"""
VISIT = """query Visit($id: ID!) { session(id: $id) { recommendations(first: 8) {
  product { sku } } } }"""
TRACK = """mutation Track($events: [EventInput!]!) {
  trackEvents(events: $events) { accepted duplicates rejected { message } } }"""
START_VISIT = "mutation { startVisit { deviceId sessionId } }"
CONSENT = """mutation { setConsent(purpose: "personalisation", granted: true) { granted } }"""
CUSTOMER_WITH_PURCHASES = """MATCH (c:Customer) WHERE EXISTS { (c)-[:PURCHASED]->() }
RETURN c.id AS id ORDER BY id LIMIT 1"""
SKUS = "MATCH (p:Product) RETURN p.sku AS id ORDER BY id LIMIT 200"
CUSTOMERS = "MATCH (c:Customer) RETURN c.id AS id ORDER BY id LIMIT $n"
# Devices that sign in, each always as the same customer (a person's phone).
DEVICES = 40
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Window:
    began: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    unavailable: int = 0

    def summary(self, rss: int) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "unavailable": self.unavailable,
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 1) if ordered else None,
            "p99_ms": round(1000 * ordered[int(len(ordered) * 0.99)], 1) if ordered else None,
            "rss_mb": round(rss / 2**20, 1),
        }


@dataclass
class Soak:
    http: httpx.AsyncClient
    client_id: str
    secret: str
    access: str
    refresh_token: str
    skus: list[str]
    window: Window
    backend: str  # the shop's back end's access token (no customer): sign-ins
    customers: list[str]
    customer: str  # whose tokens ``access`` and ``refresh_token`` are
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    refreshing: bool = False
    events: int = 0
    visits: list[str] = field(default_factory=list)
    # The customer's visits by name: ids from startVisit, as her app holds them
    # (a customer's token names only ids the gateway issued).
    issued: dict[str, tuple[str, str]] = field(default_factory=dict)

    def failed(self, kind: str, reason: str) -> None:
        self.window.errors += 1
        if reason in ("UNAVAILABLE", "HTTP 503"):
            self.window.unavailable += 1
        self.errors[f"{kind}: {reason}"[:200]] += 1

    async def graphql(
        self, kind: str, query: str, variables: dict[str, Any], token: bool | str
    ) -> bool:
        """Send one request; True when it was answered in full, without an error.

        ``token``: the customer's (True), none (False), or this one.
        """
        bearer = self.access if token is True else token or None
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        began = time.perf_counter()
        try:
            response = await self.http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.HTTPError as exc:
            self.failed(kind, type(exc).__name__)
            return False
        self.window.latencies.append(time.perf_counter() - began)
        if response.status_code != 200:
            self.failed(kind, f"HTTP {response.status_code}")
            return False
        body = response.json()
        errors = body.get("errors") or []
        for error in errors:
            self.failed(kind, str((error.get("extensions") or {}).get("code")))
        result = (body.get("data") or {}).get("trackEvents")
        if result is not None and result["rejected"]:
            self.failed(kind, "events rejected")
            return False
        return not errors

    async def spend_refresh_token(self) -> None:
        self.refreshing = True
        began = time.perf_counter()
        try:
            client = Registered(self.client_id, self.secret, REDIRECT)
            response = await refresh(self.http, client, self.refresh_token)
            self.window.latencies.append(time.perf_counter() - began)
            if response.status_code == 400:
                # Refused for good (its family was revoked: a rotation whose answer
                # was lost, then the spent token sent again). An app signs its
                # customer in again; going on with dead tokens would turn every
                # later request into a 401, then a 429.
                self.failed("refresh", "HTTP 400")
                signed_in = await full_flow(
                    self.http, self.client_id, REDIRECT, SCOPES, self.customer, PASSWORD,
                    secret=self.secret,
                )  # fmt: skip
                self.access, self.refresh_token = signed_in.access_token, signed_in.refresh_token
                return
            if response.status_code != 200:
                self.failed("refresh", f"HTTP {response.status_code}")
                return
            tokens = response.json()
            self.access, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        except (httpx.HTTPError, AssertionError) as exc:  # full_flow asserts each step
            self.failed("refresh", type(exc).__name__)
        finally:
            self.refreshing = False

    async def one(self, tick: int) -> None:
        """The request of this tick, chosen by a fixed rotation (the mix above)."""
        slot = tick % 20
        sku = self.skus[tick % len(self.skus)]
        # The device of this round of 20: it signs in at slot 14, and the
        # views of slots 15 to 17 (tens of milliseconds later) are on it.
        device = (tick // 20) % DEVICES
        if tick % 100 == 0 and not self.refreshing:  # every 100 requests
            self.kinds["refresh"] += 1
            await self.spend_refresh_token()
        elif slot < 4 or slot == 19:
            self.kinds["catalogue"] += 1
            await self.graphql("catalogue", PRODUCT_PAGE, {"sku": sku}, token=False)
        elif slot < 6:
            self.kinds["catalogue"] += 1
            await self.graphql("catalogue", LISTING, {"brand": None}, token=False)
        elif slot < 9 or slot == 18:
            self.kinds["profile"] += 1
            await self.graphql("profile", PROFILE, {}, token=True)
        elif slot < 11:
            self.kinds["recommendations"] += 1
            await self.graphql("recommendations", RECOMMENDED, {}, token=True)
        elif slot == 11 and self.visits:
            self.kinds["recommendations"] += 1
            visit = self.visits[tick % len(self.visits)]
            await self.graphql("recommendations", VISIT, {"id": visit}, token=False)
        elif slot == 14:
            self.kinds["sign-ins"] += 1
            await self.sign_in(device, tick)
        elif 14 < slot < 18:
            self.kinds["views on devices"] += 1
            await self.view(f"soak-device-{device}", f"soak-anon-{device}", tick, self.backend)
        else:
            # (and the visits' recommendations until a visit has sent its events)
            self.kinds["events"] += 1
            started = await self.start_visit(f"soak-{tick % 50}")
            if started is None:
                return
            phone, visit = started
            stored = await self.view(phone, visit, tick, True)
            if stored and visit not in self.visits:  # a visit exists once its events are in
                self.visits.append(visit)

    async def start_visit(self, name: str) -> tuple[str, str] | None:
        """The ids of the customer's visit ``name`` (one startVisit the first time)."""
        if name not in self.issued:
            try:
                response = await self.http.post("/graphql", json={"query": START_VISIT})
                started = response.json()["data"]["startVisit"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                self.failed("events", "startVisit")
                return None
            self.issued[name] = (started["deviceId"], started["sessionId"])
        return self.issued[name]

    async def view(self, device: str | None, session: str, tick: int, token: bool | str) -> bool:
        """A batch of five views in ``session`` (on ``device``, if named)."""
        at = datetime.now(UTC).isoformat()
        where = {"sessionId": session} | ({"deviceId": device} if device else {})
        events = [
            {"eventId": uuid.uuid4().hex, "type": "VIEW", "at": at, **where,
             "sku": self.skus[(tick + i) % len(self.skus)]}
            for i in range(5)
        ]  # fmt: skip
        self.events += len(events)
        return await self.graphql("events", TRACK, {"events": events}, token=token)

    async def sign_in(self, device: int, tick: int) -> None:
        """The back end reports a customer signing in on their phone: linking starts."""
        at = datetime.now(UTC).isoformat()
        where = {
            "sessionId": f"soak-signin-{tick}", "deviceId": f"soak-device-{device}",
            "userAgent": PHONE, "network": f"10.{device}.0.7",
        }  # fmt: skip
        events = [
            {"eventId": uuid.uuid4().hex, "type": "LOGIN", "at": at, **where,
             "customerId": self.customers[device % len(self.customers)]},
            {"eventId": uuid.uuid4().hex, "type": "VIEW", "at": at, **where,
             "sku": self.skus[tick % len(self.skus)]},
        ]  # fmt: skip
        self.events += len(events)
        await self.graphql("sign-ins", TRACK, {"events": events}, token=self.backend)


def run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], tightrope: str) -> tuple[str, str, str]:
    """The demo graph (once), a trusted first-party client, a customer with a password."""
    run([tightrope, "graph", "migrate"], env)
    demo = [tightrope, "load", "demo", "--customers", "300", "--events", "20000"]
    run([*demo, "--if-empty"], env)
    port = int(env["TIGHTROPE_NEO4J_PORT"])
    if asyncio.run(_customer(port)) is None:
        run(demo, env)  # the graph held something else (loading is idempotent)
    out = run(
        [tightrope, "clients", "add", f"soak-{uuid.uuid4().hex[:6]}", "--kind", "first_party",
         "--scopes", SCOPES, "--redirect-uri", REDIRECT, "--trusted"],
        env,
    )  # fmt: skip
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    customer = asyncio.run(_customer(port))
    if customer is None:
        raise SystemExit("the demo data holds no customer with purchases")
    run([tightrope, "customers", "set-password", customer, "--password-stdin"], env, PASSWORD)
    return fields["client_id"], fields["client_secret"], customer


async def _customer(port: int) -> str | None:
    from gateway.settings import load_settings
    from graph import connect

    graph = connect(load_settings(neo4j_port=port).neo4j(timeout=30.0))
    try:
        rows = await graph.read(CUSTOMER_WITH_PURCHASES)
        return str(rows[0]["id"]) if rows else None
    finally:
        await graph.close()


async def _ids(port: int, query: LiteralString, params: dict[str, Any] | None = None) -> list[str]:
    from gateway.settings import load_settings
    from graph import connect

    graph = connect(load_settings(neo4j_port=port).neo4j(timeout=30.0))
    try:
        return [str(row["id"]) for row in await graph.read(query, params)]
    finally:
        await graph.close()


async def _graph_retries(http: httpx.AsyncClient) -> dict[str, float]:
    """The gateway's retries after Neo4j's transient errors, by kind and reason (/metrics)."""
    text = (await http.get("/metrics")).text
    found = re.findall(
        r'^tightrope_graph_retries_total\{kind="(\w+)",reason="(\w+)"\} (\S+)$', text, re.M
    )
    return {f"{kind} {reason}": float(count) for kind, reason, count in found}


async def _backend_token(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    """The shop's back end's token: the client's own, for no customer."""
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "events:write"},
        auth=(client_id, secret),
    )
    if response.status_code != 200:
        raise SystemExit(f"client_credentials failed: {response.text}")
    return str(response.json()["access_token"])


async def soak(args: argparse.Namespace, url: str, pid: int, ids: tuple[str, str, str]) -> int:
    client_id, secret, customer = ids
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as http:
        tokens = await full_flow(
            http, client_id, REDIRECT, SCOPES, customer, PASSWORD, secret=secret
        )
        assert tokens.refresh_token is not None
        for _ in range(10):  # a cold gateway's first writes may miss the deadline
            consent = await http.post(
                "/graphql",
                json={"query": CONSENT},
                headers={"Authorization": f"Bearer {tokens.access_token}"},
            )
            if not consent.json().get("errors"):
                break
            await asyncio.sleep(1.0)
        else:
            raise SystemExit(f"setConsent failed: {consent.text}")
        state = Soak(
            http, client_id, secret, tokens.access_token, tokens.refresh_token,
            await _ids(args.neo4j_port, SKUS), Window(time.monotonic()),
            await _backend_token(http, client_id, secret),
            await _ids(args.neo4j_port, CUSTOMERS, {"n": DEVICES}), customer,
        )  # fmt: skip
        windows: list[dict[str, Any]] = []
        interval = 1.0 / args.rate
        began = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        tick = 0
        while True:
            now = time.monotonic()
            if now - began >= args.duration:
                break
            if now - state.window.began >= args.every:
                windows.append(state.window.summary(rss_bytes(pid)) | {"t": round(now - began)})
                log(json.dumps(windows[-1]))
                state.window = Window(now)
            task = asyncio.create_task(state.one(tick))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            tick += 1
            # The schedule, not the answers, sets the pace.
            await asyncio.sleep(max(0.0, began + tick * interval - time.monotonic()))
        await asyncio.gather(*tasks)
        windows.append(
            state.window.summary(rss_bytes(pid)) | {"t": round(time.monotonic() - began)}
        )
        log(json.dumps(windows[-1]))
        retries = await _graph_retries(http)
    steady = [w for w in windows if w["t"] > args.warmup] or windows
    first, last = steady[0], steady[-1]
    growth = (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
    errors = sum(w["errors"] for w in windows)
    requests = sum(w["requests"] for w in windows)
    unavailable = sum(w["unavailable"] for w in windows)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": args.duration,
        "rate_per_s": args.rate,
        "deadlines_s": args.deadlines or "defaults",
        "requests": requests,
        "by_kind": dict(state.kinds),
        "events_sent": state.events,
        "unavailable": unavailable,
        "unavailable_per_1000": round(1000 * unavailable / max(requests, 1), 2),
        "graph_retries": retries,
        "errors": errors,
        "error_kinds": dict(state.errors),
        "p99_first_ms": first["p99_ms"],
        "p99_last_ms": last["p99_ms"],
        "p99_median_ms": statistics.median(w["p99_ms"] for w in steady if w["p99_ms"]),
        "rss_after_warmup_mb": first["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "memory_growth_pct": round(100 * growth, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "windows": windows,
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if errors or growth >= 0.10 else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--every", type=float, default=30.0, help="seconds per report window")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds left out of drift")
    parser.add_argument("--port", type=int, default=8731, help="the gateway's port")
    parser.add_argument(
        "--neo4j-port", type=int, default=int(os.environ.get("TIGHTROPE_NEO4J_PORT", "7690"))
    )
    # The production defaults are 1 s (a graph query) and 2 s (a plugin's work);
    # on a shared, loaded machine a request now and then takes longer, which says
    # nothing about whether the gateway holds. 0 keeps the defaults.
    parser.add_argument(
        "--deadlines",
        type=float,
        default=0.0,
        help="graph deadline and plugin budgets in seconds (0: the production defaults)",
    )
    parser.add_argument("--log", type=Path, help="the gateway's log (default: thrown away)")
    parser.add_argument("--out", type=Path, help="also write the summary (JSON) here")
    args = parser.parse_args(argv)
    if os.environ.get("NEO4J_URI"):
        raise SystemExit("the soak uses a local test server (it loads demo data); unset NEO4J_URI")
    LocalServer(port=args.neo4j_port).start(timeout=300)
    tightrope = str(Path(sys.executable).with_name("tightrope"))
    url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="tightrope-soak-") as state:
        # The settings are the soak's own; where the local servers live is the caller's.
        base = {
            k: v
            for k, v in os.environ.items()
            if k == "TIGHTROPE_HOME" or not k.startswith(("TIGHTROPE_", "NEO4J_"))
        }
        env = base | gateway_env(args.port, Path(state))
        env["TIGHTROPE_NEO4J_PORT"] = str(args.neo4j_port)
        if args.deadlines:
            env["TIGHTROPE_GRAPH_DEADLINE"] = str(args.deadlines)
            env["TIGHTROPE_PLUGIN_BUDGET_SECONDS"] = str(args.deadlines)
        ids = prepare(env, tightrope)
        log_path = args.log or Path(state) / "gateway.log"
        with log_path.open("wb") as out:
            server = subprocess.Popen(
                [tightrope, "serve", "--host", "127.0.0.1", "--port", str(args.port)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait(url, server)
            log(f"gateway pid {server.pid} at {url}; {args.rate}/s for {args.duration:.0f}s")
            code = asyncio.run(soak(args, url, server.pid, ids))
        finally:
            server.terminate()
            server.wait(timeout=30)
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            if server.returncode not in (0, -15):
                log("gateway log tail:\n" + "\n".join(tail))
    raise SystemExit(code)


def _wait(url: str, server: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    """Until /readyz says 200, as a load balancer waits: the schema checked, the graph warmed up.

    A Neo4j just started plans the request path's statements during the warm-up
    (seconds on a quiet machine; 64 s was seen at a load average of 15).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the gateway exited at start")
        try:
            if httpx.get(url + "/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the gateway did not get ready within {timeout:.0f}s")


if __name__ == "__main__":
    main()
