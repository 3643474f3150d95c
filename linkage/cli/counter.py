"""``linkage counter disburse``: the month's allowance payment run of the counter's agency, from the command line
(the counter's /disbursements page runs the same, consumers/counter/allowances/).

It acts as the counter does: the counter's settings (LINKAGE_COUNTER_* variables, the sandbox's linkage.toml), its
SQLite file, its agency's certificate to the hub and its signing key for the batch; the officer who runs it signs
in with their officer card (``--card``) or, while the hub accepts it, names themselves (``--officer``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from linkage.cli.common import officer_flags, with_home
from linkage.config import ConfigError, Home
from linkage.errors import LinkageError

if TYPE_CHECKING:
    from consumers.counter.allowances.rules import Month, Rules
    from consumers.counter.printout import CounterSigner
    from consumers.counter.settings import CounterSettings
    from consumers.counter.store import CounterStore

__all__ = ["add_commands"]


def _cmd_disburse(args: argparse.Namespace) -> int:
    from consumers.counter.allowances.rules import BadMonth, parse_month
    from consumers.counter.errors import CounterError
    from consumers.counter.settings import CounterSettings
    from linkage.cli.stack import read_endpoints

    home = Home(Path(args.home).resolve())
    if not args.officer and not args.card:
        print("linkage counter disburse: say who runs it: --card FILE (the officer's card; they sign in with its PIN)"
              " or --officer ID", file=sys.stderr)
        return 2
    if args.concurrency < 1:
        print("linkage counter disburse: --concurrency is at least 1", file=sys.stderr)
        return 2
    try:
        month = parse_month(args.month)
    except BadMonth as err:
        print(f"linkage counter disburse: {err.message_th}\n  {err.message_en}", file=sys.stderr)
        return 2
    try:
        if not home.config_file.exists():
            read_endpoints(home)  # raises, saying that `linkage up` is still making it, or how to make it
        settings = CounterSettings.from_env(home)
        from consumers.counter.allowances.rules import load_rules
        from consumers.counter.manuals import load_manuals

        rules = load_rules(settings.manuals / "allowances" / "rates.toml", load_manuals(settings.manuals))
    except (ConfigError, CounterError, OSError) as err:
        print(f"linkage counter disburse: {err}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, home, settings, rules, month))
    except CounterError as err:
        print(f"linkage counter disburse: {err.message_th}\n  {err.message_en}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, home: Home, settings: CounterSettings, rules: Rules, month: Month) -> int:
    from consumers.client import HubClient
    from consumers.counter.allowances.report import report_json, report_text
    from consumers.counter.allowances.run import run_month, send_batches
    from consumers.counter.printout import CounterSigner
    from consumers.counter.store import CounterStore
    from linkage.cli.officers import unlock_card
    from linkage.payments import switch_public_key

    signer = CounterSigner.from_home(home, settings.agency)
    addresses = [a.strip() for a in settings.hub_address.split(",") if a.strip()]
    store = CounterStore(settings.database or home.data / "counter.sqlite", case_ttl=settings.case_ttl)
    try:
        async with HubClient.connect(addresses, home.ca.cert, home.client_cert(settings.agency)) as hub:
            session = None
            try:
                if args.card:  # the officer signs in with their own card: this process sees no more than the PIN
                    card = unlock_card(args.card, args.pin_file)
                    session = await hub.sign_in_officer(card.officer_id, card)
            except LinkageError as err:
                print(f"linkage counter disburse: sign-in refused ({err.code}): {err.message}", file=sys.stderr)
                return 1
            report = await run_month(store, hub, rules, month, agency=settings.agency,
                                     officer_id=session.officer_id if session else args.officer,
                                     officer_session=session, concurrency=args.concurrency)
        if not args.no_send:
            report.sent = await send_batches(store, month, signer, settings.payments_url,
                                             lambda: switch_public_key(home))
        if args.out and report.run.batch_no:
            _write_batch(store, signer, report.run.batch_no, Path(args.out))
    finally:
        store.close()
    print(json.dumps(report_json(report), ensure_ascii=False, indent=2) if args.json else report_text(report))
    waiting = [s.batch_no for s in report.sent if s.status != "settled"]
    if waiting:
        print(f"linkage counter disburse: batch(es) {', '.join(waiting)} not settled yet; run the same month again"
              " to send them (a recipient is never paid twice)", file=sys.stderr)
        return 1
    return 0


def _write_batch(store: CounterStore, signer: CounterSigner, batch_no: str, out: Path) -> None:
    """The batch as sent (canonical JSON) and its detached signature, beside each other in out."""
    from consumers.counter.allowances.ledger import batch_of
    from linkage.disbursements import batch_body, sign_batch

    found = batch_of(store, batch_no)
    assert found is not None
    body = batch_body(found[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{batch_no}.json").write_bytes(body)
    (out / f"{batch_no}.jws").write_text(sign_batch(body, signer.key, [signer.cert, signer.ca_root]) + "\n",
                                         encoding="ascii")
    print(f"batch written to {out / (batch_no + '.json')} with its signature {out / (batch_no + '.jws')}",
          file=sys.stderr)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage counter disburse``."""
    counter = sub.add_parser("counter", help="the counter's back office: the monthly allowance payment run")
    counter_sub = counter.add_subparsers(dest="counter_command", required=True, metavar="COUNTER_COMMAND")
    p = with_home(counter_sub.add_parser(
        "disburse", help="pay a month's elderly and disability allowances through PromptPay, once"))
    p.add_argument("--month", required=True, help="the month paid, Buddhist-era year and month, e.g. 2569-12")
    officer_flags(p, "every printout of the run names their session")
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("LINKAGE_DISBURSE_CONCURRENCY", "32")),
                   help="recipients checked at once (LINKAGE_DISBURSE_CONCURRENCY, default 32)")
    p.add_argument("--no-send", action="store_true",
                   help="record the run and its batch but do not send the batch to the payment switch yet")
    p.add_argument("--out", metavar="DIR", help="also write the run's batch (BATCH.json) and its signature"
                                                " (BATCH.jws) into DIR")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_disburse)
