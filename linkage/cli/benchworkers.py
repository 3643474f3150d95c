"""`linkage bench --workers 1,2,4`: hub throughput with 1, 2, 4 … hub processes on one port (SO_REUSEPORT).

For each count, a stack of its own (`start_stack(workers=N)`, log and registries on PostgreSQL), warmed up,
then ``rounds`` rounds of ``calls`` FetchDocument calls with ``concurrency`` in flight, spread over
CHANNELS connections: the kernel hands each new connection to one of the processes on the port, so a
single connection would reach a single worker. Prints calls/s, p50, p99, the hub processes' CPU per call,
each worker's share of it and the load average beside each row (docs/benchmarks.md "Hub workers").
"""

from __future__ import annotations

import argparse
import os
import random

import grpc

from linkage import pki
from linkage.cli.bench import AGENCY, DOC_TYPE, _citizen_ids, _cpu_seconds, _drive, _merge
from linkage.cli.officers import sandbox_session
from linkage.cli.sandbox import SandboxError
from linkage.cli.stack import start_stack
from linkage.config import Home, load_settings
from linkage.v1 import hub_pb2, hub_pb2_grpc

__all__ = ["CHANNELS", "bench_workers", "worker_counts"]

CHANNELS = 16
"""Connections the bench opens to the hub's port (each its own TCP connection: no shared subchannel)."""


def worker_counts(text: str) -> list[int]:
    """``1,2,4`` → [1, 2, 4]. Raises SandboxError saying what would be right."""
    try:
        counts = [int(word) for word in text.split(",") if word.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise SandboxError(f"--workers takes counts of hub processes, each at least 1, e.g. 1,2,4; got {text!r}")
    return counts


async def bench_workers(home: Home, args: argparse.Namespace, counts: list[int]) -> None:
    settings = load_settings(home)
    if settings.database is None:
        raise SandboxError("--workers needs --database postgresql://…: hub processes on one port share their"
                           " exchange log only on PostgreSQL")
    ids = _citizen_ids(home, settings.database)
    random.Random(7).shuffle(ids)
    officer = sorted(settings.agencies[AGENCY].officers)[0]
    print(f"linkage bench --workers — {os.cpu_count()} cores, grpcio {grpc.__version__}; {args.rounds} rounds of"
          f" {args.calls} calls, {args.concurrency} in flight over {CHANNELS} connections, doc_type {DOC_TYPE},"
          f" log on PostgreSQL")
    print(f"{'workers':<9}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'hub CPU ms/call':>17}  {'share per worker':<28}"
          "load avg")
    for count in counts:
        stack = await start_stack(settings, workers=count, any_port=True)
        try:
            names = ["hub", *(f"hub/{w}" for w in range(2, count + 1))]
            channels = [grpc.aio.secure_channel(
                stack.addresses["hub"], pki.channel_credentials(home.ca.cert, home.client_cert(AGENCY)),
                options=[("grpc.ssl_target_name_override", "hub"), ("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CHANNELS)]
            stubs = [hub_pb2_grpc.LinkageHubStub(c) for c in channels]
            # The officer signs in with their sandbox card on each connection (each reaches one hub process).
            signed = [(await sandbox_session(c, home, AGENCY, officer)).secret for c in channels]
            turn = 0

            async def via_hub(subject: str, stubs: list[hub_pb2_grpc.LinkageHubStub] = stubs,
                              signed: list[str] = signed) -> object:
                nonlocal turn
                turn += 1
                return await stubs[turn % len(stubs)].FetchDocument(hub_pb2.FetchDocumentRequest(
                    doc_type=DOC_TYPE, subject_id=subject, purpose="benchmark",
                    officer_session=signed[turn % len(stubs)]), timeout=30)

            await _drive("warm-up", via_hub, ids, 500, args.concurrency)
            pids = [stack.processes[n].pid for n in names]
            before = [_cpu_seconds([pid]) for pid in pids]
            rounds = [await _drive("hub", via_hub, ids, args.calls, args.concurrency) for _ in range(args.rounds)]
            used = [_cpu_seconds([pid]) - b for pid, b in zip(pids, before, strict=True)]
            for channel in channels:
                await channel.close()
        finally:
            await stack.stop()
        r = _merge(rounds)
        share = " / ".join(f"{u / (sum(used) or 1):.2f}" for u in used)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        per_call = sum(used) / r.calls * 1000
        print(f"{count:<9}{r.throughput:>10.0f}{r.pct(0.5):>9.2f}{r.pct(0.99):>9.2f}{per_call:>17.2f}"
              f"  {share:<28}{load}", flush=True)
