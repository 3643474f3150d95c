"""Paper forms through the real stack: certified PDFs and their QR codes, made by the counter from printouts the
real hub issued, then verified, tampered with, and verified again.

One module fixture fetches three printouts through a real hub (real mTLS, real
log) and certifies them with the counter's own code; every case below is that
PDF or a change to it. Online tests start the stack again on the same sandbox,
whose log holds those printouts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import json
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fpdf import FPDF
from PIL import Image
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from consumers.auditor import (
    PaperReport,
    PdfFile,
    QrSummary,
    Trust,
    TrustInputs,
    load_input,
    load_trust_root,
    run_revoke,
    run_verify,
    verify_pdf,
)
from consumers.auditor.summary import make_summary
from consumers.counter.paper import qr_png
from consumers.counter.printout import CounterSigner, PrintCase, render_case_pdf, sign_pdf
from linkage import pki, seal
from linkage.cli.main import main as linkage_main
from linkage.config import Home
from linkage.seal import unverified_payload
from providers import document_types
from tests.auditor.test_online import hub_inputs
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import HOSPITAL, MUNI, fetch, officer, request
from tests.officers import card

DOC_TYPES = ("dopa.person", "dopa.house", "edu.degree")
CASE_REF = "PHR-2569-0077"
OFFICER_NAME = "นางสาวสุดารัตน์ ทองดี"
POPPLER = "pdftoppm is missing: apt-get install poppler-utils"


@dataclass(frozen=True)
class Paper:
    home: Home
    case: PrintCase
    unsigned: bytes  # what the counter renders
    signed: bytes  # the certified printout: unsigned + the PAdES signature as an incremental update

    @property
    def ids(self) -> list[str]:
        return [str(unverified_payload(j)["printout_id"]) for j in self.case.printouts]

    def signer(self, agency: str = MUNI) -> CounterSigner:
        return CounterSigner.from_home(self.home, agency)

    def sign(self, pdf: bytes, signer: CounterSigner) -> bytes:
        return sign_pdf(pdf, signer, officer_name=OFFICER_NAME, officer_id=self.case.officer_id,
                        location=self.case.agency_title)


async def _fetch_case(home: Home, personas: list[dict[str, Any]]) -> PrintCase:
    person = next(p for p in personas if p["kind"] == "citizen" and set(DOC_TYPES) <= set(p["doc_types"]))
    stack = await start_stack(home)
    try:
        docs = [await fetch(stack, MUNI, request(stack, MUNI, t, str(person["id"]), case_ref=CASE_REF))
                for t in DOC_TYPES]
        officer_id, title = officer(stack, MUNI), stack.settings.agencies[MUNI].title
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)
    data = unverified_payload(docs[0].jws)["data"]
    return PrintCase(service_name="ขึ้นทะเบียนรับเงินเบี้ยยังชีพผู้สูงอายุ", doc_types=document_types(),
                     subject_id=str(person["id"]),
                     subject_name=f"{data['title']}{data['first_name_th']} {data['last_name_th']}",
                     officer_name=OFFICER_NAME, officer_id=officer_id, agency_title=title, case_ref=CASE_REF,
                     printouts=tuple(d.jws for d in docs))


@pytest.fixture(scope="module")
def paper(sandbox_home: Home, personas: list[dict[str, Any]]) -> Paper:
    # The stack runs in its own loop in a worker thread: this fixture is shared by sync and async tests.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        case = pool.submit(asyncio.run, _fetch_case(sandbox_home, personas)).result()
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    unsigned = render_case_pdf(case, signer)
    return Paper(sandbox_home, case, unsigned, sign_pdf(unsigned, signer, officer_name=OFFICER_NAME,
                                                        officer_id=case.officer_id, location=case.agency_title))


def verify(paper: Paper, data: bytes, tmp: Path, *, name: str = "case.pdf", as_json: bool = True,
           trust: TrustInputs | None = None) -> tuple[int, Any, str]:
    """Offline verification of ``data`` as a file; (exit code, JSON report or text, stderr)."""
    path = tmp / name
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    code = run_verify(path, trust or TrustInputs(home=paper.home.root), as_json=as_json, out=out, err=err)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    text = out.getvalue()
    return code, (json.loads(text) if as_json and text else text), err.getvalue()


def checks_of(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["number"]: c for c in report["checks"]}


# --- the certified PDF, offline ------------------------------------------------------------------

def test_certified_pdf_is_valid_offline(paper: Paper, tmp_path: Path) -> None:
    code, report, err = verify(paper, paper.signed, tmp_path)
    assert (code, err) == (0, ""), report
    assert report["valid"] is True and report["form"] == "pdf" and report["problems"] == []
    [check3] = report["checks"]
    assert check3["number"] == 3 and check3["ok"] is True, check3
    assert f"PAdES signature by {MUNI}" in check3["detail"] and "covering the whole file" in check3["detail"]
    assert paper.case.officer_id in check3["detail"]
    assert [d["printout"]["printout_id"] for d in report["documents"]] == paper.ids
    for doc in report["documents"]:
        assert doc["valid"] and doc["failed"] == [] and doc["skipped"] == [4, 5, 6, 7, 8, 10]
        checks = checks_of(doc)
        assert checks[1]["ok"] and checks[2]["ok"] and checks[3]["ok"], doc
        assert f"certified by {MUNI}, the agency it was issued to" in checks[3]["detail"]
        assert "the PDF attaches the sealed JWS only" in checks[4]["detail"]
        assert "offline" in checks[7]["detail"]
    assert report["failed"] == [] and report["skipped"] == [4, 5, 6, 7, 8, 10]


def test_certified_pdf_human_report(paper: Paper, tmp_path: Path) -> None:
    code, text, _ = verify(paper, paper.signed, tmp_path, as_json=False)
    assert code == 0
    assert "[3] ✓ officer's signature: PAdES signature by phrae-municipality" in text
    assert text.count("  [2] ✓ hub's seal") == 3
    assert text.splitlines()[-1].startswith("ถูกต้อง / VALID: signed PDF") and "skipped: 4, 5, 6, 7" in text


def test_linkage_verify_offline_json(paper: Paper, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.pdf"
    path.write_bytes(paper.signed)
    code = linkage_main(["verify", str(path), "--home", str(paper.home.root), "--offline", "--json",
                         "--state", str(tmp_path / "state.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["valid"] and checks_of(report)[3]["ok"] is True and report["skipped"] == [4, 5, 6, 7, 8, 10]


# --- tampering: each change to the certified PDF, and what verification must say ----------------

def _contents(pdf: bytes) -> tuple[int, int]:
    """Where the signature's /Contents hex string lies: [start, end) of the hex digits."""
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    return start, pdf.index(b">", start)


