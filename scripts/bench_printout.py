"""Certified printout cost: render and PAdES-sign one A4 PDF for a three-document case, B-B and B-LT.

    python scripts/bench_printout.py [--home DIR] [--citizens N] [-n N] [--warmup W]

Without --home it makes a throwaway sandbox (``linkage init``) in a temporary folder.
The registries, the hub and the time-stamping authority run as ``linkage up`` runs them
(each its own process); the script fetches dopa.person, dopa.house and edu.degree for one
citizen through the hub (one FetchDocuments, real seals) as phrae-municipality, then, with
the agency's ``CounterSigner`` loaded once, times N rounds of ``render_case_pdf`` (seal
checks, QR summary, layout with HarfBuzz shaping, font subset), ``sign_pdf`` as B-B (PAdES,
no timestamp) and ``sign_pdf`` as B-LT (an RFC 3161 timestamp from the TSA over HTTP, then
the chain and the CA's CRL in the DSS). Prints p50 / p95 / max of each, of render + B-LT
sign, and of the timestamp round trip alone (inside the B-LT sign), with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.client import HubClient, Printout
from consumers.counter.printout import CounterSigner, PrintCase, render_case_pdf, sign_pdf
from linkage import pki
from linkage.cli.cards import card_of
from linkage.cli.officers import sandbox_card
from linkage.cli.sandbox import init
from linkage.cli.stack import Stack, start_stack
from linkage.config import Home, load_settings
from linkage.seal import unverified_payload
from providers import document_types

AGENCY = "phrae-municipality"
DOC_TYPES = ("dopa.person", "dopa.house", "edu.degree")


async def printouts_for_a_case(home: Home, stack: Stack | None = None) -> tuple[list[Printout], str]:
    """Real printouts of DOC_TYPES for one citizen, fetched through the stack's hub (without one, a stack started
    for the purpose); the officer."""
    if stack is None:
        own_stack = await start_stack(load_settings(home), any_port=True)
        try:
            return await printouts_for_a_case(home, own_stack)
        finally:
            await own_stack.stop()
    settings = stack.settings
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    subject = next(p["id"] for p in personas if p["kind"] == "citizen" and set(DOC_TYPES) <= set(p["doc_types"]))
    officer = sorted(settings.agencies[AGENCY].officers)[0]
    own = pki.CertPaths(home.client_cert(AGENCY).cert, home.client_cert(AGENCY).key)
    async with HubClient.connect(stack.addresses["hub"], home.ca.cert, own) as hub:
        desk = hub.officer(sandbox_card(home, AGENCY, officer))  # the officer signs in with their card
        answer = await desk.fetch_documents(DOC_TYPES, subject, purpose="ขึ้นทะเบียนผู้สูงอายุ",
                                            case_ref="PHR-2569-0001", citizen_card=card_of(home, subject))
    printouts = [r for r in answer.values() if isinstance(r, Printout)]
    if len(printouts) != len(DOC_TYPES):
        raise SystemExit(f"fetched {len(printouts)} of {len(DOC_TYPES)} documents: {answer}")
    return printouts, officer


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1] if len(xs) > 1 else xs[0]


def _bench(home: Home, args: argparse.Namespace) -> None:
    async def run() -> None:
        stack = await start_stack(load_settings(home), any_port=True)
        try:
            printouts, officer = await printouts_for_a_case(home, stack)
            await asyncio.to_thread(_rounds, home, args, printouts, officer, f"http://{stack.addresses['tsa']}/")
        finally:
            await stack.stop()

    asyncio.run(run())


def _rounds(home: Home, args: argparse.Namespace, printouts: list[Printout], officer: str, tsa_url: str) -> None:
    jws = [p.jws for p in printouts]
    data = unverified_payload(jws[0])["data"]
    case = PrintCase(service_name="ขึ้นทะเบียนรับเงินเบี้ยยังชีพผู้สูงอายุ", doc_types=document_types(),
                     subject_id=str(data["personal_id"]),
                     subject_name=f"{data['title']}{data['first_name_th']} {data['last_name_th']}",
                     officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer, agency_title="เทศบาลเมืองแพร่",
                     case_ref="PHR-2569-0001", printouts=tuple(jws),
                     still_to_bring=("สมุดบัญชีเงินฝากธนาคาร (หน้าแรก)",), printed_at=dt.datetime.now(dt.UTC))
    signer = CounterSigner.from_home(home, AGENCY)
    long_term = CounterSigner.from_home(home, AGENCY, tsa_url=tsa_url)
    assert long_term.long_term is not None
    render, sign, sign_lt, total, stamp = [], [], [], [], []
    size = size_lt = 0
    for i in range(args.warmup + args.n):
        t0 = time.perf_counter()
        pdf = render_case_pdf(case, signer)
        t1 = time.perf_counter()
        signed = sign_pdf(pdf, signer, officer_name=case.officer_name, officer_id=case.officer_id)
        t2 = time.perf_counter()
        signed_lt = sign_pdf(pdf, long_term, officer_name=case.officer_name, officer_id=case.officer_id)
        t3 = time.perf_counter()
        if i >= args.warmup:
            render.append((t1 - t0) * 1000)
            sign.append((t2 - t1) * 1000)
            sign_lt.append((t3 - t2) * 1000)
            total.append((t1 - t0 + t3 - t2) * 1000)
            stamp.append(long_term.long_term.round_trips[-1] * 1000)
            size, size_lt = len(signed), len(signed_lt)
    cpu = platform.processor() or platform.machine()
    print(f"linkage bench_printout — {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.n} certified PDFs (3 documents, 1 page, B-B {size / 1024:.0f} KiB, B-LT {size_lt / 1024:.0f} KiB), "
          f"after {args.warmup} warm-up")
    for name, xs in (("render", render), ("sign B-B", sign), ("sign B-LT", sign_lt),
                     ("  of which timestamp round trip", stamp), ("render + sign B-LT", total)):
        print(f"  {name:31s} p50 {statistics.median(xs):7.1f} ms   p95 {pct(xs, 95):7.1f} ms   max {max(xs):7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing sandbox (default: a throwaway one)")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    if args.home is not None:
        _bench(Home(args.home), args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        _bench(init(Path(tmp) / "sandbox", citizens=args.citizens, seed=1), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
