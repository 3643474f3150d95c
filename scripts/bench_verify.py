"""Offline verification cost: a printout bundle, a certified PDF, and the QR summary (text and picture).

    python scripts/bench_verify.py [--home DIR] [--citizens N] [-n N] [--warmup W]

Without --home it makes a throwaway sandbox (``linkage init``) in a temporary folder.
The registries and the hub run as ``linkage up`` runs them; the script fetches
dopa.person, dopa.house and edu.degree for one citizen through the hub as
phrae-municipality, writes the first one's bundle (JWS + log proof), and certifies
the three as the counter does (``render_case_pdf`` + ``sign_pdf``). It then times N
runs of what ``linkage verify --offline`` does after start-up, from the file's bytes:
``parse_input`` + ``verify_input`` with the sandbox's trust (CA, log key and origin,
agency certificates) and no auditor state:

    bundle      checks 1, 2, 4, 5 (6 and 7 need the hub or a state)
    pdf         check 3 (pyHanko: signature, whole file, chain to the CA) + 1, 2 on each of 3 printouts
    qr-text     the QR summary's signer and signature (1, 3)
    qr-picture  the same, decoded from a 4-pixels-a-module PNG of the QR code with zxing-cpp

Prints p50 / p95 / max of each, then where a PDF's time goes (one stage at a time).
Targets (issue 4): bundle <= 5 ms, signed PDF <= 30 ms.
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
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_printout import AGENCY, pct, printouts_for_a_case

from consumers.auditor import Trust, TrustInputs, parse_input, verify_input, verify_printout
from consumers.auditor import pdf as auditor_pdf
from consumers.auditor.bundle import PdfFile
from consumers.auditor.summary import make_summary
from consumers.counter.paper import qr_png
from consumers.counter.printout import CounterSigner, PrintCase, render_case_pdf, sign_pdf
from linkage.cli.sandbox import init
from linkage.config import Home
from linkage.seal import unverified_payload
from providers import document_types

TARGETS = {"bundle": 5.0, "pdf": 30.0}


def _time(fn: Callable[[], object], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _inputs(home: Home) -> tuple[dict[str, bytes], Trust]:
    printouts, officer = asyncio.run(printouts_for_a_case(home))
    jws = [p.jws for p in printouts]
    data = unverified_payload(jws[0])["data"]
    case = PrintCase(service_name="ขึ้นทะเบียนรับเงินเบี้ยยังชีพผู้สูงอายุ", doc_types=document_types(),
                     subject_id=str(data["personal_id"]),
                     subject_name=f"{data['title']}{data['first_name_th']} {data['last_name_th']}",
                     officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer, agency_title="เทศบาลเมืองแพร่",
                     case_ref="PHR-2569-0001", printouts=tuple(jws), printed_at=dt.datetime.now(dt.UTC))
    signer = CounterSigner.from_home(home, AGENCY)
    pdf = sign_pdf(render_case_pdf(case, signer), signer, officer_name=case.officer_name, officer_id=officer)
    summary = make_summary(jws, case.subject_name, signer.key, signer.cert, officer_id=officer,
                           case_ref=case.case_ref)
    files = {
        "bundle": json.dumps(printouts[0].bundle(), ensure_ascii=False).encode("utf-8"),
        "pdf": pdf,
        "qr-text": summary.encode("ascii"),
        "qr-picture": qr_png(summary),
    }
    return files, TrustInputs(home=home.root).load(agencies=True)


def _stages(pdf: bytes, trust: Trust, n: int, warmup: int) -> list[tuple[str, list[float]]]:
    """Where a PDF's verification spends its time, stage by stage (the verifier's own steps, one at a time)."""
    item = PdfFile(pdf, "case.pdf")
    now = dt.datetime.now(dt.UTC)

    def read_signature() -> object:
        return auditor_pdf._open(item).embedded_signatures  # the /Contents hex string is parsed here

    reader = auditor_pdf._open(item)
    [sig] = reader.embedded_signatures
    signed_at = sig.self_reported_timestamp
    assert signed_at is not None
    attached = [data.decode("ascii") for _, data in auditor_pdf._attachments(auditor_pdf._open(item))[0]]
    opened = _time(lambda: auditor_pdf._open(item), n, warmup)
    signature = _time(read_signature, n, warmup)
    return [
        ("open: xref, trailer, catalog", opened),
        ("read the signature dictionary", [s - o for s, o in zip(signature, opened, strict=True)]),
        ("validate CMS + chain (pyHanko)", _time(lambda: auditor_pdf._validate(sig, trust.ca, signed_at), n, warmup)),
        ("list + inflate attachments", _time(lambda: auditor_pdf._attachments(auditor_pdf._open(item)), n, warmup)),
        ("checks 1, 2 on 3 printouts", _time(lambda: [verify_printout(j, trust, now=now) for j in attached], n,
                                             warmup)),
    ]


def _bench(home: Home, args: argparse.Namespace) -> int:
    files, trust = _inputs(home)
    cpu = platform.processor() or platform.machine()
    print(f"linkage bench_verify — {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    print(f"{args.n} offline verifications each (parse_input + verify_input from the file's bytes), after "
          f"{args.warmup} warm-up")
    missed = []
    for name, raw in files.items():
        report = verify_input(parse_input(raw, name), trust)
        if not report.valid:
            raise SystemExit(f"{name} does not verify:\n{report.render()}")

        def once(raw: bytes = raw, name: str = name) -> None:
            verify_input(parse_input(raw, name), trust)

        xs = _time(once, args.n, args.warmup)
        target = TARGETS.get(name)
        mark = "" if target is None else f"   target {target:g} ms {'ok' if pct(xs, 95) <= target else 'MISSED'}"
        if target is not None and pct(xs, 95) > target:
            missed.append(name)
        print(f"  {name:10s} {len(raw) / 1024:6.1f} KiB   p50 {statistics.median(xs):7.2f} ms   "
              f"p95 {pct(xs, 95):7.2f} ms   max {max(xs):7.2f} ms{mark}")
    print("a signed PDF, stage by stage (p50):")
    for stage, xs in _stages(files["pdf"], trust, max(args.n // 3, 20), args.warmup):
        print(f"  {stage:32s} {statistics.median(xs):7.2f} ms")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing sandbox (default: a throwaway one)")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    if args.home is not None:
        return _bench(Home(args.home), args)
    with tempfile.TemporaryDirectory() as tmp:
        return _bench(init(Path(tmp) / "sandbox", citizens=args.citizens, seed=1), args)


if __name__ == "__main__":
    raise SystemExit(main())
