"""`linkage bench`: the hub with every feature on, against the same reads straight from the provider.

One run, alternating rounds so that drift of the machine hits both sides alike:
(a) FetchDocument through the hub — mTLS, rights, sealing, durable exchange log;
(b) GetRecord straight from the provider over mTLS with the hub's own client
certificate. Each round keeps ``concurrency`` calls in flight. Then both again
at one call in flight, for latency. Prints throughput, p50 and p99 of each and
the ratio a/b; the hub-added p50 is p50(a) - p50(b) at one call in flight.

With ``--database postgresql://…`` the registries and the log live in PostgreSQL (a database of
the bench's own, made on that server and dropped afterwards, unless ``--home`` names a sandbox);
``--replicas N`` starts N hubs sharing that log and spreads (a) over them with gRPC's round-robin.
Run it with ``--replicas 1`` and ``--replicas 2`` to compare.

It also prints how many calls reached the registry during (a), from the registry's metrics: with several
reads in flight the hub sends them together (linkage/hub/routing.py, step 6).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import pki
from linkage.checkpoint import NoteSigner
from linkage.cli.officers import sandbox_session
from linkage.cli.sandbox import SandboxError, init
from linkage.cli.stack import Stack, start_stack
from linkage.config import Home, load_settings
from linkage.hub.log import ExchangeLog, LogEntry
from linkage.pki import HUB_CLIENT
from linkage.seal import PRINTOUT_FIELDS, Sealer
from linkage.storage import Database, parse_database, pg_connect
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2, provider_pb2_grpc

__all__ = ["Result", "run_bench"]

DOC_TYPE = "dopa.person"
AGENCY = "phrae-municipality"


@dataclass(frozen=True)
class Result:
    name: str
    calls: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(name: str, call: Callable[[str], Awaitable[object]], ids: Sequence[str], calls: int,
                 concurrency: int) -> Result:
    latencies: list[float] = []
    next_call = 0

    async def worker() -> None:
        nonlocal next_call
        while next_call < calls:
            i = next_call
            next_call += 1
            t = time.perf_counter()
            await call(ids[i % len(ids)])
            latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, calls, time.perf_counter() - start, tuple(latencies))


def _merge(results: Sequence[Result]) -> Result:
    return Result(results[0].name, sum(r.calls for r in results), sum(r.seconds for r in results),
                  tuple(x for r in results for x in r.latencies_ms))


def _citizen_ids(home: Home, database: Database | None, limit: int = 2000) -> list[str]:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    if database is not None:
        with pg_connect(database, database.schema("dopa")) as conn:
            rows = conn.execute("SELECT subject_id FROM record WHERE doc_type = %s LIMIT %s",
                                (DOC_TYPE, limit)).fetchall()
        ids = [str(r[0]) for r in rows]
    else:
        from providers.synth import sample_ids

        ids = sample_ids(home.provider_db("dopa"), DOC_TYPE, limit)
    return ids or [p["id"] for p in personas if DOC_TYPE in p["doc_types"]]


async def _bench(home: Home, args: argparse.Namespace) -> None:
    settings = load_settings(home)
    replicas = args.replicas
    hub_names = ["hub", *(f"hub-{i}" for i in range(2, replicas + 1))]
    stack = await start_stack(settings, replicas=replicas, any_port=True)
    try:
        ids = _citizen_ids(home, settings.database)
        random.Random(7).shuffle(ids)
        officer = sorted(settings.agencies[AGENCY].officers)[0]
        hubs = [stack.addresses[n] for n in hub_names]
        hub_channel = grpc.aio.secure_channel(
            "ipv4:" + ",".join(hubs), pki.channel_credentials(home.ca.cert, home.client_cert(AGENCY)),
            options=[("grpc.lb_policy_name", "round_robin"), ("grpc.ssl_target_name_override", "hub")])
        direct_channel = grpc.aio.secure_channel(
            stack.addresses["dopa"], pki.channel_credentials(home.ca.cert, home.client_cert(HUB_CLIENT)))
        hub = hub_pb2_grpc.LinkageHubStub(hub_channel)
        direct = provider_pb2_grpc.ProviderServiceStub(direct_channel)
        # The officer signs in once with their sandbox card; every printout names the session.
        session = (await sandbox_session(hub_channel, home, AGENCY, officer)).secret

        async def via_hub(subject: str) -> object:
            return await hub.FetchDocument(hub_pb2.FetchDocumentRequest(
                doc_type=DOC_TYPE, subject_id=subject, purpose="benchmark", officer_session=session), timeout=30)

        async def straight(subject: str) -> object:
            return await direct.GetRecord(provider_pb2.GetRecordRequest(doc_type=DOC_TYPE, subject_id=subject),
                                          timeout=30)

        # Warm up both paths (TLS sessions, provider Describe cache, page cache).
        await _drive("warm-up", via_hub, ids, 500, args.concurrency)
        await _drive("warm-up", straight, ids, 500, args.concurrency)
        hub_rounds, direct_rounds = [], []
        hub_pids = [stack.processes[n].pid for n in hub_names]
        hub_cpu = direct_cpu = 0.0  # CPU seconds of the hubs during (a), of the registry during (b)
        registry_cpu = 0.0  # CPU seconds of the registry during (a)
        reads_before = await _registry_reads(stack.metrics["dopa"])
        reads = [0.0, 0.0, 0.0]  # what reached the registry during (a): GetRecord calls, batch calls, their reads
        for _ in range(args.rounds):
            before, registry_before = _cpu_seconds(hub_pids), _cpu_seconds([stack.processes["dopa"].pid])
            hub_rounds.append(await _drive("hub", via_hub, ids, args.calls, args.concurrency))
            hub_cpu += _cpu_seconds(hub_pids) - before
            registry_cpu += _cpu_seconds([stack.processes["dopa"].pid]) - registry_before
            reads_after = await _registry_reads(stack.metrics["dopa"])
            reads = [r + a - b for r, a, b in zip(reads, reads_after, reads_before, strict=True)]
            before = _cpu_seconds([stack.processes["dopa"].pid])
            direct_rounds.append(await _drive("direct", straight, ids, args.calls, args.concurrency))
            direct_cpu += _cpu_seconds([stack.processes["dopa"].pid]) - before
            reads_before = await _registry_reads(stack.metrics["dopa"])
        hub_one = await _drive("hub", via_hub, ids, 500, 1)
        direct_one = await _drive("direct", straight, ids, 500, 1)
        each = await _each_replica(stack, home, hub_names, officer, ids) if replicas > 1 else []
        await hub_channel.close()
        await direct_channel.close()
    finally:
        await stack.stop()
    stages = await _stages(home, ids[0])
    storage = "PostgreSQL" if settings.database else "SQLite"
    _report(_merge(hub_rounds), _merge(direct_rounds), hub_one, direct_one, args, storage)
    calls = args.rounds * args.calls
    print(f"CPU per call at {args.concurrency} in flight: hub process(es) {hub_cpu / calls * 1000:.3f} ms a printout,"
          f" the registry {direct_cpu / calls * 1000:.3f} ms a direct read ({hub_cpu / direct_cpu:.2f}x);"
          f" load average {os.getloadavg()[0]:.1f}")
    singles, batches, batched = reads
    print(f"registry calls during (a): {calls} printouts in {singles + batches:.0f} calls ({singles:.0f} GetRecord,"
          f" {batches:.0f} BatchGetRecords of {batched / batches if batches else 0:.1f} reads on average); the"
          f" registry's CPU {registry_cpu / calls * 1000:.3f} ms a printout")
    added = statistics.median(hub_one.latencies_ms) - statistics.median(direct_one.latencies_ms)
    hop = statistics.median(direct_one.latencies_ms)
    print("where the hub-added time goes, at 1 in flight (medians):")
    print(f"  hub -> provider hop (mTLS, same as a direct call)  ~{hop:.2f} ms")
    for name, ms in stages.items():
        print(f"  {name:<50}{ms:>6.2f} ms")
    print(f"  everything else (rights, JSON, scheduling)         ~{added - hop - sum(stages.values()):.2f} ms")
    for name, integrates, result in each:
        print(f"replica {name} ({'integrates the log' if integrates else 'queues for the integrator'}),"
              f" 1 in flight: p50 {result.pct(0.5):.2f} ms, p99 {result.pct(0.99):.2f} ms")


async def _each_replica(stack: Stack, home: Home, names: Sequence[str], officer: str, ids: Sequence[str],
                        ) -> list[tuple[str, bool, Result]]:
    """Each replica alone at one call in flight, and whether it integrates (its linkage_log_integrating)."""
    import aiohttp

    out = []
    for name in names:
        channel = grpc.aio.secure_channel(stack.addresses[name],
                                          pki.channel_credentials(home.ca.cert, home.client_cert(AGENCY)),
                                          options=[("grpc.ssl_target_name_override", "hub")])
        stub = hub_pb2_grpc.LinkageHubStub(channel)
        signed = (await sandbox_session(channel, home, AGENCY, officer)).secret

        async def one(subject: str, stub: hub_pb2_grpc.LinkageHubStub = stub, signed: str = signed) -> object:
            return await stub.FetchDocument(hub_pb2.FetchDocumentRequest(
                doc_type=DOC_TYPE, subject_id=subject, purpose="benchmark", officer_session=signed), timeout=30)

        await _drive("warm-up", one, ids, 50, 1)
        result = await _drive(name, one, ids, 300, 1)
        await channel.close()
        async with aiohttp.ClientSession() as session, session.get(stack.metrics[name]) as response:
            text = await response.text()
        out.append((name, "linkage_log_integrating 1.0" in text, result))
    return out


async def _registry_reads(url: str) -> tuple[float, float, float]:
    """GetRecord calls, BatchGetRecords calls and the reads in those, so far, from a registry's metrics."""
    import aiohttp
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    found = {"GetRecord": 0.0, "count": 0.0, "sum": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            method = sample.labels.get("method", "")
            if sample.name == "linkage_requests_total" and method == "ProviderService/GetRecord":
                found["GetRecord"] += sample.value
            elif sample.name.startswith("linkage_batch_size_") and method == "ProviderService/BatchGetRecords":
                found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found["GetRecord"], found["count"], found["sum"]


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc: fields 14 and 15, in clock ticks)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def _stages(home: Home, subject: str, n: int = 300) -> dict[str, float]:
    """Median cost of the hub's own steps, measured alone on this machine and disk."""
    sealer = Sealer.from_files(home.seal.cert, home.seal.key, home.ca.cert)
    payload = {name: subject for name in PRINTOUT_FIELDS}
    seal_ms = []
    for _ in range(n):
        t = time.perf_counter()
        sealer.seal(payload)
        seal_ms.append((time.perf_counter() - t) * 1000)
    log_ms = []
    with tempfile.TemporaryDirectory(prefix="linkage-bench-log-", dir=home.data) as tmp:
        log = ExchangeLog(Path(tmp) / "log.sqlite", b"k" * 32, NoteSigner("bench", Ed25519PrivateKey.generate()),
                          "bench")
        for i in range(n):
            entry = LogEntry(str(i), DOC_TYPE, "dopa", AGENCY, "", "bench", "", "", "", "")
            t = time.perf_counter()
            await log.append(entry)
            log_ms.append((time.perf_counter() - t) * 1000)
        await log.close()
    return {"seal (JWS ES256)": statistics.median(seal_ms),
            "durable log commit + tree + checkpoint (fsync)": statistics.median(log_ms)}


