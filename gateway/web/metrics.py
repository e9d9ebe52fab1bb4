"""Prometheus metrics: what an operator watches, at a cost per request of a few microseconds.

Every app has its own registry (tests build many apps in one process). What
is measured, and where:

- ``tightrope_graphql_request_seconds{operation}``: each GraphQL operation,
  counted by the operation's extension (gateway/graphql/after_operation.py).
  A client names its operations as it likes, so the label set is bounded: the
  first ``metrics_max_operations`` names of valid documents get their own
  label, later ones count as ``other``, an unnamed operation as ``anonymous``.
- ``tightrope_graphql_errors_total{code}``: errors in answers, by code (a fixed
  set), plus the refusals the middleware answers before GraphQL runs (401,
  413, 429, 503 on ``/graphql``) counted under the code their body carries.
- ``tightrope_http_responses_total{status}``: every response, by status.
- ``tightrope_plugin_seconds{plugin}``: time spent in each plugin's resolvers
  and strategies in one request (gateway/host/isolation.py adds it up per request;
  one observation per plugin and request).
- ``tightrope_graph_query_seconds{kind}``: every Neo4j query (read, write),
  from the graph facade's observer.
- ``tightrope_graph_retries_total{kind,reason}``: queries tried again after one
  of Neo4j's transient errors (``reason``: the last part of its code, such as
  ``DeadlockDetected``), within the query's deadline (graph/driver.py). A
  client hears of one only when the deadline ran out, as UNAVAILABLE.
- ``tightrope_access_log_buffer_depth``: records waiting to be written to the
  customers' access log, once the access log registers its depth function
  with :meth:`Metrics.watch_access_log`; absent until then.
- ``tightrope_access_log_dropped_total``: access-log records given up on (the
  buffer full while the graph refused them, or still unwritten at shutdown),
  registered with the depth; absent until then.
- ``tightrope_linking_queue_depth``, ``tightrope_linking_proposals_total{verdict}``
  (linked, updated, unchanged, refused), ``tightrope_linking_linker_failures_total``
  and ``tightrope_linking_batches_dropped_total``: the linking that runs after
  ``trackEvents`` answers (gateway/linking/queue.py), read from the app's queue
  once it is registered with :meth:`Metrics.watch_linking`; absent until then.
  A depth that keeps growing means linking falls behind the events.

``/metrics`` answers loopback callers only, unless ``metrics_token`` is set:
then it answers anyone presenting that bearer token, and nobody else.
"""

from __future__ import annotations

import hmac
import re
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.types import ExecutionContext

from gateway.linking.types import Verdict
from gateway.settings import Settings, is_loopback

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OTHER = "other"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# What the middleware's refusals on /graphql carry as their error code.
_REFUSALS = {400: "BAD_USER_INPUT", 401: "UNAUTHENTICATED", 413: "BAD_USER_INPUT"}
_REFUSALS |= {429: "RATE_LIMITED", 503: "UNAVAILABLE"}


class _AccessLogDepth(Collector):
    """The access log's buffer depth, read when scraped, once a depth function is registered."""

    def __init__(self) -> None:
        self.depth: Callable[[], int] | None = None
        self.dropped: Callable[[], int] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.depth is None:
            return []
        gauge = GaugeMetricFamily(
            "tightrope_access_log_buffer_depth",
            "Access-log records waiting to be written to the graph.",
        )
        gauge.add_metric([], float(self.depth()))
        if self.dropped is None:
            return [gauge]
        counter = CounterMetricFamily(
            "tightrope_access_log_dropped",
            "Access-log records given up on (buffer full, or unwritten at shutdown).",
        )
        counter.add_metric([], float(self.dropped()))
        return [gauge, counter]


class LinkingFigures(Protocol):
    """What the linking queue counts (gateway/linking/queue.py's LinkQueue)."""

    verdicts: Tally[str]
    linker_failures: int
    dropped: int

    @property
    def waiting(self) -> int: ...


# Every verdict is exposed, at 0 until one occurs, so that a rate is defined
# from the first scrape.
VERDICTS = tuple(verdict.value for verdict in Verdict)


class _Linking(Collector):
    """The linking queue's figures, read when scraped, once a queue is registered."""

    def __init__(self) -> None:
        self.queue: LinkingFigures | None = None

    def collect(self) -> Iterable[Metric]:
        queue = self.queue
        if queue is None:
            return []
        depth = GaugeMetricFamily(
            "tightrope_linking_queue_depth", "Batches of events waiting to be linked."
        )
        depth.add_metric([], float(queue.waiting))
        proposals = CounterMetricFamily(
            "tightrope_linking_proposals",
            "Links proposed by identity linkers, by the host's verdict.",
            labels=["verdict"],
        )
        for verdict in VERDICTS:
            proposals.add_metric([verdict], float(queue.verdicts[verdict]))
        failures = CounterMetricFamily(
            "tightrope_linking_linker_failures",
            "Times an identity linker failed on a batch (the other linkers still ran).",
        )
        failures.add_metric([], float(queue.linker_failures))
        dropped = CounterMetricFamily(
            "tightrope_linking_batches_dropped",
            "Batches whose linking was given up (the events themselves are stored).",
        )
        dropped.add_metric([], float(queue.dropped))
        return [depth, proposals, failures, dropped]


