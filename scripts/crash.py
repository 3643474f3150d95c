"""Crash safety: kill -9 the hub, a registry or the counter in the middle of a load, restart it, prove nothing was lost.

    python scripts/crash.py [--rounds 10] [--targets hub,registry,counter] [--seconds 3] [--workers 4]
                            [--counter-workers 2] [--citizens 2000] [--home DIR] [--seed S]

The harness and the six checks it makes after every round are the package tests.crash (its
docstring says what each proves); this is its runner. Targets are cycled over the rounds:
``hub``, ``registry`` (dopa, dbd, edu in turn), a registry by name, ``counter``. Prints one row
per round and exits 1 on any violation. ``tests/test_crash.py`` runs a short version in the
default suite.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crash import REGISTRY_TARGETS, Options, add_sandbox_arguments, run, sandbox_home

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--targets", default="hub,registry,counter",
                        help="processes to kill, cycled over the rounds: hub, registry (each in turn), dopa, dbd, edu,"
                             " counter (default hub,registry,counter)")
    parser.add_argument("--seconds", type=float, default=3.0, help="load per round, seconds (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="gRPC calls in flight (default 4)")
    parser.add_argument("--counter-workers", type=int, default=2, help="officers at the counter (default 2)")
    add_sandbox_arguments(parser)
    args = parser.parse_args(argv)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    unknown = [t for t in targets if t not in ("hub", "registry", "counter", *REGISTRY_TARGETS)]
    if not targets or unknown or args.rounds < 1 or args.workers < 1 or args.counter_workers < 0 or args.seconds <= 0:
        parser.error(f"--targets: choose from hub, registry, counter, {', '.join(REGISTRY_TARGETS)}"
                     f" (got {unknown or '-'}); --rounds, --workers and --seconds must be positive")
    options = Options(rounds=args.rounds, targets=targets, seconds=args.seconds, workers=args.workers,
                      counter_workers=args.counter_workers, seed=args.seed)
    with sandbox_home(args, "linkage-crash-") as home:
        print(f"crash test: {options.rounds} rounds killing {', '.join(targets)}; {options.workers} calls in flight,"
              f" {options.counter_workers} officers; {platform.machine()}, Python {platform.python_version()}",
              flush=True)
        rows = asyncio.run(run(home, options))
    failed = [r for r in rows if r.violations]
    print("FAILED: see the violations above" if failed else
          "OK: every printout received is in the log exactly once, the log verifies against its newest checkpoint"
          " and every checkpoint seen before, every case and complaint shown is on disk, and every process came"
          " back with its data")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