def zero_signature(p: Paper) -> bytes:
    start, end = _contents(p.signed)
    return p.signed[:start] + b"0" * (end - start) + p.signed[end:]


def alter_signature_value(p: Paper) -> bytes:
    start, end = _contents(p.signed)
    last = start + len(p.signed[start:end].rstrip(b"0"))  # the DER ends with the signature value; zeros pad it
    at = last - 8
    return p.signed[:at] + (b"1" if p.signed[at:at + 1] != b"1" else b"2") + p.signed[at + 1:]


def drop_signature_value(p: Paper) -> bytes:
    # The field stays, its value (/V, the signature dictionary) is unlinked.
    changed, n = re.subn(rb"/V (\d+ 0 R)", rb"/W \1", p.signed)
    assert n == 1
    return changed


def cut_signed_revision(p: Paper) -> bytes:
    assert p.signed.startswith(p.unsigned)  # signing appends an incremental update
    return p.signed[:len(p.unsigned)]


def flip_page_byte(p: Paper) -> bytes:
    pdf = bytearray(p.signed)
    pdf[pdf.index(b"stream", 2000) + 40] ^= 0x01
    return bytes(pdf)


def add_attachment_after_signing(p: Paper) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(p.signed), strict=False)
    data = embed.EmbeddedFileObject.from_file_data(writer, data=p.case.printouts[0].encode(),
                                                   mime_type="application/jose")
    embed.embed_file(writer, embed.FileSpec(file_spec_string="extra.jws", embedded_data=data))
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]  # pyhanko leaves write() unannotated
    return out.getvalue()


