#!/usr/bin/env python3
"""Benchmark the exchange log on each backend: durable appends per second, and proof times at a million entries.

    .venv/bin/python scripts/bench_log.py [--backend sqlite|postgresql|both] [--database postgresql://…]
                                          [--entries 1000000] [--appends 40000] [--concurrency 1000]

For each backend, on a fresh log (a temporary SQLite file; a schema of its own on PostgreSQL,
dropped afterwards):

1. durable appends/s: --appends entries appended with --concurrency in flight, every one committed
   (group commit, fsync / WAL flush) with its inclusion proof before it returns; then the p50 of
   one append alone (one commit per entry). Target: >= 20 000/s.
2. the log is filled to --entries, then inclusion proofs of random entries and consistency proofs
   from random older sizes are asked for, one at a time, through ExchangeLog's own methods (one
   query for the nodes a proof needs). Target: <= 1 ms each (p50; p99 shown).

The PostgreSQL server comes from --database, LINKAGE_DATABASE or postgresql://postgres@127.0.0.1:5432/test.
A million entries take about a minute per backend and ~0.6 GB of disk (SQLite) or of the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import merkle
from linkage.checkpoint import NoteSigner
from linkage.hub.log import ExchangeLog, LogEntry
from linkage.storage import Database, parse_database

ORIGIN = "bench.linkage/exchange-log"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Figures:
    backend: str
    appends_per_s: float = 0.0
    batch_mean: float = 0.0
    append_p50_ms: float = 0.0
    append_p99_ms: float = 0.0
    alone_p50_ms: float = 0.0
    fill_s: float = 0.0
    size: int = 0
    inclusion_ms: list[float] = field(default_factory=list)
    consistency_ms: list[float] = field(default_factory=list)


def _entry(n: int) -> LogEntry:
    # A printout's leaf as the hub writes it: ids, names of agency and officer, purpose, time, digests.
    return LogEntry(str(uuid.UUID(int=n)), "dopa.person", "TH/GOV/DOPA/civil-registry", "phrae-municipality",
                    "3540100012345", "ขึ้นทะเบียนผู้สูงอายุ", f"PHR-2569-{n:07d}", "2026-01-15T03:00:00.000Z",
                    f"{n:064x}", f"{n * 7919:064x}")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _appends(log: ExchangeLog, start: int, count: int, concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    sizes: set[int] = set()
    next_n = start

    async def worker() -> None:
        nonlocal next_n
        while next_n < start + count:
            n = next_n
            next_n += 1
            t = time.perf_counter()
            done = await log.append(_entry(n))
            latencies.append((time.perf_counter() - t) * 1000)
            sizes.add(done.tree.checkpoint.size)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, len(sizes)


async def _fill(log: ExchangeLog, entries: int) -> None:
    chunk = 20_000
    last = time.monotonic()
    while log.size < entries:
        n = log.size
        await asyncio.gather(*(log.append(_entry(i)) for i in range(n, min(entries, n + chunk))))
        if time.monotonic() - last > 5:
            last = time.monotonic()
            print(f"    filled {log.size:,}/{entries:,}", file=sys.stderr, flush=True)


async def _bench(name: str, where: Path | Database, args: argparse.Namespace) -> Figures:
    figures = Figures(name)
    log = ExchangeLog(where, os.urandom(32), NoteSigner(ORIGIN, Ed25519PrivateKey.generate()), ORIGIN)
    try:
        print(f"[{name}] {args.appends:,} appends, {args.concurrency} in flight", file=sys.stderr, flush=True)
        await _appends(log, 0, 2000, args.concurrency)  # warm-up: connections, prepared statements
        elapsed, latencies, commits = await _appends(log, log.size, args.appends, args.concurrency)
        figures.appends_per_s = args.appends / elapsed
        figures.batch_mean = args.appends / commits
        figures.append_p50_ms, figures.append_p99_ms = _pct(latencies, 0.5), _pct(latencies, 0.99)
        _, alone, _ = await _appends(log, log.size, 200, 1)
        figures.alone_p50_ms = statistics.median(alone)
        print(f"[{name}] filling to {args.entries:,}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        await _fill(log, args.entries)
        figures.fill_s = time.perf_counter() - t
        size = figures.size = log.size
        root = log.latest.checkpoint.root_hash
        rng = random.Random(1)
        for _ in range(args.proofs):
            index = rng.randrange(size)
            t = time.perf_counter()
            proof = await log.inclusion_proof(index, size)
            figures.inclusion_ms.append((time.perf_counter() - t) * 1000)
            if len(figures.inclusion_ms) <= 20:  # a few are checked: a fast wrong proof is no result
                leaf = (await log.entries(index, index + 1))[0][1]
                merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, proof, root)
        for _ in range(args.proofs):
            old = rng.randrange(1, size)
            t = time.perf_counter()
            await log.consistency_proof(old, size)
            figures.consistency_ms.append((time.perf_counter() - t) * 1000)
    finally:
        await log.close()
    return figures


def _report(all_figures: list[Figures], args: argparse.Namespace) -> None:
    print(f"exchange log benchmark — {os.cpu_count()} cores, {platform.machine()}, Python"
          f" {platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"appends: {args.appends:,} with {args.concurrency} in flight, each durable with its proof;"
          f" proofs: {args.proofs:,} of each kind at {args.entries:,} entries, one at a time")
    print(f"{'':<12}{'appends/s':>11}{'per commit':>12}{'p50 ms':>9}{'p99 ms':>9}{'alone ms':>10}"
          f"{'incl p50':>10}{'incl p99':>10}{'cons p50':>10}{'cons p99':>10}")
    for f in all_figures:
        print(f"{f.backend:<12}{f.appends_per_s:>11,.0f}{f.batch_mean:>12.0f}{f.append_p50_ms:>9.1f}"
              f"{f.append_p99_ms:>9.1f}{f.alone_p50_ms:>10.2f}{_pct(f.inclusion_ms, 0.5):>10.3f}"
              f"{_pct(f.inclusion_ms, 0.99):>10.3f}{_pct(f.consistency_ms, 0.5):>10.3f}"
              f"{_pct(f.consistency_ms, 0.99):>10.3f}")
    for f in all_figures:
        ok_rate = "met" if f.appends_per_s >= 20_000 else "NOT met"
        ok_proof = "met" if max(_pct(f.inclusion_ms, 0.5), _pct(f.consistency_ms, 0.5)) <= 1.0 else "NOT met"
        print(f"{f.backend}: >= 20 000 appends/s {ok_rate}; proofs <= 1 ms at {f.size:,} entries {ok_proof}"
              f" (filled in {f.fill_s:.0f} s)")


def _drop(database: Database) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(database.schema("log"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE") or DEFAULT_SERVER,
                        help=f"PostgreSQL server (LINKAGE_DATABASE, default {DEFAULT_SERVER})")
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size for the proofs (default 1000000)")
    parser.add_argument("--appends", type=int, default=40_000, help="appends timed (default 40000)")
    parser.add_argument("--concurrency", type=int, default=1000, help="appends in flight (default 1000)")
    parser.add_argument("--proofs", type=int, default=2000, help="proofs of each kind timed (default 2000)")
    parser.add_argument("--dir", default=None, help="folder for the SQLite file (default: a temporary one)")
    args = parser.parse_args(argv)
    if min(args.entries, args.appends, args.concurrency, args.proofs) < 1:
        parser.error("--entries, --appends, --concurrency and --proofs must be at least 1")
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="linkage-bench-log-", dir=args.dir) as tmp:
            results.append(asyncio.run(_bench("sqlite", Path(tmp) / "exchange-log.sqlite", args)))
    if args.backend in ("postgresql", "both"):
        server = parse_database(args.database)
        if server is None:
            parser.error("--database must be a postgresql:// URL for the PostgreSQL run")
        database = Database(server.url, namespace=f"bench_{uuid.uuid4().hex[:8]}")
        try:
            results.append(asyncio.run(_bench("postgresql", database, args)))
        finally:
            _drop(database)
    _report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
