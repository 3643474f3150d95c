"""Replay a month of synthetic cases into a sandbox's counter, so its reports have something to show.

    python scripts/replay_month.py [--home DIR] [--year 2026] [--month 11] [--seed 1] [--per-day 6]

Writes into the counter's file, DIR/data/counter.sqlite (LINKAGE_COUNTER_DATABASE if set), every row a month of
cases makes (consumers/counter/replay.py: report rows, tracking timelines, queue tickets, ratings), numbered
SIM-<BE year>-<n> apart from real cases; one transaction, so a failure writes nothing. Then open /reports/cut
for that month. Replaying the same month twice is refused (the case numbers exist already).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.replay import month, write
from consumers.counter.settings import DEFAULT_AGENCY
from consumers.counter.store import CounterStore
from linkage.config import Home, load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=os.environ.get("LINKAGE_HOME", str(Path.home() / ".linkage")))
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--month", type=int, default=11)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-day", type=float, default=6.0)
    args = parser.parse_args()
    home = Home(Path(args.home).expanduser())
    agency = os.environ.get("LINKAGE_COUNTER_AGENCY", DEFAULT_AGENCY)
    officer = min(load_settings(home).agencies[agency].officers)
    path = Path(os.environ.get("LINKAGE_COUNTER_DATABASE") or home.data / "counter.sqlite")
    cases = month(load_manuals(DEFAULT_FOLDER), args.year, args.month, args.seed, args.per_day)
    store = CounterStore(path)
    try:
        write(store, cases, agency, officer)
    except sqlite3.IntegrityError:
        print(f"{path}: cases of {args.year}-{args.month:02d} were replayed already; nothing written", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{path}: {len(cases)} cases of {args.year}-{args.month:02d} replayed;"
          f" see /reports/cut?since={args.year}-{args.month:02d}-01")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
