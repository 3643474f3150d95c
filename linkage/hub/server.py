"""The hub's gRPC server: built by a factory, with health checking and reflection.

``build_server(settings, port=0)`` returns a started server and its bound port;
tests use port 0. The server holds the limits of linkage/limits.py: requests of at most
HUB_MAX_RECEIVE bytes, answers of at most HUB_MAX_SEND, MAX_CONCURRENT_STREAMS calls in
flight per connection. Its metrics (linkage/metrics.py) are served on a port of their own.
``serve(settings)`` runs it until SIGINT/SIGTERM and stops
gracefully, letting calls in flight finish and their log entries commit.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from linkage import pki
from linkage.config import Settings
from linkage.errors import MalformedRequests
from linkage.hub.deskstore import open_desk_store
from linkage.hub.keys import LiveSealer, LogSigner
from linkage.hub.log import ExchangeLog
from linkage.hub.metrics import hub_metrics
from linkage.hub.routing import Router
from linkage.hub.rules import Hub
from linkage.hub.service import AuditServicer, HubServicer
from linkage.hub.sharedlimits import SharedLimiter
from linkage.hub.witnesses import WitnessRelay, witness_endpoints
from linkage.interceptors import CallerDeadline
from linkage.limits import HUB_MAX_RECEIVE, HUB_MAX_SEND, server_options
from linkage.metrics import MetricsExporter, ServerMetrics
from linkage.ports import PortInUse, choose_port, listen_failure
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc

__all__ = ["HubServer", "build_server", "serve"]

SERVICE_NAME = hub_pb2.DESCRIPTOR.services_by_name["LinkageHub"].full_name
AUDIT_SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditLog"].full_name
# The largest answer the hub sends (the conformance kit sizes records by it).
MAX_MESSAGE = HUB_MAX_SEND


@dataclass
class HubServer:
    server: grpc.aio.Server
    port: int
    hub: Hub
    metrics: ServerMetrics | None = None
    exporter: MetricsExporter | None = None  # GET /metrics (linkage/metrics.py)
    relay: WitnessRelay | None = None  # sends each new checkpoint to the witnesses (linkage/hub/witnesses.py)
    limiter: SharedLimiter | None = None  # limits shared by the replicas (linkage/hub/sharedlimits.py)

    async def stop(self, grace: float = 5.0) -> None:
        if self.exporter is not None:
            await self.exporter.close()
        await self.server.stop(grace)
        if self.relay is not None:
            await self.relay.close()
        await self.hub.router.close()
        if self.limiter is not None:
            await self.limiter.close()
        await self.hub.store.close()
        await self.hub.log.close()


async def build_server(settings: Settings, port: int | None = None, metrics_port: int | None = 0,
                       reuse_port: bool = False) -> HubServer:
    """Start the hub on settings.hub.host and port (default: the configured one; 0 for any free port), and its
    metrics on metrics_port of the same host (0: any free port; None: none). reuse_port: listen with SO_REUSEPORT,
    so that several hub processes (`linkage up --workers N`) share the port and the kernel spreads connections
    over them; off by default, so that a port another hub holds is refused as taken."""
    home = settings.home
    # Seal and log keys follow DIR/pki/seal-keys.json and log-keys.json while the hub runs (linkage/hub/keys.py).
    log = ExchangeLog(settings.database or home.exchange_log, home.subject_key.read_bytes(), LogSigner(home),
                      settings.hub.log_origin)
    try:  # sign-ins, sessions, challenges and consents: beside the log, where every replica meets them
        store = open_desk_store(settings.database or home.exchange_log)
    except BaseException:
        await log.close()
        raise
    hub = Hub(settings, Router(settings), LiveSealer(home), log, store)
    metrics = hub_metrics(hub)
    # On PostgreSQL, where replicas share the log, they share each agency's limits too (leased in batches).
    limiter = SharedLimiter(settings.database) if settings.database is not None else None
    leases = [] if limiter is None else [limiter.interceptor(lambda: hub.last_settings.agencies)]
    if limiter is not None:
        hub.limiter = limiter
    # CallerDeadline: the hub's calls to providers end before the caller's deadline (linkage/hub/routing.py).
    # MalformedRequests: bytes that are no request message are INVALID_ARGUMENT (linkage/errors.py).
    server = grpc.aio.server(interceptors=[metrics.interceptor(), CallerDeadline(), MalformedRequests(), *leases],
                             options=[
        *server_options(HUB_MAX_RECEIVE, HUB_MAX_SEND),
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ])
    hub_pb2_grpc.add_LinkageHubServicer_to_server(HubServicer(hub), server)
    audit_pb2_grpc.add_AuditLogServicer_to_server(AuditServicer(hub), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, AUDIT_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{settings.hub.host}:{settings.hub.port if port is None else port}"
    try:
        bound = server.add_secure_port(address, pki.server_credentials(home.ca.cert, home.server_cert("hub")))
    except RuntimeError:
        bound = 0
    if not bound:
        await hub.router.close()
        await store.close()
        await log.close()
        raise listen_failure(address, choose_port("hub", "LINKAGE_HUB_PORT", home.config_file))
    await server.start()
    running = HubServer(server, bound, hub, metrics, limiter=limiter)
    witnesses = witness_endpoints(settings)
    if witnesses:
        running.relay = WitnessRelay(log, witnesses)
        running.relay.start()
    if metrics_port is not None:
        try:
            running.exporter = await MetricsExporter.start(metrics.registry, settings.hub.host, metrics_port)
        except PortInUse:
            await running.stop(0)
            raise
    for name in ("", SERVICE_NAME, AUDIT_SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


async def serve(settings: Settings, port: int | None = None, ready: asyncio.Event | None = None) -> None:
    """Run the hub until SIGINT or SIGTERM."""
    running = await build_server(settings, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        await running.stop()
