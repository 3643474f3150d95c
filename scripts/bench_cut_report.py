"""The cut report for a year of cases at a busy office: how long the office head waits for it.

    python scripts/bench_cut_report.py [--cases 200000] [--runs 20] [--keep FILE]

Replays a year of synthetic cases (consumers/counter/replay.py, seeded; about ``--cases`` of them over the seven
services' open days) into a fresh counter file, then times, ``--runs`` times each: the year's report (the one
query per service and the office's weighted cut, as /reports/cut computes them), one month's, and the chart
(matplotlib SVG; its first draw, which imports matplotlib, is timed apart). Prints p50 / p95 / max in ms and the
load average (the VM is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.counter.charts import cut_chart
from consumers.counter.cut import measure, office_cut
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.replay import month, write
from consumers.counter.store import CounterStore


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def _line(what: str, ms: list[float]) -> str:
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{what:<28} p50 {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   max {ms[-1]:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="write the counter file here instead of a temporary folder")
    args = parser.parse_args()
    manuals = load_manuals(DEFAULT_FOLDER)
    # ~247 open days a year, 7 services; randint(0, 2 per_day) averages per_day.
    per_day = args.cases / (247 * len(manuals))
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "counter.sqlite"
        store = CounterStore(path)
        started = time.perf_counter()
        total = 0
        for m in range(1, 13):
            cases = month(manuals, 2026, m, seed=m, per_day=per_day, first=total + 1)
            write(store, cases, "phrae-municipality", "3100600213459")
            total += len(cases)
        print(f"replayed {total} cases of 2026 in {time.perf_counter() - started:.1f} s")
        names = {m.id: m.name_th for m in manuals.values()}

        def year() -> None:
            office_cut(measure(store, manuals, "2026-01-01", "2026-12-31"))

        def one_month() -> None:
            office_cut(measure(store, manuals, "2026-11-01", "2026-11-30"))

        cuts = measure(store, manuals, "2026-01-01", "2026-12-31")
        first = _times(lambda: cut_chart(cuts, names, "th"), 1)
        print(_line("year report (200k)" if args.cases == 200_000 else "year report", _times(year, args.runs)))
        print(_line("one month's report", _times(one_month, args.runs)))
        print(_line("chart, first (imports)", first))
        print(_line("chart", _times(lambda: cut_chart(cuts, names, "th"), args.runs)))
        office = office_cut(cuts)
        if office is not None:
            print("office cut 2026: " + ", ".join(f"{m} {office.cut(m) or 0:.1f} %" for m in ("documents", "steps",
                                                                                               "days")))
        store.close()
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
