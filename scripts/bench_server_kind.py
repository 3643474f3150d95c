"""Which server kind for the hub's relay: grpc.aio or a thread-pool grpc.server?

Self-contained; run with the project's venv:

    python scripts/bench_server_kind.py [--calls N] [--rounds R] [--calls-one M] [--warmup W]

Three kinds of process, each started with multiprocessing "spawn" so that no
gRPC state is shared and the OS can give each its own core:

* provider — a grpc.aio server answering linkage.v1 ProviderService.GetRecord
  with one prebuilt small Struct (15 string fields, Thai text);
* relay    — ProviderService.GetRecord forwarded to the provider, in three
  variants, each in its own process: (1) grpc.aio server whose handler awaits
  a call on one grpc.aio channel; (2, 3) grpc.server(ThreadPoolExecutor(N))
  whose handler makes a blocking call on one sync channel, N = 16 and 64;
* load client — this process: grpc.aio, one channel per target.

Targets (direct, aio relay, thread-pool relays) are measured in alternating
rounds, at 64 calls in flight and at 1 in flight, after a warm-up, so that
drift of the machine hits all alike; a round makes --calls calls per target at
64 in flight and --calls-one (default calls/3: latency needs fewer samples) at 1.
Throughput is the median over rounds, "spread" is (max - min) / median of the
rounds; p50/p99 are over every call of every round. CPU per call of the
provider and relay processes comes from /proc (Linux), as does the CPU that
other processes on the machine used meanwhile. Channels are insecure: this isolates
the server kind; TLS and the full hub are measured by `linkage bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linkage.v1 import provider_pb2, provider_pb2_grpc

DOC_TYPE = "dopa.person"
SUBJECT_ID = "3100601234567"
RPC_TIMEOUT_S = 30.0
HIGH = 64
THREAD_POOLS = (16, 64)

# ~15 string fields, Thai text, roughly the size of a dopa.person record.
RECORD: dict[str, str] = {
    "personal_id": SUBJECT_ID,
    "title_th": "นาย",
    "first_name_th": "สมชาย",
    "middle_name_th": "",
    "last_name_th": "ใจดีมีสุข",
    "title_en": "Mr.",
    "first_name_en": "Somchai",
    "last_name_en": "Jaidee-meesuk",
    "birth_date": "25300415",
    "gender": "ชาย",
    "nationality": "ไทย",
    "house_no": "99/12 หมู่ 4",
    "subdistrict": "ในเวียง",
    "district": "เมืองแพร่",
    "province": "แพร่",
}


# --------------------------------------------------------------------------- child processes


def _response() -> provider_pb2.GetRecordResponse:
    data = struct_pb2.Struct()
    data.update(RECORD)
    return provider_pb2.GetRecordResponse(doc_type=DOC_TYPE, subject_id=SUBJECT_ID, data=data)


class _GetRecordOnly(provider_pb2_grpc.ProviderServiceServicer):
    """Only GetRecord is measured; the other methods are not served (they raise, so callers get UNKNOWN)."""

    def Describe(self, request: provider_pb2.DescribeRequest, context: Any) -> provider_pb2.DescribeResponse:
        raise NotImplementedError("not part of this benchmark")

    def CheckCard(self, request: provider_pb2.CheckCardRequest, context: Any) -> provider_pb2.CheckCardResponse:
        raise NotImplementedError("not part of this benchmark")

    def CheckPresence(self, request: provider_pb2.CheckPresenceRequest,
                      context: Any) -> provider_pb2.CheckPresenceResponse:
        raise NotImplementedError("not part of this benchmark")

    def BatchGetRecords(self, request: provider_pb2.BatchGetRecordsRequest,
                        context: Any) -> provider_pb2.BatchGetRecordsResponse:
        raise NotImplementedError("not part of this benchmark")


class _Provider(_GetRecordOnly):
    def __init__(self) -> None:
        self._response = _response()

    async def GetRecord(self, request: provider_pb2.GetRecordRequest,
                        context: grpc.aio.ServicerContext) -> provider_pb2.GetRecordResponse:
        return self._response


class _AioRelay(_GetRecordOnly):
    def __init__(self, upstream: str) -> None:
        self._channel = grpc.aio.insecure_channel(upstream)
        self._stub = provider_pb2_grpc.ProviderServiceStub(self._channel)

    async def GetRecord(self, request: provider_pb2.GetRecordRequest,
                        context: grpc.aio.ServicerContext) -> provider_pb2.GetRecordResponse:
        response: provider_pb2.GetRecordResponse = await self._stub.GetRecord(request, timeout=RPC_TIMEOUT_S)
        return response


class _ThreadRelay(_GetRecordOnly):
    def __init__(self, upstream: str) -> None:
        self._channel = grpc.insecure_channel(upstream)
        self._stub = provider_pb2_grpc.ProviderServiceStub(self._channel)

    def GetRecord(self, request: provider_pb2.GetRecordRequest,
                  context: grpc.ServicerContext) -> provider_pb2.GetRecordResponse:
        response: provider_pb2.GetRecordResponse = self._stub.GetRecord(request, timeout=RPC_TIMEOUT_S)
        return response


async def _serve_aio(make_servicer: Callable[[], provider_pb2_grpc.ProviderServiceServicer], conn: Connection,
                     stop: MpEvent) -> None:
    # The servicer is built inside the running loop: an aio channel binds to the loop it is created on.
    server = grpc.aio.server()
    provider_pb2_grpc.add_ProviderServiceServicer_to_server(make_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    conn.send((port, os.getpid()))
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    await server.stop(0)


def provider_main(conn: Connection, stop: MpEvent) -> None:
    asyncio.run(_serve_aio(_Provider, conn, stop))


def relay_main(kind: str, upstream: str, conn: Connection, stop: MpEvent) -> None:
    """kind is "aio" or "threads:N"."""
    if kind == "aio":
        asyncio.run(_serve_aio(lambda: _AioRelay(upstream), conn, stop))
        return
    workers = int(kind.split(":", 1)[1])
    server = grpc.server(ThreadPoolExecutor(max_workers=workers))
    provider_pb2_grpc.add_ProviderServiceServicer_to_server(_ThreadRelay(upstream), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send((port, os.getpid()))
    stop.wait()
    server.stop(0).wait()


@dataclass
class _Child:
    name: str
    process: mp.process.BaseProcess
    port: int
    pid: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def _start(ctx: Any, name: str, target: Callable[..., None], args: tuple[Any, ...], stop: MpEvent) -> _Child:
    parent_end, child_end = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(*args, child_end, stop), name=name, daemon=True)
    process.start()
    child_end.close()
    if not parent_end.poll(60):
        process.terminate()
        raise RuntimeError(f"{name} did not start")
    port, pid = parent_end.recv()
    parent_end.close()
    return _Child(name, process, port, pid)


def _machine_seconds() -> tuple[float, float]:
    """(busy, steal): CPU time, all cores, the machine spent running anything and what the hypervisor
    stole, from /proc/stat; zeros without /proc."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except OSError:
        return 0.0, 0.0
    ticks += [0] * (8 - len(ticks))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _client_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _own_seconds(children: Sequence[_Child]) -> float:
    return _client_seconds() + sum(_cpu_seconds(c.pid) for c in children)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc; 0.0 where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- load client