def _report(hub: Result, direct: Result, hub_one: Result, direct_one: Result, args: argparse.Namespace,
            storage: str) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"linkage bench — {os.cpu_count()} cores, {cpu}, Python {platform.python_version()},"
          f" grpcio {grpc.__version__}")
    print(f"{args.rounds} alternating rounds of {args.calls} calls, {args.concurrency} in flight,"
          f" doc_type {DOC_TYPE}; {args.replicas} hub replica(s), log and registries on {storage}")
    print(f"{'':<28}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for label, r in ((f"(a) hub, {args.concurrency} in flight", hub),
                     (f"(b) direct, {args.concurrency} in flight", direct),
                     ("(a) hub, 1 in flight", hub_one), ("(b) direct, 1 in flight", direct_one)):
        print(f"{label:<28}{r.throughput:>10.0f}{r.pct(0.5):>10.2f}{r.pct(0.99):>10.2f}")
    ratio = hub.throughput / direct.throughput
    added = statistics.median(hub_one.latencies_ms) - statistics.median(direct_one.latencies_ms)
    print(f"ratio a/b (throughput): {ratio:.2f}   (target >= 0.40, goal >= 0.50;"
          " bare grpc.aio relay 0.44, X-Road ~0.11)")
    print(f"hub-added p50 at 1 in flight: {added:.2f} ms   (target <= 1 ms)")