class Metrics:
    """One app's metrics and their registry."""

    def __init__(self, max_operations: int = 100) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_operations = max_operations
        self.requests = Histogram(
            "tightrope_graphql_request_seconds",
            "GraphQL operations, by operation name.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "tightrope_graphql_errors",
            "Errors in GraphQL answers and refusals of /graphql, by code.",
            ["code"],
            registry=self.registry,
        )
        self.responses = Counter(
            "tightrope_http_responses",
            "HTTP responses, by status.",
            ["status"],
            registry=self.registry,
        )
        self.plugin_seconds = Histogram(
            "tightrope_plugin_seconds",
            "Time spent in one plugin's resolvers and strategies for one request.",
            ["plugin"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.graph_seconds = Histogram(
            "tightrope_graph_query_seconds",
            "Neo4j queries, by kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.graph_retries = Counter(
            "tightrope_graph_retries",
            "Neo4j queries tried again after a transient error, by kind and reason.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self._access_log = _AccessLogDepth()
        self.registry.register(self._access_log)
        self._linking = _Linking()
        self.registry.register(self._linking)
        # Label children by value: prometheus_client's own lookup takes a lock.
        self._operations: dict[str, Any] = {}
        self._children: dict[tuple[int, str], Any] = {}

    def watch_access_log(
        self, depth: Callable[[], int], dropped: Callable[[], int] | None = None
    ) -> None:
        """Expose ``depth()`` and ``dropped()`` as the access log's metrics (read when scraped)."""
        self._access_log.depth = depth
        self._access_log.dropped = dropped

    def watch_linking(self, queue: LinkingFigures) -> None:
        """Expose the linking queue's figures (read when scraped)."""
        self._linking.queue = queue

    def _child(self, metric: Any, value: str) -> Any:
        key = (id(metric), value)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(value)
        return child

    def operation(self, name: str | None) -> Any:
        """The latency histogram of an operation name (bounded, see the module's docstring)."""
        if name is None:
            name = ANONYMOUS
        found = self._operations.get(name)
        if found is not None:
            return found
        if len(self._operations) >= self.max_operations or not _NAME.fullmatch(name):
            name = OTHER
            found = self._operations.get(name)
            if found is not None:
                return found
        found = self._operations[name] = self.requests.labels(name)
        return found

    def error(self, code: str) -> None:
        self._child(self.errors, code).inc()

    def operation_done(
        self, context: ExecutionContext, seconds: float, spent: dict[str, float]
    ) -> None:
        """One operation's time, its errors by code (labelled already), its plugins' time."""
        result = context.result
        errors = result.errors if result is not None else None
        named = context.operation_name if context.graphql_document is not None else None
        if errors and context.graphql_document is None:
            named = None  # not even parsed: its name means nothing
        self.operation(named).observe(seconds)
        if errors:
            for error in errors:
                code = (error.extensions or {}).get("code")
                self.error(code if isinstance(code, str) else "INTERNAL")
        if spent:
            self.plugins(spent)

    def graph_query(self, kind: str, seconds: float) -> None:
        self._child(self.graph_seconds, kind).observe(seconds)

    def graph_retry(self, kind: str, reason: str) -> None:
        self.graph_retries.labels(kind, reason).inc()

    def plugins(self, spent: dict[str, float]) -> None:
        for plugin, seconds in spent.items():
            self._child(self.plugin_seconds, plugin).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CountResponses:
    """Plain ASGI middleware: each response's status, and refusals of /graphql by code."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                metrics._child(metrics.responses, str(status)).inc()
                if status != 200 and scope["path"] == "/graphql" and status in _REFUSALS:
                    metrics.error(_REFUSALS[status])
            await send(message)

        await self.app(scope, receive, counted)


def metrics_endpoint(settings: Settings) -> Callable[[Request], Any]:
    """``GET /metrics``: for loopback callers, or for the holder of ``metrics_token``."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    async def endpoint(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse(
                    "a bearer token is required\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        elif not is_loopback(request.client.host if request.client else None):
            return PlainTextResponse("not found\n", status_code=404)
        metrics: Metrics = request.app.state.metrics
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return endpoint
