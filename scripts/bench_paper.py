"""The paper code from a photo: how big it is, how fast it verifies, how reliably it decodes.

    python scripts/bench_paper.py [--home DIR] [--citizens N] [-n N] [--trials T]

Without --home it makes a throwaway sandbox (``linkage init``). The registries and the hub run as
``linkage up`` runs them; the script fetches, as phrae-municipality, the sandbox's largest house (a member's
dopa.person, dopa.house and dopa.card), its largest company (dbd.juristic) and a citizen with five documents,
certifies each as the counter does, and renders the page with the QR code(s) at 150 dpi (pdftoppm) as a
scanner or a phone photo of an A4 page would give it. Then it prints:

    sizes       per paper: the code's characters (with and without the preset dictionary), QR codes, version,
                pixels a module at 150 dpi
    verify      QR decode + verify (``parse_input`` + ``verify_input``, offline, no OCR) from the 150-dpi photo as
                JPEG quality 70: p50 / p95 over N runs (target: p50 <= 50 ms)
    ocr         reading the page's printed text and comparing it field by field (check 9): p50 over a few runs
    largest set the largest set of codes a page carries (MAX_PARTS codes of version 27: a made-up house of many
                members, sealed with the sandbox's seal key) and its decode rate from JPEG quality 70 over T
                photos, each slightly rotated (up to 2 degrees), scaled (95-105 %) and blurred (radius 0-0.8),
                as a hand-held phone would take them
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_printout import AGENCY, pct
from PIL import Image, ImageFilter

from consumers.auditor import TrustInputs, parse_input, verify_input
from consumers.auditor.bundle import proof_json
from consumers.auditor.cose import b45decode
from consumers.auditor.papercode import MAX_PARTS, PaperClaims, join_parts, make_paper_code
from consumers.auditor.paperdict import DICTIONARY_V1
from consumers.client import HubClient, Printout
from consumers.counter.pageband import Band, band_codes
from consumers.counter.paper import MODULE_MM, qr_code
from consumers.counter.printout import CounterSigner, PrintCase, case_claims, certify
from linkage import pki, seal
from linkage.cli.cards import card_of
from linkage.cli.officers import sandbox_card
from linkage.cli.sandbox import init
from linkage.cli.stack import start_stack
from linkage.config import Home, load_settings
from linkage.seal import unverified_payload
from providers import document_types
from providers.synth.largest import largest_company, largest_house_member

DPI = 150
TARGET_MS = 50.0


def _subjects(home: Home) -> dict[str, tuple[str, tuple[str, ...]]]:
    member, company = largest_house_member(home), largest_company(home)
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    five = max((p for p in personas if p["kind"] == "citizen"), key=lambda p: len(p["doc_types"]))
    return {"largest house": (member, ("dopa.person", "dopa.house", "dopa.card")),
            "largest company": (company, ("dbd.juristic",)),
            "five documents": (five["id"], tuple(five["doc_types"]))}


async def _cases(home: Home) -> dict[str, PrintCase]:
    settings = load_settings(home)
    officer = sorted(settings.agencies[AGENCY].officers)[0]
    stack = await start_stack(settings, any_port=True)
    cases = {}
    try:
        own = pki.CertPaths(home.client_cert(AGENCY).cert, home.client_cert(AGENCY).key)
        async with HubClient.connect(stack.addresses["hub"], home.ca.cert, own) as hub:
            desk = hub.officer(sandbox_card(home, AGENCY, officer))  # the officer signs in with their card
            for name, (subject, types) in _subjects(home).items():
                answer = await desk.fetch_documents(types, subject, purpose="ตรวจสอบ", case_ref="PHR-2569-00001",
                                                    citizen_card=card_of(home, subject))
                printouts = [p for p in answer.values() if isinstance(p, Printout)]
                data = printouts[0].data
                cases[name] = PrintCase(
                    service_name="ขออนุญาตประกอบกิจการที่เป็นอันตรายต่อสุขภาพ", doc_types=document_types(),
                    subject_id=subject, subject_name=str(data.get("name_th") or f"{data['title']}"
                                                         f"{data['first_name_th']} {data['last_name_th']}"),
                    officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer,
                    agency_title=settings.agencies[AGENCY].title, case_ref="PHR-2569-00001",
                    printouts=tuple(p.jws for p in printouts), still_to_bring=("แผนที่ตั้งสถานประกอบการ",),
                    log_proofs={p.printout_id: proof_json(p.bundle()) for p in printouts})
    finally:
        await stack.stop()
    return cases


def _largest_set(home: Home, house: PrintCase) -> PrintCase:
    """The largest house's case with a made-up house of as many members as MAX_PARTS codes hold, sealed again with
    the sandbox's seal key (the hub's own): the largest set of codes a page carries."""
    sealer = seal.Sealer.from_files(home.seal.cert, home.seal.key, home.ca.cert)
    rng = random.Random(7)
    signer = CounterSigner.from_home(home, AGENCY)
    previous = house
    names = ("สมชาย", "สมหญิง", "ประเสริฐ", "วิไลวรรณ", "ณัฐพล", "กิตติพงษ์", "อรุณี", "ธนากร", "พิมพ์ชนก", "ศุภชัย")
    for members in range(20, 400, 10):
        jws = next(j for j in house.printouts if unverified_payload(j)["doc_type"] == "dopa.house")
        body = unverified_payload(jws)
        body["data"] = {**body["data"], "member_count": members, "members": [
            {"personal_id": f"{rng.randrange(10**12, 10**13)}", "name_th": f"นาย{rng.choice(names)} "
             f"{rng.choice(names)}{rng.randrange(100)}", "role": "resident", "role_th": "ผู้อาศัย"}
            for _ in range(members)]}
        case = PrintCase(**{**house.__dict__, "printouts": (sealer.seal(body),), "log_proofs": {}})
        try:
            texts = make_paper_code(case_claims(case), signer.key, signer.cert)
        except ValueError:
            return previous
        previous = case
        if len(texts) == MAX_PARTS:
            return case
    return previous


def _paper_code(claims: PaperClaims, signer: CounterSigner, chars: int) -> list[str]:
    return make_paper_code(claims, signer.key, signer.cert, part_chars=chars)


def _scan(pdf: bytes, tmp: Path) -> tuple[Image.Image, int]:
    (tmp / "paper.pdf").write_bytes(pdf)
    for old in tmp.glob("page*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(tmp / "paper.pdf"), str(tmp / "page")], check=True,
                   capture_output=True, timeout=120)
    pages = sorted(tmp.glob("page*.png"))
    return Image.open(pages[0]).convert("RGB"), len(pages)


def _jpeg(image: Image.Image, quality: int = 70) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _photo(image: Image.Image, rng: random.Random) -> bytes:
    """A hand-held photo of ``image``: slightly rotated, scaled and blurred, JPEG quality 70."""
    scale = rng.uniform(0.95, 1.05)
    shot = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    shot = shot.rotate(rng.uniform(-2, 2), resample=Image.Resampling.BILINEAR, expand=True, fillcolor="white")
    return _jpeg(shot.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8))))


def _time(fn: object, n: int) -> list[float]:
    assert callable(fn)
    fn()
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    return xs


def _bench(home: Home, args: argparse.Namespace, tmp: Path) -> int:
    cpu = platform.processor() or platform.machine()
    print(f"linkage bench_paper — {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    cases = asyncio.run(_cases(home))
    cases["largest set a page carries"] = _largest_set(home, cases["largest house"])
    signer = CounterSigner.from_home(home, AGENCY)
    trust = TrustInputs(home=home.root).load(agencies=True)
    missed = False
    print(f"QR codes at {MODULE_MM} mm a module: {MODULE_MM / 25.4 * DPI:.2f} px at {DPI} dpi")
    for name, case in cases.items():
        case = PrintCase(**{**case.__dict__, "printed_at": dt.datetime.now(dt.UTC)})
        claims = case_claims(case)
        texts = band_codes(functools.partial(_paper_code, claims, signer))
        whole, parts = join_parts(texts)
        message = zlib.decompressobj(zdict=DICTIONARY_V1).decompress(b45decode(whole))
        plain = len(zlib.compress(message, 9)) * 3 // 2
        versions = [qr_code(t).version for t in texts]
        page, pages = _scan(certify(case, signer), tmp)
        photo = _jpeg(page)
        report = verify_input(parse_input(photo, "photo.jpg"), trust, ocr=False)
        if not report.valid:
            raise SystemExit(f"{name}: the photo does not verify:\n{report.render()}")
        xs = _time(lambda photo=photo: verify_input(parse_input(photo, "photo.jpg"), trust, ocr=False), args.n)
        ok = statistics.median(xs) <= TARGET_MS
        missed |= not ok
        print(f"{name}: {len(case.printouts)} document(s), {len(whole)} Base45 characters ({plain} without the "
              f"dictionary), {parts} QR code(s) of version {'/'.join(map(str, versions))}, JPEG q70 "
              f"{len(photo) / 1024:.0f} KiB")
        print(f"  {pages} page(s), each ending with the certification and all {parts} code(s) of "
              f"{max(Band.make((), texts).sizes):.1f} mm")
        print(f"  decode + verify from the 150-dpi photo: p50 {statistics.median(xs):6.1f} ms   "
              f"p95 {pct(xs, 95):6.1f} ms   target p50 {TARGET_MS:g} ms {'ok' if ok else 'MISSED'}")
        if name != "largest set a page carries" and args.ocr:
            ocr = _time(lambda photo=photo: verify_input(parse_input(photo, "photo.jpg"), trust, ocr=True),
                        args.ocr)
            print(f"  with the printed text read and compared (check 9): p50 {statistics.median(ocr):7.0f} ms")
        if name == "largest set a page carries":
            rng = random.Random(3)
            good = 0
            for _ in range(args.trials):
                try:
                    good += verify_input(parse_input(_photo(page, rng), "photo.jpg"), trust, ocr=False).valid
                except Exception:
                    pass
            print(f"  decode rate from hand-held photos at JPEG q70: {good}/{args.trials} "
                  f"({100 * good / args.trials:.0f} %)")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing sandbox (default: a throwaway one)")
    parser.add_argument("--citizens", type=int, default=500)
    parser.add_argument("-n", type=int, default=50, help="timed verifications per paper")
    parser.add_argument("--ocr", type=int, default=3, help="timed verifications with OCR per paper (0: none)")
    parser.add_argument("--trials", type=int, default=50, help="photos of the largest set")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(args.home) if args.home is not None else init(Path(tmp) / "sandbox", citizens=args.citizens,
                                                                   seed=1)
        return _bench(home, args, Path(tmp))


if __name__ == "__main__":
    raise SystemExit(main())
