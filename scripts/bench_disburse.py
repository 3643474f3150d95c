"""A month's allowance payment run for 100 000 recipients, through a real hub and real registries.

    python scripts/bench_disburse.py [--recipients N] [--citizens N] [--concurrency C] [--home DIR]

Without --home it makes a throwaway sandbox (``linkage init``, ``--citizens`` people: by default half as many again as
the recipients) in a temporary folder; the registries, the hub and the payment switch run as ``linkage up`` runs
them, each its own process. The script writes N approved applications into a counter file of its own (the first N
Thai adults of the civil registry: the elderly allowance from 60, the disability allowance below; each
approved with the registry's own name and house, paid by PromptPay), then times ``run_month`` (every recipient
checked through the hub, ``concurrency`` at a time: ``dopa.person``, then ``promptpay.account`` for who would be
paid; the run and its batch written in one transaction) and ``send_batches`` (the batch signed and settled by the
switch). Prints the time, the rate, the calls to the hub per recipient, what was paid and why the others were not,
and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.client import HubClient
from consumers.counter.allowances.rules import load_rules, parse_month
from consumers.counter.allowances.run import run_month, send_batches
from consumers.counter.ledger import subject_hash
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.printout import CounterSigner
from consumers.counter.store import CounterStore
from linkage.cli.officers import sandbox_card
from linkage.cli.sandbox import init
from linkage.cli.stack import start_stack
from linkage.config import Home, load_settings
from linkage.payments import switch_public_key

AGENCY = "phrae-municipality"
MONTH = "2569-12"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def write_recipients(home: Home, store_path: Path, n: int, officer: str) -> int:
    """n approved allowance applications of the registry's first Thai people, straight into a counter file."""
    store = CounterStore(store_path)
    store.close()  # the schema made; the rows go in through one plain connection, in one transaction
    month_start = parse_month(MONTH).first_day
    dopa = sqlite3.connect(f"file:{home.provider_db('dopa')}?mode=ro", uri=True)
    db = sqlite3.connect(store_path, isolation_level=None)
    now = time.time()
    written = 0
    try:
        db.execute("BEGIN IMMEDIATE")
        for subject, data in dopa.execute("SELECT subject_id, data FROM record WHERE doc_type = 'dopa.person'"
                                          " ORDER BY rowid"):
            if written == n:
                break
            person = json.loads(data)
            born = person["birth_date"]
            age = month_start.year + 543 - int(born[:4]) - ((month_start.month, 1) < (int(born[4:6]), int(born[6:])))
            if person["nationality_code"] != "THA" or age < 18:
                continue
            written += 1
            service = "elderly-allowance" if age >= 60 else "disability-allowance"
            app_id, number, ref = f"bench-{written}", f"PHR-APP-2569-{written:06d}", f"PHR-2569-{written:06d}"
            db.execute("INSERT INTO application (id, number, service_id, case_ref, subject_id, lang, status, channel,"
                       " officer_id, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, 'th', 'submitted', 'counter',"
                       " ?, ?, ?)", (app_id, number, service, ref, subject, officer, "2569-06-01", "2569-06-01"))
            db.executemany("INSERT INTO application_value VALUES (?, ?, ?, ?, 'printout', 'dopa.person', ?, ?)", [
                (app_id, i, name, str(person[field] or ""), field, f"p-{written}")
                for i, (name, field) in enumerate((("title", "title"), ("first_name", "first_name_th"),
                                                   ("last_name", "last_name_th"), ("address", "address_text"),
                                                   ("house_code", "house_code")))])
            db.execute("INSERT INTO application_value VALUES (?, 5, 'payment', 'promptpay', 'citizen', '', '', '')",
                       (app_id,))
            db.execute("INSERT INTO case_track (case_ref, service_id, agency, subject_hash, recipient, status, opened,"
                       " due, updated) VALUES (?, ?, ?, ?, 'x', 'approved', ?, ?, ?)",
                       (ref, service, AGENCY, subject_hash(db, subject), now, now, now))
            db.execute("INSERT INTO case_event VALUES (?, 0, 'approved', ?, ?, '')", (ref, officer, now))
        db.execute("COMMIT")
    finally:
        db.close()
        dopa.close()
    return written


async def _bench(home: Home, recipients: int, concurrency: int, folder: Path) -> None:
    settings = load_settings(home)
    officer = sorted(settings.agencies[AGENCY].officers)[0]
    store_path = folder / "counter.sqlite"
    t0 = time.perf_counter()
    written = write_recipients(home, store_path, recipients, officer)
    print(f"{written:,} approved recipients written in {time.perf_counter() - t0:.1f} s", flush=True)
    rules = load_rules(DEFAULT_FOLDER / "allowances" / "rates.toml", load_manuals(DEFAULT_FOLDER))
    stack = await start_stack(settings, any_port=True)
    store = CounterStore(store_path)
    try:
        before = _load()
        async with HubClient.connect(stack.addresses["hub"], home.ca.cert, home.client_cert(AGENCY),
                                     timeout=60) as hub:
            signed_in = await hub.sign_in_officer(officer, sandbox_card(home, AGENCY, officer))
            report = await run_month(store, hub, rules, parse_month(MONTH), agency=AGENCY, officer_id=officer,
                                     officer_session=signed_in, concurrency=concurrency)
        during = _load()
        t1 = time.perf_counter()
        sent = await send_batches(store, parse_month(MONTH), CounterSigner.from_home(home, AGENCY),
                                  f"http://{stack.addresses['payments']}", lambda: switch_public_key(home))
        send_s = time.perf_counter() - t1
    finally:
        store.close()
        await stack.stop()
    run = report.run
    print(f"{platform.python_version()} on {os.cpu_count()} CPUs; load average (1 / 5 min) before {before},"
          f" at the end of the run {during}")
    print(f"run: {run.recipients:,} recipients in {report.seconds:,.1f} s = {run.recipients / report.seconds:,.0f}"
          f" recipients/s, concurrency {concurrency}")
    print(f"calls to the hub: {run.hub_calls:,} = {run.hub_calls / max(1, run.recipients):.2f} per recipient"
          f" ({run.hub_calls / report.seconds:,.0f} calls/s)")
    print(f"paid {run.paid:,}, {report.total:,.2f} baht, batch {run.batch_no}; not paid {run.not_paid:,}: "
          + ", ".join(f"{r} {n:,}" for r, n in sorted(Counter(u.reason for u in report.unpaid).items())))
    print("sent: " + "; ".join(f"{s.batch_no} {s.status} {s.detail}" for s in sent) + f" in {send_s:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--citizens", type=int, default=0, help="people in the throwaway sandbox (default: half as"
                                                                " many again as the recipients)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--home", type=Path, default=None, help="an existing sandbox, not running (default: a"
                                                                " throwaway one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.home is not None:
            home = Home(args.home)
        else:
            t0 = time.perf_counter()
            home = init(Path(tmp) / "sandbox", citizens=args.citizens or args.recipients * 3 // 2, seed=1)
            print(f"sandbox made in {time.perf_counter() - t0:.1f} s ({dt.datetime.now():%Y-%m-%d %H:%M})")
        asyncio.run(_bench(home, args.recipients, args.concurrency, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