def foreign_ca(p: Paper, tmp: Path) -> bytes:
    other = pki.create_ca(tmp / "other-ca")
    cert = pki.issue(other, MUNI, pki.Role.CLIENT, tmp / "other-clients", unit="agency")
    return p.sign(p.unsigned, CounterSigner(cert.cert, cert.key, other.cert))


def server_certificate(p: Paper) -> bytes:
    hub = p.home.server_cert("hub")
    return p.sign(p.unsigned, CounterSigner(hub.cert, hub.key, p.home.ca.cert))


def plain_pdf(*attachments: tuple[str, bytes]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="A page that certifies nothing attached")
    for name, data in attachments:
        pdf.embed_file(bytes=data, basename=name, mime_type="application/jose")
    return bytes(pdf.output())


def forged_printout(p: Paper) -> str:
    head, _, sig = p.case.printouts[0].split(".")
    body = unverified_payload(p.case.printouts[0]) | {"purpose": "อื่น ๆ"}
    return f"{head}.{seal.b64url_encode(seal.canonical_json(body))}.{sig}"


@dataclass(frozen=True)
class Tamper:
    name: str
    make: Callable[[Paper, Path], bytes]
    code: int
    why: str  # in the JSON report (exit 1) or in stderr (exit 2)
    failed: frozenset[int] | None = None  # exit 1: the failed check numbers


TAMPERS = [
    Tamper("signature stripped: the unsigned rendering", lambda p, t: p.unsigned, 1,
           "the PDF carries no signature: it was never certified, or its signature was stripped", frozenset({3})),
    Tamper("signature stripped: signed revision cut off", lambda p, t: cut_signed_revision(p), 1,
           "carries no signature", frozenset({3})),
    Tamper("signature unlinked from its field", lambda p, t: drop_signature_value(p), 1, "carries no signature",
           frozenset({3})),
    Tamper("signature zeroed", lambda p, t: zero_signature(p), 1, "the signature is unreadable, damaged or stripped",
           frozenset({3})),
    Tamper("signature value altered", lambda p, t: alter_signature_value(p), 1,
           "the signature value does not verify", frozenset({3})),
    Tamper("one byte of the page changed", lambda p, t: flip_page_byte(p), 1,
           "the document was changed after it was signed", frozenset({3})),
    Tamper("bytes appended after signing", lambda p, t: p.signed + b"\n% a note\n", 1,
           "the signature does not cover the whole file (ENTIRE_REVISION): 10 byte(s) after the signed revision",
           frozenset({3})),
    Tamper("a printout attached after signing", lambda p, t: add_attachment_after_signing(p), 1,
           "does not cover the whole file", frozenset({3})),
    Tamper("signed by a certificate from another CA", foreign_ca, 1, "does not chain to the linkage CA",
           frozenset({3})),
    Tamper("signed by another agency of the CA", lambda p, t: p.sign(p.unsigned, p.signer(HOSPITAL)), 1,
           f"the PDF is certified by {HOSPITAL}, but this printout was issued to '{MUNI}'", frozenset({3})),
    Tamper("signed with the hub's TLS server certificate", lambda p, t: server_certificate(p), 1,
           "is not an agency's certificate", frozenset({3})),
    Tamper("signed, but nothing attached", lambda p, t: p.sign(plain_pdf(), p.signer()), 1,
           "the PDF has no attachment"),
    Tamper("signed, with a forged printout attached",
           lambda p, t: p.sign(plain_pdf(("forged.jws", forged_printout(p).encode())), p.signer()), 1,
           "the signature does not match the header and payload", frozenset({2})),
    Tamper("signed, with an attachment that is no printout",
           lambda p, t: p.sign(plain_pdf(("notes.jws", b"hello")), p.signer()), 1,
           "attachment 'notes.jws' is not a sealed printout"),
    Tamper("truncated", lambda p, t: p.signed[:len(p.signed) // 2], 2, "not a readable PDF"),
    Tamper("not a PDF after its header", lambda p, t: b"%PDF-1.7\nhello", 2, "not a readable PDF"),
    Tamper("empty file", lambda p, t: b"", 2, "the file is empty"),
]


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.name for t in TAMPERS])
def test_tampered_pdf(tamper: Tamper, paper: Paper, tmp_path: Path) -> None:
    code, report, err = verify(paper, tamper.make(paper, tmp_path), tmp_path)
    assert code == tamper.code, (report, err)
    if code == 2:
        assert tamper.why in err and report["error"] == "unreadable_input", err
        return
    assert report["valid"] is False and err == ""
    assert tamper.why in json.dumps(report, ensure_ascii=False), json.dumps(report, ensure_ascii=False, indent=1)
    if tamper.failed is not None:
        assert set(report["failed"]) == tamper.failed, report["failed"]


