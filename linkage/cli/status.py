"""``linkage status --home DIR [--json]``: is every part of a running sandbox healthy?

Reads DIR/endpoints.json (``linkage up`` writes it) and asks, all at once, each with a deadline:

  1. every hub replica and each registry: the gRPC health service over mutual TLS (the sandbox
     administrator's certificate, or an agency's), which must answer SERVING;
  2. the counter, and the time-stamping authority (endpoints.json "tsa"): GET /metrics over HTTP, which must
     answer 200;
  3. every component's metrics endpoint (endpoints.json ``metrics``), which must answer 200;
     from the hubs': each provider's circuit breaker, the age of the newest checkpoint, and
     which replica integrates the log now;
  4. the exchange log: its newest signed checkpoint (AuditLog.GetCheckpoint, as the auditor
     agency, from the first replica that gives it): size and root hash.

DIR/supervisor.json (``linkage up`` writes it) adds how often each component was restarted
and how it last exited. A component is down when check 1, 2 or 3 fails; the breakers, the
checkpoint and the restarts are reported, not judged. Exit codes: 0 every component healthy;
1 one or more down, each named with what it answered; 2 the sandbox is not running (no
endpoints.json) or endpoints.json cannot be read.
``--wait [SECONDS]`` asks again until every component is healthy, also while ``linkage up`` is
still starting (linkage/cli/background.py), and reports the last answers when time runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from linkage import pki
from linkage.cli.stack import read_endpoints
from linkage.config import ConfigError, Home
from linkage.v1 import audit_pb2, audit_pb2_grpc
from providers.faults import ADMIN_CLIENT

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Checkpoint", "Component", "Report", "add_commands", "check"]

DEFAULT_TIMEOUT_S = 3.0


@dataclass
class Component:
    name: str
    kind: str  # hub, worker (a further hub process on a replica's port), registry, counter or tsa
    address: str
    healthy: bool = False
    detail: str = ""  # what it answered: SERVING, HTTP 200, or the failure
    metrics: str = ""  # its metrics URL
    breaker: str = ""  # registries: the hub's circuit breaker for it (closed, open, half_open)
    integrating: bool | None = None  # hubs: whether it integrates the log now (None: unknown)
    restarts: int = 0  # by `linkage up`, since it started
    last_exit: str = ""  # how it last exited, when it was restarted: "killed by SIGKILL at …"


@dataclass
class Checkpoint:
    size: int = -1
    root_hash: str = ""
    age_s: float | None = None
    error: str = ""


@dataclass
class Report:
    home: str
    components: list[Component] = field(default_factory=list)
    checkpoint: Checkpoint = field(default_factory=Checkpoint)

    @property
    def down(self) -> list[str]:
        return [c.name for c in self.components if not c.healthy]

    @property
    def integrating(self) -> list[str]:
        """The hubs that say they integrate the log: one, or none for the moment a replica takes over."""
        return [c.name for c in self.components if c.healthy and c.integrating]

    def to_json(self) -> dict[str, Any]:
        return {"home": self.home, "healthy": not self.down, "down": self.down, "integrating": self.integrating,
                "components": [asdict(c) for c in self.components], "checkpoint": asdict(self.checkpoint)}

    def render(self) -> str:
        width = max(len(c.name) for c in self.components) if self.components else 0
        lines = [f"linkage sandbox in {self.home}"]
        for c in self.components:
            state = "ok  " if c.healthy else "DOWN"
            extra = f"  breaker {c.breaker}" if c.breaker else ""
            if c.integrating:
                extra += "  integrates the log"
            lines.append(f"  {state} {c.name:<{width}}  {c.kind:<8}  {c.address}  {c.detail}{extra}")
            if c.metrics:
                lines.append(f"       {'':<{width}}  metrics   {c.metrics}")
            if c.restarts:
                lines.append(f"       {'':<{width}}  restarts  {c.restarts}, last exit: {c.last_exit}")
        cp = self.checkpoint
        if cp.error:
            lines.append(f"checkpoint: unknown ({cp.error})")
        else:
            age = f", age {cp.age_s:.1f} s" if cp.age_s is not None else ""
            lines.append(f"checkpoint: size {cp.size}, root {cp.root_hash}{age}")
        hubs = [c for c in self.components if c.kind in ("hub", "worker")]
        if len(hubs) > 1:
            lines.append(f"log integrated by: {', '.join(self.integrating) or 'none of the replicas that answered'}")
        down = self.down
        lines.append(f"down: {', '.join(down)}" if down else f"all {len(self.components)} components healthy")
        return "\n".join(lines)


def _load(home: Home) -> dict[str, Any]:
    """endpoints.json with the addresses status needs. Raises ConfigError (exit 2) when they are missing."""
    data = read_endpoints(home)
    if not isinstance(data.get("hub"), str) or not isinstance(data.get("providers"), dict) \
            or not isinstance(data.get("counter"), str):
        raise ConfigError(f"{home.endpoints}: not what `linkage up` writes (hub, providers, counter missing);"
                          f" restart the sandbox with `linkage up --home {home.root}`")
    return data


def _client_cert(home: Home, endpoints: dict[str, Any]) -> pki.CertPaths:
    """The administrator's certificate, else any agency's: every server accepts a client of the sandbox CA."""
    admin = home.client_cert(ADMIN_CLIENT)
    if admin.cert.exists():
        return admin
    return _agency_cert(endpoints, home) or admin


def _agency_cert(endpoints: dict[str, Any], home: Home) -> pki.CertPaths | None:
    agencies = endpoints.get("agencies") or {}
    for name in sorted(agencies, key=lambda n: n != "auditor"):
        entry = agencies[name]
        if isinstance(entry, dict) and "cert" in entry and "key" in entry:
            return pki.CertPaths(Path(entry["cert"]), Path(entry["key"]))
    return None


async def _health(component: Component, credentials: grpc.ChannelCredentials, timeout: float) -> None:
    async with grpc.aio.secure_channel(component.address, credentials) as channel:
        try:
            answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                                      timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            component.detail = f"no health answer ({exc.code().name}: {(exc.details() or '')[:120]})"
            return
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    component.healthy = answer.status == health_pb2.HealthCheckResponse.SERVING
    component.detail = status


async def _get(http: aiohttp.ClientSession, url: str, timeout: float) -> tuple[int, str]:
    """(HTTP status, body); (0, why) when there is no answer."""
    import aiohttp

    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"[:160] if str(exc) else type(exc).__name__


async def _http(component: Component, http: aiohttp.ClientSession, timeout: float) -> None:
    status, body = await _get(http, component.metrics or f"{component.address}/metrics", timeout)
    component.healthy = status == 200
    component.detail = f"HTTP {status}" if status else f"no answer ({body})"


async def _scrape(component: Component, http: aiohttp.ClientSession, timeout: float) -> dict[str, list[Any]]:
    """The component's metrics as {name: samples}; marks it down when its endpoint fails (check 3)."""
    if not component.metrics:
        return {}
    status, body = await _get(http, component.metrics, timeout)
    if status != 200:
        component.healthy = False
        component.detail += f"; metrics endpoint: {f'HTTP {status}' if status else f'no answer ({body})'}"
        return {}
    from prometheus_client.parser import text_string_to_metric_families

    try:
        return {family.name: family.samples for family in text_string_to_metric_families(body)}
    except ValueError as exc:
        component.healthy = False
        component.detail += f"; metrics endpoint: unreadable ({exc})"
        return {}


