"""Failover of hub replicas: kill -9 the one that integrates the log, under load, again and again; time the takeover.

    python scripts/failover.py [--database postgresql://USER@HOST:PORT/DBNAME] [--kills 8] [--workers 4]
                               [--citizens 200]

Starts the sandbox as a user does, ``linkage up --replicas 2 --database …`` (in a database made
for the run on that server, dropped afterwards), and calls both replicas as one agency: each call
goes to one replica in turn, and a call that fails is sent once to the other. For each kill it
finds the integrator by the application_name of the PostgreSQL connection that holds the log's
advisory lock (``linkage-log-PID``), kills that process with SIGKILL, and prints:

  lock     from the kill until the survivor's connection holds the lock (polled every 2 ms);
  answer   from the kill until the survivor answers the first call asked after the kill;
  slowest  the slowest call to the survivor that was in flight at the kill;
  back     from the kill until `linkage up` has started the killed replica again and it listens;
  failed   calls to the survivor that failed during the round (expected: none);
  lost     calls that failed on both replicas (at most those in flight on the killed one).

At the end it checks that every answered printout is in the log exactly once, at the index its
client was told, counts the entries whose answer died with a killed replica, and prints the
takeover times' spread. Exits 1 when a check fails. The harness is tests.failover;
``tests/storage/test_up_failover.py`` runs one kill of it with the checks of the design.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backends import DEFAULT_SERVER, database_on
from tests.failover import Kill, Load, kill_integrator, logged, sandbox_up

__all__ = ["main"]


async def run(home: Path, database: str, kills: int, workers: int, citizens: int) -> int:
    rows: list[Kill] = []
    async with sandbox_up(home, database, home.parent / "up.stderr", citizens), Load.from_home(home) as load:
        load.start(workers)
        print(f"{'kill':>4} {'victim':>6} {'lock ms':>8} {'answer ms':>9} {'slowest ms':>10} {'back s':>6}"
              f" {'failed':>6} {'lost':>4}", flush=True)
        for k in range(1, kills + 1):
            row = await kill_integrator(home, database, load)
            rows.append(row)
            print(f"{k:>4} {row.victim:>6} {row.lock_s * 1000:>8.0f} {row.answer_s * 1000:>9.0f}"
                  f" {row.slowest_s * 1000:>10.0f} {row.back_s:>6.1f} {row.failed:>6} {row.lost:>4}", flush=True)
    answered = [c for c in load.calls if c.printout_id]
    entries = logged(database)
    wrong = [c for c in answered if entries.get(c.printout_id) != [c.index]]
    for name, values in (("lock", [r.lock_s for r in rows]), ("answer", [r.answer_s for r in rows])):
        print(f"{name}: median {statistics.median(values) * 1000:.0f} ms, min {min(values) * 1000:.0f} ms,"
              f" max {max(values) * 1000:.0f} ms over {len(values)} kills")
    failed = sum(r.failed for r in rows)
    orphans = len(entries.keys() - {c.printout_id for c in answered})
    print(f"{len(load.calls)} calls, {len(answered)} answered; calls to the survivor that failed: {failed};"
          f" lost on both replicas: {sum(r.lost for r in rows)}; answered but not logged once where told:"
          f" {len(wrong)}; logged but never answered (the answer died with the killed replica): {orphans}")
    return 1 if wrong or failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", default=os.environ.get("LINKAGE_TEST_DATABASE", DEFAULT_SERVER),
                        help="a PostgreSQL server: the run makes a database of its own there and drops it afterwards"
                             f" (LINKAGE_TEST_DATABASE, default {DEFAULT_SERVER})")
    parser.add_argument("--kills", type=int, default=8, help="times the integrator is killed (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="calls in flight (default 4)")
    parser.add_argument("--citizens", type=int, default=200, help="citizens in the sandbox made (default 200)")
    args = parser.parse_args(argv)
    if args.kills < 1 or args.workers < 1:
        parser.error("--kills and --workers must be at least 1")
    print(f"failover: {args.kills} kills of the integrating replica, {args.workers} calls in flight;"
          f" {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()},"
          f" Python {platform.python_version()}", flush=True)
    with database_on(args.database, "linkage_failover") as database, \
            tempfile.TemporaryDirectory(prefix="linkage-failover-") as tmp:
        return asyncio.run(run(Path(tmp) / "home", database.url, args.kills, args.workers, args.citizens))


if __name__ == "__main__":
    sys.exit(main())