def test_mutated_bytes_never_verify_and_never_crash(paper: Paper, tmp_path: Path) -> None:
    """Single-byte changes and cuts anywhere: never valid outside the signature's hole, never a traceback."""
    rng = random.Random(4)
    start, end = _contents(paper.signed)
    size = len(paper.signed)
    trust = Trust(load_trust_root(paper.home.ca.cert))
    for i in range(48):
        pdf = bytearray(paper.signed)
        if i % 4 == 3:
            at = rng.randrange(1, size)
            mutated = bytes(pdf[:at])
        else:
            at = rng.randrange(size)
            pdf[at] ^= 1 << rng.randrange(8)
            mutated = bytes(pdf)
        code, report, _ = verify(paper, mutated, tmp_path, as_json=True)
        inside_hole = start <= at < end
        assert code in ((0, 1, 2) if inside_hole else (1, 2)), (at, report)
    # The library call raises only the verifier's own errors.
    assert isinstance(verify_pdf(PdfFile(paper.signed, "case.pdf"), trust), PaperReport)


# --- the QR code: from a picture of the page, or as text -----------------------------------------

@pytest.fixture(scope="module")
def page_png(paper: Paper, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    tool = shutil.which("pdftoppm")
    if tool is None:
        pytest.skip(POPPLER)
    tmp = tmp_path_factory.mktemp("page")
    (tmp / "case.pdf").write_bytes(paper.signed)
    subprocess.run([tool, "-r", "150", "-png", "-singlefile", str(tmp / "case.pdf"), str(tmp / "page")],
                   check=True, capture_output=True, timeout=60)
    return (tmp / "page.png").read_bytes()


def _summary_ok(paper: Paper, report: dict[str, Any]) -> None:
    assert report["valid"] is True and report["form"] == "qr", report
    assert [c["number"] for c in report["checks"]] == [1, 3] and all(c["ok"] for c in report["checks"])
    assert MUNI in checks_of(report)[1]["detail"] and paper.case.subject_id in checks_of(report)[3]["detail"]
    assert [d["printout"]["printout_id"] for d in report["documents"]] == paper.ids
    assert [d["printout"]["doc_type"] for d in report["documents"]] == list(DOC_TYPES)


def test_qr_from_the_rendered_page_is_valid_offline(paper: Paper, page_png: bytes, tmp_path: Path) -> None:
    code, report, err = verify(paper, page_png, tmp_path, name="page.png")
    assert (code, err) == (0, ""), report
    _summary_ok(paper, report)
    assert report["skipped"] == [2, 4, 5, 6, 7, 8]
    doc = checks_of(report["documents"][0])
    assert "not its seal" in doc[2]["detail"] and "online" in doc[4]["detail"]


def test_qr_from_a_jpeg_photo_of_the_page(paper: Paper, page_png: bytes, tmp_path: Path) -> None:
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(page_png)).convert("RGB").save(jpeg, "JPEG", quality=85)
    code, report, _ = verify(paper, jpeg.getvalue(), tmp_path, name="photo.jpg")
    assert code == 0
    _summary_ok(paper, report)


