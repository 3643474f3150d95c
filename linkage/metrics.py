"""Operational monitoring in the spirit of X-Road's: what each server did, for whom and how fast, for Prometheus.

Every server object owns one ``ServerMetrics`` with a ``CollectorRegistry`` of its own (never the
process-wide default), so several servers in one process keep their figures apart:

    linkage_requests_total{method, agency, doc_type, code}           calls answered, by gRPC status code
    linkage_errors_total{method, agency, doc_type, code, reason}     the calls among them that did not succeed,
                                                                     with their ErrorInfo reason ("" if none)
    linkage_request_duration_seconds{method, agency, doc_type}       latency histogram (BUCKETS)
    linkage_batch_size{method}                                       items per batch call (FetchDocuments'
                                                                     types, BatchGetRecords' reads): its count
                                                                     is the number of batch calls

``agency`` is the common name of the caller's certificate when the server knows that name (the hub: an
agency in its configuration, revoked ones included; a registry: the hub or the sandbox administrator),
else ``unknown``; ``doc_type`` is a document type the server serves, ``other`` for any other text, ``""``
for a call without one; a batch (``FetchDocuments``, a registry's ``BatchGetRecords``) counts once per
item in it. Label values
come only from these closed lists, status codes and snake_case reasons, never from what a caller typed:
no ID or name of a person can appear, and a caller cannot grow the number of series.

The hub adds gauges of its own (linkage/hub/metrics.py). gRPC servers install ``ServerMetrics.interceptor()``
and serve the registry with a ``MetricsExporter`` (``GET /metrics`` on a port of its own); the counter, an
aiohttp app, calls ``add_http_metrics`` (requests per route name and status, latency per route) and serves
/metrics itself.

Where a call is counted, its request line is written too (linkage/logs.py), one per call, successes and
failures alike, with the same closed label values: ``method, agency, doc_type, code, reason, duration_ms``
(a batch: the call's code and reason, and ``results``, one ``{doc_type, code, reason}`` per item asked for);
the counter's: ``method, route, status, reason, duration_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from linkage.errors import DOMAIN, error_info
from linkage.interceptors import UnaryWrapper
from linkage.limits import MAX_BATCH
from linkage.logs import RequestLog, server_failed
from linkage.ports import PortInUse

__all__ = [
    "BUCKETS",
    "REASON",
    "HttpMetrics",
    "MetricsExporter",
    "ServerMetrics",
    "add_http_metrics",
    "metrics_handler",
]

# Seconds: from an in-memory registry lookup (~1 ms) to a provider's deadline (3 s by default) and beyond.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
UNKNOWN_AGENCY = "unknown"
OTHER_DOC_TYPE = "other"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
# Reasons are the project's snake_case codes; no digits, so nothing number-like can pass as one.
_REASON = re.compile(r"[a-z][a-z_]{0,63}")
_CODES = {c.value[0]: c.name for c in grpc.StatusCode}


def _label(value: str, known: bool, other: str) -> str:
    if not value:
        return ""
    return value if known and _NAME.fullmatch(value) else other


class _Callback(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class ServerMetrics:
    """The request metrics of one server (module docstring), in ``self.registry``.

    Only names that ``known_caller`` accepts and ``doc_types`` holds appear as labels; known_caller is
    asked on every call, so agencies added or revoked while the server runs are followed.
    """

    def __init__(self, *, known_caller: Callable[[str], bool], doc_types: Collection[str],
                 log: RequestLog | None = None) -> None:
        self.registry = CollectorRegistry()
        self._known_caller = known_caller
        self._doc_types = doc_types
        self._log = log
        self._after: list[Callable[[], None]] = []
        labels = ("method", "agency", "doc_type")
        self.requests = Counter("linkage_requests", "Calls answered, by gRPC status code.",
                                (*labels, "code"), registry=self.registry)
        self.errors = Counter("linkage_errors", "Calls that did not succeed, by status code and ErrorInfo reason.",
                              (*labels, "code", "reason"), registry=self.registry)
        self.latency = Histogram("linkage_request_duration_seconds", "Time from call to answer, in seconds.",
                                 labels, buckets=BUCKETS, registry=self.registry)
        self.batches = Histogram("linkage_batch_size", "Items asked for in one batch call.", ("method",),
                                 buckets=_BATCH_BUCKETS, registry=self.registry)
        # Each series' counter and histogram, found once: labels() takes a lock and checks its values every time.
        # The label values come from closed lists (module docstring), so this stays small.
        self._series: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._batch_series: dict[str, Any] = {}

    def observe(self, method: str, caller: str, outcomes: Iterable[tuple[str, str, str]], seconds: float, *,
                batch: tuple[str, str] | None = None) -> None:
        """One call by the certificate named caller: (doc_type, code, reason) per document type it asked for;
        batch: the call's own (code, reason) when it asked for several types at once. Writes its request line
        if the server has a RequestLog."""
        agency = _label(caller, self._known_caller(caller), UNKNOWN_AGENCY) or UNKNOWN_AGENCY
        said: list[tuple[str, str, str]] = []
        for doc_type, code, reason in outcomes:
            labels = (method, agency, _label(doc_type, doc_type in self._doc_types, OTHER_DOC_TYPE))
            series = self._series.get((*labels, code))
            if series is None:
                series = self._series[(*labels, code)] = (self.requests.labels(*labels, code),
                                                          self.latency.labels(*labels))
            series[0].inc()
            if code != "OK":
                self.errors.labels(*labels, code, reason if _REASON.fullmatch(reason) else "other").inc()
            series[1].observe(seconds)
            said.append((labels[2], code, _said_reason(reason)))
        if self._log is not None:
            self._write(self._log, method, agency, said, seconds, batch)
        for hook in self._after:
            hook()

    @staticmethod
    def _write(log: RequestLog, method: str, agency: str, said: list[tuple[str, str, str]], seconds: float,
               batch: tuple[str, str] | None) -> None:
        first = said[0][1] if batch is None and len(said) == 1 else (batch or ("OK", ""))[0]
        failed = server_failed(first) or any(server_failed(c) for _, c, _ in said)
        if not log.logger.isEnabledFor(logging.WARNING if failed else logging.INFO):
            return  # nothing to build: the line would not be written
        if batch is None and len(said) == 1:
            doc_type, code, reason = said[0]
            fields: dict[str, object] = {"method": method, "agency": agency, "doc_type": doc_type, "code": code,
                                         "reason": reason, "duration_ms": round(seconds * 1000, 3)}
        else:
            code, reason = batch or ("OK", "")
            fields = {"method": method, "agency": agency, "doc_type": "", "code": code,
                      "reason": _said_reason(reason), "duration_ms": round(seconds * 1000, 3),
                      "results": [{"doc_type": d, "code": c, "reason": r} for d, c, r in said]}
        log.write(f"{method} {code}", fields, failed=failed)

    def batch_size(self, method: str, items: int) -> None:
        """One batch call of method asked for this many items (its outcomes are observed one per item)."""
        series = self._batch_series.get(method)
        if series is None:
            series = self._batch_series[method] = self.batches.labels(method)
        series.observe(items)

    def after_call(self, hook: Callable[[], None]) -> None:
        """Run hook after every call is counted (e.g. to note that the log's checkpoint moved)."""
        self._after.append(hook)

    def add_collector(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Metrics read at each scrape (gauges of state the server keeps elsewhere)."""
        self.registry.register(_Callback(collect))

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        """A server interceptor that counts and times every unary call."""
        return _Interceptor(self)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class _Interceptor(UnaryWrapper):
    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, handler: grpc.RpcMethodHandler, path: str) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary
        # A registered method's path ("/linkage.v1.LinkageHub/FetchDocument"): a closed set.
        service, _, name = path.strip("/").partition("/")
        method = f"{service.rsplit('.', 1)[-1]}/{name}"
        metrics = self._metrics

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            response = None
            code = "OK"
            try:
                response = await inner(request, context)
                return response
            except grpc.aio.AbortError:
                code = _status_name(context.code())
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except BaseException:
                code = "UNKNOWN"
                raise
            finally:
                if code == "OK":
                    code = _status_name(context.code())
                reason = _reason(context) if code != "OK" else ""
                items = _items(request)
                if items is not None:
                    metrics.batch_size(method, len(items))
                batch = (code, reason) if items is not None else None
                metrics.observe(method, _caller(context), _outcomes(request, items, response, code, reason),
                                time.perf_counter() - start, batch=batch)

        return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)


def _said_reason(reason: str) -> str:
    """A reason as a request line shows it: "" for none, a snake_case code, or "other"."""
    return "" if not reason else reason if _REASON.fullmatch(reason) else "other"


def _status_name(code: Any) -> str:
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int):
        return str(_CODES.get(code, "UNKNOWN"))
    return "OK"  # no code set: the call succeeded


def _caller(context: grpc.aio.ServicerContext) -> str:
    names = context.auth_context().get("x509_common_name") or [b""]
    return bytes(names[0]).decode("utf-8", "replace")


def _reason(context: grpc.aio.ServicerContext) -> str:
    """The ErrorInfo reason (the error's ``code``) the servicer sent with its status (linkage.errors.to_status),
    or ""."""
    try:
        info = error_info(context.trailing_metadata())
    except (AttributeError, NotImplementedError, ValueError):  # no trailers, or details that do not parse:
        return ""  # no reason to fail a call that is already over
    return str(info.reason) if info is not None and info.domain == DOMAIN else ""


def _items(request: Any) -> Any:
    """What a batch asks for, one per item (FetchDocuments' doc_types, BatchGetRecords' requests), or None."""
    items = getattr(request, "doc_types", None)
    return getattr(request, "requests", None) if items is None else items


def _outcomes(request: Any, items: Any, response: Any, code: str, reason: str) -> list[tuple[str, str, str]]:
    """(doc_type, code, reason) per item the call asked for (items: ``_items(request)``): a batch's problems are
    in its answer."""
    if items is None:
        return [(str(getattr(request, "doc_type", "")), code, reason)]
    types = [str(getattr(item, "doc_type", item)) for item in items]
    results = getattr(response, "results", None) if response is not None else None
    if results:
        return [(t, _CODES.get(r.problem.grpc_code, "UNKNOWN"), r.problem.reason) if r.HasField("problem")
                else (t, "OK", "") for t, r in zip(types, results, strict=False)]
    # Refused whole (e.g. too many): once per type asked for, or once in all for an oversized list.
    distinct = list(dict.fromkeys(types))
    return [(t, code, reason) for t in distinct] if 0 < len(distinct) <= MAX_BATCH else [("", code, reason)]


def metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler answering the registry in Prometheus' text format."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handler


class MetricsExporter:
    """``GET /metrics`` on a port of its own, served in the running event loop; ``close()`` when done."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    @classmethod
    async def start(cls, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0) -> MetricsExporter:
        """Listen on host:port (0: any free port). Raises PortInUse when the address is taken."""
        app = web.Application()
        app.router.add_get("/metrics", metrics_handler(registry))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise PortInUse(f"{host}:{port} (metrics)", "choose another with --metrics-port",
                            str(exc.strerror or exc)) from None
        return cls(runner, host, int(runner.addresses[0][1]))

    async def close(self) -> None:
        await self._runner.cleanup()


@dataclass(frozen=True)
class HttpMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST"})
# A handler or middleware that turns a failure into a page sets its snake_case code here, for the request line.
REASON = web.RequestKey("linkage_reason", str)


def add_http_metrics(app: web.Application, log: RequestLog | None = None) -> HttpMetrics:
    """Count and time every request of app by route name (never its path, which may hold a case's ID) and
    status, and serve them at ``GET /metrics`` (route name ``metrics``). Call before the app starts.

    Each request is also written as one line to log (default: the ``aiohttp.access`` logger, which the
    app's runner leaves unused when started with ``access_log=None``): method, route, status, the reason set
    under ``REASON`` (else ""), duration_ms."""
    requests = log if log is not None else RequestLog(logging.getLogger("aiohttp.access"))
    registry = CollectorRegistry()
    found = HttpMetrics(
        registry,
        Counter("linkage_http_requests", "HTTP requests answered, by route name, method and status.",
                ("route", "method", "status"), registry=registry),
        Histogram("linkage_http_request_duration_seconds", "Time to answer an HTTP request, in seconds.",
                  ("route",), buckets=BUCKETS, registry=registry),
    )

    @web.middleware
    async def count(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                    ) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            info = request.match_info
            name = info.route.name if info.http_exception is None else None
            route = name if name and _NAME.fullmatch(name) else "unmatched"
            method = request.method if request.method in _HTTP_METHODS else "other"
            seconds = time.perf_counter() - start
            found.requests.labels(route, method, str(status)).inc()
            found.latency.labels(route).observe(seconds)
            requests.write(f"{method} {route} {status}", {
                "method": method, "route": route, "status": status, "reason": _said_reason(request.get(REASON, "")),
                "duration_ms": round(seconds * 1000, 3)}, failed=server_failed(status))

    # First, so that it sees the answer every other middleware settled on.
    app.middlewares.insert(0, count)
    app.router.add_get("/metrics", metrics_handler(registry), name="metrics")
    return found