@contextmanager
def _own_database(server: Database) -> Iterator[Database]:
    """A database of the bench's own on server's PostgreSQL, dropped afterwards."""
    name = f"linkage_bench_{uuid.uuid4().hex[:8]}"
    with pg_connect(server) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield Database(server.url.split("?", 1)[0].rsplit("/", 1)[0] + "/" + name)
    finally:
        with pg_connect(server) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_bench(args: argparse.Namespace) -> int:
    if args.replicas < 1:
        raise SandboxError("--replicas must be at least 1")
    bench: Callable[[Home, argparse.Namespace], Coroutine[Any, Any, None]] = _bench
    if getattr(args, "workers", ""):  # 1, 2, 4 … hub processes on one port instead (linkage/cli/benchworkers.py)
        from linkage.cli.benchworkers import bench_workers, worker_counts

        counts = worker_counts(args.workers)

        def bench(home: Home, a: argparse.Namespace) -> Coroutine[Any, Any, None]:
            return bench_workers(home, a, counts)
    if args.home and not args.fresh:
        from linkage.cli.background import running_pid

        home = Home(Path(args.home).resolve())
        if (pid := running_pid(home)) is not None:
            raise SandboxError(f"the sandbox in {home.root} is running (linkage up, pid {pid}): stop it first"
                               f" (linkage down --home {home.root}), or bench a fresh one with --fresh")
        asyncio.run(bench(home, args))
        return 0
    server = parse_database(args.database)
    with tempfile.TemporaryDirectory(prefix="linkage-bench-") as tmp:
        if server is None:
            asyncio.run(bench(init(Path(tmp), citizens=args.citizens), args))
            return 0
        with _own_database(server) as database:
            asyncio.run(bench(init(Path(tmp), citizens=args.citizens, database=database), args))
    return 0