def test_legacy_qr_summary_as_text(paper: Paper, tmp_path: Path) -> None:
    # The JWS summary of copies printed before the paper code: still read.
    signer = paper.signer()
    text = make_summary(paper.case.printouts, paper.case.subject_name, signer.key, signer.cert,
                        at=paper.case.printed_at, officer_id=paper.case.officer_id, case_ref=CASE_REF)
    assert isinstance(load_input(_write(tmp_path / "qr.txt", text.encode())), QrSummary)
    code, report, _ = verify(paper, text.encode() + b"\n", tmp_path, name="qr.txt")
    assert code == 0
    _summary_ok(paper, report)
    # One character of the payload changed: the agency's signature no longer holds.
    head, body, sig = text.split(".")
    payload = json.loads(seal.b64url_decode(body)) | {"name": "someone else"}
    forged = f"{head}.{seal.b64url_encode(seal.canonical_json(payload))}.{sig}"
    code, report, _ = verify(paper, forged.encode(), tmp_path, name="forged.txt")
    assert code == 1 and report["failed"] == [3] and report["documents"] == []
    assert "does not verify" in checks_of(report)[3]["detail"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_qr_signed_by_an_agency_of_another_ca(paper: Paper, tmp_path: Path) -> None:
    other = pki.create_ca(tmp_path / "other-ca")
    cert = pki.issue(other, MUNI, pki.Role.CLIENT, tmp_path / "other", unit="agency")
    summary = make_summary(paper.case.printouts, paper.case.subject_name, pki.load_private_key(cert.key),
                           x509.load_pem_x509_certificate(cert.cert.read_bytes()), at=dt.datetime.now(dt.UTC),
                           officer_id=paper.case.officer_id, case_ref=CASE_REF)
    code, report, _ = verify(paper, qr_png(summary), tmp_path, name="other.png")
    assert code == 1 and report["failed"] == [1], report
    assert "none of the" in checks_of(report)[1]["detail"] and "trusted agency certificates" in \
        checks_of(report)[1]["detail"]


@pytest.mark.parametrize(("name", "make", "why"), [
    ("a QR code that is not ours", lambda: qr_png("https://example.org/promo?id=42"),
     "is not a linkage printout summary (it holds 'https://example.org/promo?id=42')"),
    ("a picture without a QR code", lambda: _blank_png(), "no readable QR code in this 400x300 picture"),
    ("a damaged picture", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable picture"),
    ("a summary typ with a broken body", lambda: qr_png("eyJ0eXAiOiJsaW5rYWdlLXN1bW1hcnkrandzIn0.e30.AAAA"),
     "not a readable printout summary"),
])
def test_qr_refused(name: str, make: Callable[[], bytes], why: str, paper: Paper, tmp_path: Path) -> None:
    code, report, err = verify(paper, make(), tmp_path, name="qr.png")
    assert code == 2 and why in err, err
    assert report["error"] == "unreadable_input"


def _blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (400, 300), 255).save(out, "PNG")
    return out.getvalue()


def test_qr_needs_the_agency_certificates(paper: Paper, page_png: bytes, tmp_path: Path) -> None:
    code, _, err = verify(paper, page_png, tmp_path, name="page.png", trust=TrustInputs(ca=paper.home.ca.cert))
    assert code == 2 and "agency certificates" in err and "--agency-certs" in err


# --- online: the log proves what the paper carries -----------------------------------------------

async def _verify_online(stack: RunningStack, path: Path, state: Path, agency: str = "auditor") -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_verify, path, TrustInputs(home=stack.home.root),
                                   hub=hub_inputs(stack, agency), state=state, as_json=True, out=out, err=err)
    report: dict[str, Any] = json.loads(out.getvalue())
    assert code == (0 if report["valid"] else 1), err
    return report