@dataclass
class Series:
    """All rounds of one target at one number of calls in flight."""

    calls_per_s: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    calls: int = 0

    def throughput(self) -> float:
        return statistics.median(self.calls_per_s)

    def spread(self) -> float:
        return (max(self.calls_per_s) - min(self.calls_per_s)) / self.throughput()

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def cpu_us_per_call(self, name: str) -> float:
        return 1e6 * self.cpu_s.get(name, 0.0) / self.calls if self.calls else 0.0


async def _drive(stub: provider_pb2_grpc.ProviderServiceStub, calls: int, in_flight: int) -> tuple[float, list[float]]:
    request = provider_pb2.GetRecordRequest(doc_type=DOC_TYPE, subject_id=SUBJECT_ID)
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            await stub.GetRecord(request, timeout=RPC_TIMEOUT_S)
            latencies.append((time.perf_counter() - t0) * 1e3)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, calls))))
    return calls / (time.perf_counter() - start), latencies


async def _measure(targets: dict[str, str], watched: Sequence[_Child], calls: int, calls_one: int, rounds: int,
                   warmup: int) -> dict[tuple[str, int], Series]:
    channels = {name: grpc.aio.insecure_channel(address) for name, address in targets.items()}
    stubs = {name: provider_pb2_grpc.ProviderServiceStub(ch) for name, ch in channels.items()}
    results: dict[tuple[str, int], Series] = {}
    try:
        for stub in stubs.values():
            await _drive(stub, warmup, HIGH)
            await _drive(stub, warmup // 10, 1)
        for r in range(rounds):
            for in_flight, n in ((HIGH, calls), (1, calls_one)):
                # Rotate the order each round so no target always runs first.
                names = list(stubs)
                names = names[r % len(names):] + names[:r % len(names)]
                for name in names:
                    before = {c.name: _cpu_seconds(c.pid) for c in watched} | {"client": _client_seconds()}
                    rate, latencies = await _drive(stubs[name], n, in_flight)
                    after = {c.name: _cpu_seconds(c.pid) for c in watched} | {"client": _client_seconds()}
                    series = results.setdefault((name, in_flight), Series())
                    series.calls_per_s.append(rate)
                    series.latencies_ms.extend(latencies)
                    series.calls += n
                    for key in after:
                        series.cpu_s[key] = series.cpu_s.get(key, 0.0) + after[key] - before[key]
    finally:
        for ch in channels.values():
            await ch.close()
    return results


# --------------------------------------------------------------------------- report


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _report(results: dict[tuple[str, int], Series], relays: dict[str, _Child], args: argparse.Namespace,
            seconds: float, load: tuple[str, str], other: tuple[float, float, float]) -> None:
    from google.protobuf.internal import api_implementation

    print(f"bench_server_kind — {os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()},"
          f" grpcio {grpc.__version__}, protobuf {api_implementation.Type()}")
    print(f"{args.rounds} alternating rounds; per round and target {args.calls} calls at {HIGH} in flight,"
          f" {args.calls_one} at 1 in flight; warm-up {args.warmup}; insecure channels (TLS: see `linkage bench`)")
    print("processes: load client (this, grpc.aio, one channel per target), provider (grpc.aio), one per relay")
    print()
    print("CPU µs/call: user+system CPU time of that process per call (relay, provider, load client)")
    print()
    header = (f"{'target':<20}{'in flight':>10}{'calls/s':>9}{'spread':>8}{'p50 ms':>8}{'p99 ms':>8}"
              f"{'relay/direct':>14}{'CPU µs/call: relay':>20}{'provider':>10}{'client':>8}")
    print(header)
    print("-" * len(header))
    for in_flight in (HIGH, 1):
        direct = results[("direct", in_flight)]
        for name in ("direct", *relays):
            s = results[(name, in_flight)]
            if name == "direct":
                ratio, relay_cpu = "", ""
            else:
                # Throughput ratio; at 1 in flight, also direct p50 / relay p50 reads the same way (higher = better).
                ratio = f"{s.throughput() / direct.throughput():.2f}"
                relay_cpu = f"{s.cpu_us_per_call(name):.0f}"
            print(f"{name:<20}{in_flight:>10}{s.throughput():>9.0f}{s.spread():>8.0%}{s.pct(0.5):>8.2f}"
                  f"{s.pct(0.99):>8.2f}"
                  f"{ratio:>14}{relay_cpu:>20}{s.cpu_us_per_call('provider'):>10.0f}{s.cpu_us_per_call('client'):>8.0f}")
        print()
    print("relay-added p50 at 1 in flight: " + ", ".join(
        f"{name} {results[(name, 1)].pct(0.5) - results[('direct', 1)].pct(0.5):+.2f} ms" for name in relays))
    print("relay/direct = calls/s through the relay ÷ calls/s direct, same in-flight count.")
    others, steal, measured = other
    print(f"run took {seconds:.0f} s; load average (1/5/15 min) before {load[0]}, after {load[1]}")
    print(f"while measuring ({measured:.0f} s): other processes and kernel used {others:.1f} CPU-s"
          f" ({others / measured:.0%} of one core), hypervisor steal {steal:.1f} CPU-s ({steal / measured:.0%});"
          " such load skews absolute figures more than the ratios")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=3000, help="calls per target per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--calls-one", type=int, default=None,
                        help="calls per target per round at 1 in flight (default calls/3)")
    parser.add_argument("--warmup", type=int, default=1000, help="warm-up calls per target (default 1000)")
    args = parser.parse_args(argv)
    if args.calls_one is None:
        args.calls_one = max(1, args.calls // 3)
    calls_one: int = args.calls_one
    if args.calls < 1 or calls_one < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--calls, --calls-one and --rounds must be >= 1, --warmup >= 0")

    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    stop_provider, stop_relays = ctx.Event(), ctx.Event()
    load_before = _loadavg()
    children: list[_Child] = []
    try:
        provider = _start(ctx, "provider", provider_main, (), stop_provider)
        children.append(provider)
        relays: dict[str, _Child] = {}
        for kind, name in [("aio", "relay grpc.aio"), *((f"threads:{n}", f"relay threads({n})") for n in THREAD_POOLS)]:
            relays[name] = _start(ctx, name, relay_main, (kind, provider.address), stop_relays)
            children.append(relays[name])
        targets = {"direct": provider.address} | {name: c.address for name, c in relays.items()}
        (busy0, steal0), own0, t0 = _machine_seconds(), _own_seconds(children), time.perf_counter()
        results = asyncio.run(_measure(targets, children, args.calls, calls_one, args.rounds, args.warmup))
        (busy1, steal1), own1 = _machine_seconds(), _own_seconds(children)
        other = (max(0.0, busy1 - busy0 - (own1 - own0)), steal1 - steal0, time.perf_counter() - t0)
    finally:
        # Relays first, so that none sees its upstream go away.
        stop_relays.set()
        for c in reversed(children):
            if c.name == "provider":
                stop_provider.set()
            c.process.join(10)
            if c.process.is_alive():
                c.process.terminate()
                c.process.join(5)
    _report(results, relays, args, time.perf_counter() - started, (load_before, _loadavg()), other)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
