"""How long the `linkage` command takes as a whole process: `linkage --help` and `linkage verify BUNDLE --offline`.

    python scripts/bench_cli.py BUNDLE [--home DIR] [-n N]

Runs each command N times (``python -m linkage.cli``, as the console script does) and prints the median and
the range of its wall time and of its CPU time (user + system, from ``os.wait4``: less sensitive than the wall
time to other work on the machine), with the load average. BUNDLE is a printout bundle (``linkage fetch --out``)
of the sandbox in --home. Set PYTHONPATH to a checkout to measure that one instead of this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _once(command: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--home", default=os.environ.get("LINKAGE_HOME"))
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    linkage = [sys.executable, "-m", "linkage.cli"]
    home = ["--home", args.home] if args.home else []
    for name, command in (("linkage --help", [*linkage, "--help"]),
                          ("linkage verify BUNDLE --offline", [*linkage, "verify", args.bundle, *home, "--offline"])):
        _once(command)  # warm the page cache
        runs = [_once(command) for _ in range(args.n)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{name:<34} wall p50 {statistics.median(walls):6.0f} ms ({min(walls):.0f}-{max(walls):.0f}),"
              f" CPU p50 {statistics.median(cpus):6.0f} ms ({min(cpus):.0f}-{max(cpus):.0f});"
              f" load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