async def test_pdf_and_qr_online_then_revoked(stack: RunningStack, paper: Paper, page_png: bytes,
                                             tmp_path: Path) -> None:
    pdf, png, state = _write(tmp_path / "case.pdf", paper.signed), _write(tmp_path / "page.png", page_png), \
        tmp_path / "state.json"
    for path in (pdf, png):
        report = await _verify_online(stack, path, state)
        assert report["valid"], json.dumps(report, ensure_ascii=False, indent=1)
        for doc in report["documents"]:
            checks = checks_of(doc)
            assert checks[4]["ok"] and "fetched from the hub" in checks[4]["detail"], checks[4]
            assert checks[5]["ok"] and checks[7]["ok"]
    # The second file was checked against checkpoints the first one taught the state file.
    assert checks_of(report["documents"][0])[6]["ok"] is True

    out = io.StringIO()
    assert await asyncio.to_thread(run_revoke, TrustInputs(home=stack.home.root), hub_inputs(stack, MUNI),
                                   paper.ids[1], reason="พิมพ์ผิดฉบับ / wrong copy",
                                   card=card(stack.home, MUNI, paper.case.officer_id), out=out) == 0
    for path in (pdf, png):
        report = await _verify_online(stack, path, state)
        assert not report["valid"] and report["failed"] == [7]
        assert [d["valid"] for d in report["documents"]] == [True, False, True]
        assert "พิมพ์ผิดฉบับ" in checks_of(report["documents"][1])[7]["detail"]


async def test_online_as_an_agency_that_may_not_list_accesses(stack: RunningStack, paper: Paper,
                                                              tmp_path: Path) -> None:
    report = await _verify_online(stack, _write(tmp_path / "case.pdf", paper.signed), tmp_path / "s.json",
                                  agency=MUNI)
    doc = checks_of(report["documents"][0])
    assert doc[4]["ok"] is None and "--agency auditor" in doc[4]["detail"]
    assert doc[7]["ok"] is not None  # revocation is still asked


async def test_online_a_sealed_printout_the_hub_never_logged(stack: RunningStack, paper: Paper,
                                                             tmp_path: Path) -> None:
    # What a thief of the seal key could make: a well-sealed printout that is nowhere in the log.
    home = stack.home
    sealer = seal.Sealer.from_files(home.seal.cert, home.seal.key, home.ca.cert)
    body = unverified_payload(paper.case.printouts[0]) | {
        "printout_id": "00000000-0000-4000-8000-000000000077",
        "issued_at": seal.format_issued_at(dt.datetime.now(dt.UTC))}
    unlogged = sealer.seal(body)
    # pyHanko's synchronous signing runs its own loop: not in this one.
    pdf = await asyncio.to_thread(paper.sign, plain_pdf(("unlogged.jws", unlogged.encode())), paper.signer())
    report = await _verify_online(stack, _write(tmp_path / "unlogged.pdf", pdf), tmp_path / "s.json")
    assert not report["valid"] and report["failed"] == [4], report
    assert "the log holds no entry for printout 00000000-0000-4000-8000-000000000077" in \
        checks_of(report["documents"][0])[4]["detail"]


def test_qr_with_a_bad_agency_certificate_folder(paper: Paper, page_png: bytes, tmp_path: Path) -> None:
    folder = tmp_path / "agencies"
    folder.mkdir()
    (folder / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    code, _, err = verify(paper, page_png, tmp_path, name="page.png",
                          trust=TrustInputs(ca=paper.home.ca.cert, agencies=folder))
    assert code == 2 and f"agency certificates in {folder}" in err and "junk.pem" in err
    empty = tmp_path / "none"
    empty.mkdir()
    code, _, err = verify(paper, page_png, tmp_path, name="page.png",
                          trust=TrustInputs(ca=paper.home.ca.cert, agencies=empty))
    assert code == 2 and "no agency certificates (*.pem)" in err