async def _checkpoint(addresses: list[str], ca: Path, own: pki.CertPaths | None, timeout: float) -> Checkpoint:
    """The newest checkpoint from the first replica that gives it; the last refusal when none does."""
    if own is None:
        return Checkpoint(error="no agency certificate in endpoints.json to ask the hub with")
    found = Checkpoint(error="no hub in endpoints.json")
    for address in addresses:
        async with grpc.aio.secure_channel(address, pki.channel_credentials(ca, own)) as channel:
            try:
                cp = await audit_pb2_grpc.AuditLogStub(channel).GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                                               timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                found = Checkpoint(error=f"the hub did not give it ({exc.code().name}:"
                                         f" {(exc.details() or '')[:120]})")
                continue
        return Checkpoint(size=cp.size, root_hash=cp.root_hash.hex())
    return found


def _hubs(endpoints: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, address) of every hub replica: "hub", "hub-2", … as `linkage up` names them."""
    listed = endpoints.get("hubs")
    addresses = [str(a) for a in listed] if isinstance(listed, list) and listed else [str(endpoints["hub"])]
    return [("hub" if i == 0 else f"hub-{i + 1}", address) for i, address in enumerate(addresses)]


def _restarts(components: list[Component], home: Home) -> None:
    from linkage.cli.supervisor import read_state

    state = read_state(home.supervisor)
    for c in components:
        entry = state.get(c.name, {})
        c.restarts = int(entry.get("restarts") or 0)
        last = entry.get("last_exit")
        if isinstance(last, dict):
            c.last_exit = f"{last.get('status')} at {last.get('at')} after {last.get('ran_s')} s"
        if entry.get("state") in ("restarting", "failed") and not c.healthy:
            c.detail += f"; linkage up: {entry['state']}"


async def check(home: Home, *, timeout: float = DEFAULT_TIMEOUT_S) -> Report:
    """Ask every component of the sandbox in home (module docstring). Raises ConfigError when it is not running."""
    endpoints = _load(home)
    metrics = endpoints.get("metrics") if isinstance(endpoints.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    hubs = [Component(name, "hub", address, metrics=str(metrics.get(name, ""))) for name, address in _hubs(endpoints)]
    # The further hub processes on a replica's port (`linkage up --workers N`: "hub/2", …): a health call to
    # the port reaches any of them, so each is asked at its own metrics endpoint.
    replica = dict(_hubs(endpoints))
    workers = [Component(str(name), "worker", replica.get(str(name).split("/")[0], ""), metrics=str(url))
               for name, url in metrics.items() if "/" in str(name) and str(name).startswith("hub")]
    registries = [Component(str(name), "registry", str(address), metrics=str(metrics.get(name, "")))
                  for name, address in endpoints["providers"].items()]
    counter = Component("counter", "counter", endpoints["counter"], metrics=str(metrics.get("counter", "")))
    tsa_url = str(endpoints["tsa"].get("url", "")) if isinstance(endpoints.get("tsa"), dict) else ""
    served = [counter]
    if tsa_url:
        served.append(Component("tsa", "tsa", tsa_url.rstrip("/"), metrics=f"{tsa_url}metrics"))
    report = Report(str(home.root), [*hubs, *workers, *registries, *served])
    ca = Path(endpoints.get("ca") or home.ca.cert)
    credentials = pki.channel_credentials(ca, _client_cert(home, endpoints))
    import aiohttp  # here: `linkage` starts faster for every other command

    async with aiohttp.ClientSession() as http:
        checks = [*(_health(c, credentials, timeout) for c in (*hubs, *registries)),
                  *(_http(c, http, timeout) for c in (*workers, *served))]
        _, report.checkpoint = await asyncio.gather(asyncio.gather(*checks), _checkpoint(
            [h.address for h in hubs], ca, _agency_cert(endpoints, home), timeout))
        scraped = await asyncio.gather(*(_scrape(c, http, timeout) for c in (*hubs, *workers, *registries)))
    hubs += workers  # from here on, every hub process
    for hub, hub_metrics in zip(hubs, scraped, strict=False):
        integrating = hub_metrics.get("linkage_log_integrating", [])
        hub.integrating = bool(integrating[0].value) if integrating else None
    # Breakers and the checkpoint's age as the integrating replica sees them (the others reload the tree, which
    # restarts their clock), else as the first that answered.
    ordered = sorted(zip(hubs, scraped, strict=False), key=lambda pair: not pair[0].integrating)
    hub_metrics = next((m for _, m in ordered if m), {})
    for sample in hub_metrics.get("linkage_provider_circuit_state", []):
        if sample.value == 1:
            for registry in registries:
                if registry.name == sample.labels.get("provider"):
                    registry.breaker = sample.labels.get("state", "")
    ages = hub_metrics.get("linkage_log_checkpoint_age_seconds", [])
    if ages:
        report.checkpoint.age_s = float(ages[0].value)
    _restarts(report.components, home)
    return report


def _cmd_status(args: argparse.Namespace) -> int:
    home = Home(Path(args.home).resolve())
    if args.timeout <= 0:
        print(f"linkage status: --timeout must be a number of seconds above 0, got {args.timeout:g}",
              file=sys.stderr)
        return 2
    if args.wait is None:
        report = asyncio.run(check(home, timeout=args.timeout))
    else:
        from linkage.cli.background import NotReady, wait_ready

        try:
            report = asyncio.run(wait_ready(home, args.wait))
        except NotReady as exc:
            if exc.report is None:
                raise
            report = exc.report
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(report.render())
    if report.down:
        print(f"linkage status: down: {', '.join(report.down)}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage status``."""
    p = sub.add_parser("status", help="health of every component of the running sandbox, its last checkpoint and"
                                      " each provider's circuit breaker")
    from linkage.cli.common import with_home

    with_home(p)
    p.add_argument("--json", action="store_true", help="print a machine-readable report")
    # A string default goes through type= only when this command is parsed.
    p.add_argument("--timeout", type=float, default=os.environ.get("LINKAGE_STATUS_TIMEOUT", str(DEFAULT_TIMEOUT_S)),
                   help=f"seconds each check may take (LINKAGE_STATUS_TIMEOUT, default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--wait", type=float, nargs="?", const=600.0, default=None, metavar="SECONDS",
                   help="ask again until every component is healthy, also while the sandbox is still starting or"
                        " not yet started, for at most SECONDS (default 600); then report as without --wait")
    p.set_defaults(func=_cmd_status)
