"""Photos of real certified papers: the largest house and the largest company in the sandbox, printed by the counter's
own code from printouts the real hub issued (with their log proofs), rendered as a scanner or a phone would see
them (pdftoppm at 150 dpi, JPEG quality 70), then verified by ``linkage verify`` offline, with Tesseract reading
the printed text. A house number painted over on the page (Pillow) is named; bad photos and tampered PDFs get
clear verdicts, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader, PdfWriter

from consumers.auditor import TrustInputs, run_verify
from consumers.auditor.papercode import make_paper_code
from consumers.counter.paper import qr_png
from consumers.counter.printout import CounterSigner, PrintCase, case_claims, certify, render_case_pdf, sign_pdf
from consumers.counter.typeset import FAMILY, FONT_DIR
from linkage import pki
from linkage.config import Home
from linkage.seal import unverified_payload
from linkage.v1 import hub_pb2
from providers import document_types
from providers.synth.largest import largest_company, largest_house_member
from tests.conftest import start_stack
from tests.counter.pdfcheck import tool
from tests.hub.test_fetch import MUNI, fetch, officer, request
from tests.presence import present

DPI = 150


@dataclass(frozen=True)
class Paper:
    name: str
    case: PrintCase
    pdf: bytes
    png: bytes  # the page with the QR code(s), as a 150-dpi scan

    def jpeg(self, quality: int = 70) -> bytes:
        out = io.BytesIO()
        Image.open(io.BytesIO(self.png)).convert("RGB").save(out, "JPEG", quality=quality)
        return out.getvalue()


def _proof(answer: hub_pb2.FetchDocumentResponse) -> str:
    return json.dumps({"printout_id": answer.printout_id, "log_index": answer.log_index,
                       "log_leaf": answer.log_leaf.decode("utf-8"), "checkpoint": answer.checkpoint.note,
                       "inclusion_proof": {"leaf_index": answer.inclusion_proof.leaf_index,
                                           "tree_size": answer.inclusion_proof.tree_size,
                                           "hashes": [base64.b64encode(h).decode() for h in
                                                      answer.inclusion_proof.hashes]}})


async def _cases(home: Home) -> dict[str, PrintCase]:
    member, company = largest_house_member(home), largest_company(home)
    stack = await start_stack(home)
    try:
        cases = {}
        for name, subject, types in (("house", member, ("dopa.person", "dopa.house", "dopa.card")),
                                     ("company", company, ("dbd.juristic",))):
            asked = [request(stack, MUNI, t, subject, case_ref="PHR-2569-00013") for t in types]
            answers = [await fetch(stack, MUNI, await present(stack, MUNI, r) if r.doc_type == "dopa.card" else r)
                       for r in asked]
            data = unverified_payload(answers[0].jws)["data"]
            cases[name] = PrintCase(
                service_name="ขออนุญาตประกอบกิจการที่เป็นอันตรายต่อสุขภาพ", doc_types=document_types(),
                subject_id=subject, subject_name=str(data.get("name_th") or
                                                     f"{data['title']}{data['first_name_th']} {data['last_name_th']}"),
                officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer(stack, MUNI),
                agency_title=stack.settings.agencies[MUNI].title, case_ref="PHR-2569-00013",
                printouts=tuple(a.jws for a in answers), still_to_bring=("แผนที่ตั้งสถานประกอบการ",),
                log_proofs={a.printout_id: _proof(a) for a in answers})
        return cases
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


def scan(pdf: bytes, tmp: Path) -> bytes:
    """The first page at 150 dpi (every page carries the QR codes; the first holds most of the fields)."""
    (tmp / "paper.pdf").write_bytes(pdf)
    subprocess.run([tool("pdftoppm"), "-r", str(DPI), "-png", str(tmp / "paper.pdf"), str(tmp / "page")],
                   check=True, capture_output=True, timeout=60)
    return sorted(tmp.glob("page*.png"))[0].read_bytes()


@pytest.fixture(scope="module")
def papers(sandbox_home: Home, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Paper]:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        cases = pool.submit(asyncio.run, _cases(sandbox_home)).result()
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    out = {}
    for name, case in cases.items():
        pdf = certify(case, signer)
        out[name] = Paper(name, case, pdf, scan(pdf, tmp_path_factory.mktemp(name)))
    return out


def verify(home: Home, data: bytes, tmp: Path, name: str, *, ocr: bool = True) -> tuple[int, Any, str]:
    path = tmp / name
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    code = run_verify(path, TrustInputs(home=home.root), as_json=True, out=out, err=err, ocr=ocr)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, json.loads(out.getvalue()), err.getvalue()


# --- the largest house and company, from a JPEG photo ------------------------------------------------------------

@pytest.mark.parametrize("which", ["house", "company"])
def test_largest_papers_verify_from_a_jpeg_photo_field_by_field(which: str, papers: dict[str, Paper],
                                                                sandbox_home: Home, tmp_path: Path) -> None:
    paper = papers[which]
    code, report, err = verify(sandbox_home, paper.jpeg(70), tmp_path, "photo.jpg")
    assert (code, err) == (0, ""), json.dumps(report, ensure_ascii=False, indent=1)[:3000]
    text = report["paper"]
    said = case_claims(paper.case)
    # Every printed field, as signed, in print order; the photo's text compared with each.
    signed = [(f["label"], f["value"]) for f in text["fields"] if f["section"]]
    assert signed == [row for doc in said.documents for row in doc.rows]
    assert text["officer"] == "นางสาวสุดารัตน์ ทองดี (" + paper.case.officer_id + ")"
    assert MUNI in text["agency"] and "2569" in text["printed_at"]
    assert text["printed_text"]["ok"] is True and not [f for f in text["fields"] if f["status"] == "differs"]
    assert sum(f["status"] == "matches" for f in text["fields"]) >= 0.8 * len(text["fields"])
    if which == "house":
        members = next(v for label, v in signed if label == "ผู้มีชื่ออยู่ในทะเบียนบ้าน")
        count = int(next(v for label, v in signed if label == "จำนวนผู้อาศัย"))
        assert len(members.splitlines()) == count >= 6
    else:
        assert len(unverified_payload(paper.case.printouts[0])["data"]["directors"]) == 3


def test_a_painted_house_number_is_named(papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    paper = papers["house"]
    house = next(unverified_payload(j)["data"] for j in paper.case.printouts
                 if unverified_payload(j)["doc_type"] == "dopa.house")
    number = house["address_text"].split()[0]
    # Where the house document prints its address's first word (the person's record prints it first).
    (tmp_path / "p.pdf").write_bytes(paper.pdf)
    boxes = subprocess.run([tool("pdftotext"), "-bbox", str(tmp_path / "p.pdf"), "-"], capture_output=True,
                           text=True, check=True).stdout
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', boxes)
    # Each shaped run is one span with its /ActualText, so pdftotext gives the address as one word: the number's
    # box is the run's start, as wide as the number's share of the run.
    *box, text = [w for w in words if w[4] == number or w[4].startswith(number + " ")][1]
    x0, y0, x1, y1 = (float(v) * DPI / 72 for v in box)
    font = ImageFont.truetype(str(FONT_DIR / f"{FAMILY}-Regular.ttf"), 40)
    x1 = x0 + (x1 - x0) * font.getlength(number) / font.getlength(text)
    page = Image.open(io.BytesIO(paper.png)).convert("RGB")
    draw = ImageDraw.Draw(page)
    draw.rectangle((x0 - 1, y0, x1 + 1, y1), fill="white")
    changed = str(int(re.sub(r"\D", "", number)[:2] or "1") + 1) + "8"
    draw.text((x0, y0), changed, fill="black", font=ImageFont.truetype(str(FONT_DIR / f"{FAMILY}-Regular.ttf"),
                                                                       round((y1 - y0) * 0.85)))
    out = io.BytesIO()
    page.save(out, "PNG")
    code, report, _ = verify(sandbox_home, out.getvalue(), tmp_path, "painted.png")
    assert code == 1 and report["failed"] == [9], report["failed"]
    differs = [f for f in report["paper"]["fields"] if f["status"] == "differs"]
    # The one-line address is printed under the word a reader knows, ที่อยู่, not the registry's "(บรรทัดเดียว)".
    assert [(f["section"], f["label"]) for f in differs] == [("2. ทะเบียนบ้าน", "ที่อยู่")]
    assert changed in differs[0]["printed"]
    assert "ที่อยู่" in report["paper"]["printed_text"]["detail"]
    assert "บรรทัดเดียว" not in json.dumps(report, ensure_ascii=False)


# --- bad photos --------------------------------------------------------------------------------------------------

def _blurred(paper: Paper) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(paper.png)).convert("L").filter(ImageFilter.GaussianBlur(4)).save(out, "JPEG", quality=70)
    return out.getvalue()


def _without_qr(paper: Paper) -> bytes:
    page = Image.open(io.BytesIO(paper.png))
    out = io.BytesIO()
    page.crop((0, 0, page.width, page.height // 3)).save(out, "PNG")  # the header and the first rows only
    return out.getvalue()


def _multi(sandbox_home: Home, paper: Paper, tmp: Path) -> tuple[list[str], bytes]:
    """The house paper printed with its code cut into three parts (as a larger house's would be), and its scan."""
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    texts = make_paper_code(case_claims(paper.case), signer.key, signer.cert, part_chars=600)
    pdf = sign_pdf(render_case_pdf(paper.case, signer, qr_texts=texts), signer, officer_name="x", officer_id="y")
    return texts, scan(pdf, tmp)


def test_a_multi_part_set_verifies_and_a_truncated_one_names_what_is_missing(
        papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    texts, png = _multi(sandbox_home, papers["house"], tmp_path)
    assert len(texts) == 3
    code, report, _ = verify(sandbox_home, png, tmp_path, "parts.png", ocr=False)
    assert code == 0 and report["paper"]["parts"] == 3, (report, _)
    # The photo cut before the third code: parts 1 and 2 read, 3 missing.
    page = Image.open(io.BytesIO(png))
    import zxingcpp

    codes = sorted(zxingcpp.read_barcodes(page), key=lambda c: c.position.top_left.x)
    cut = io.BytesIO()
    page.crop((0, 0, codes[2].position.top_left.x - 10, page.height)).save(cut, "PNG")
    code, report, err = verify(sandbox_home, cut.getvalue(), tmp_path, "cut.png", ocr=False)
    assert code == 2 and "QR part(s) 3 of 3 missing" in err and "คิวอาร์โค้ดไม่ครบชุด" in err
    assert report["error"] == "unreadable_input"


@pytest.mark.parametrize(("kind", "why"), [
    ("blurred", "no readable QR code"),
    ("no QR", "no readable QR code"),
])
def test_bad_photos_say_what_is_missing(kind: str, why: str, papers: dict[str, Paper], sandbox_home: Home,
                                        tmp_path: Path) -> None:
    data = _blurred(papers["house"]) if kind == "blurred" else _without_qr(papers["house"])
    code, report, err = verify(sandbox_home, data, tmp_path, "bad.jpg")
    assert code == 2 and why in err and "ไม่พบคิวอาร์โค้ดที่อ่านได้ในภาพ" in err, err
    assert report["error"] == "unreadable_input" and report["message_th"]


def test_a_code_from_another_sandbox(papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    other = pki.create_ca(tmp_path / "other-ca")
    cert = pki.issue(other, MUNI, pki.Role.CLIENT, tmp_path / "other", unit="agency")
    signer = CounterSigner(cert.cert, cert.key, other.cert)
    [text] = make_paper_code(case_claims(papers["company"].case), signer.key, signer.cert)
    code, report, _ = verify(sandbox_home, qr_png(text, scale=3), tmp_path, "other.png")
    assert code == 1 and report["failed"] == [1] and report["documents"] == []
    assert "another sandbox" in report["checks"][0]["detail"]


def test_one_bit_changed_in_the_code(papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    [text] = make_paper_code(case_claims(papers["company"].case), signer.key, signer.cert)
    from consumers.auditor.cose import b45decode, b45encode

    raw = bytearray(b45decode(text[4:]))
    raw[len(raw) - 20] ^= 0x10  # inside the signature's bytes, near the end of the stream
    code, report, err = verify(sandbox_home, qr_png("LP1:" + b45encode(bytes(raw)), scale=3), tmp_path, "bit.png")
    assert code in (1, 2), (report, err)
    if code == 1:
        assert report["failed"] == [3] and "does not verify" in report["checks"][1]["detail"]
    else:
        assert "not a readable paper QR code" in err


# --- the PDF proves itself offline, and its attachments are bound ------------------------------------------------

def test_the_pdf_runs_the_log_checks_offline(papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    code, report, _ = verify(sandbox_home, papers["house"].pdf, tmp_path, "case.pdf")
    assert code == 0 and report["failed"] == []
    for doc in report["documents"]:
        checks = {c["number"]: c for c in doc["checks"]}
        assert checks[4]["ok"] is True and checks[5]["ok"] is True, checks
        assert "fetched" not in checks[4]["detail"]
        assert checks[6]["ok"] is None and checks[7]["ok"] is None  # no state given; revocation needs the hub


def test_attachments_removed_or_swapped(papers: dict[str, Paper], sandbox_home: Home, tmp_path: Path) -> None:
    paper = papers["house"]
    # Removed after signing: the signature no longer covers the file as it is.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(paper.pdf)))
    names: Any = writer.root_object["/Names"]
    names.get_object().pop("/EmbeddedFiles")
    stripped = io.BytesIO()
    writer.write(stripped)
    code, report, _ = verify(sandbox_home, stripped.getvalue(), tmp_path, "stripped.pdf")
    assert code == 1 and 3 in report["failed"]
    # Swapped before signing (a counter that mixed them up): each proof names another printout's leaf.
    ids = list(paper.case.log_proofs)
    swapped = dict(zip(ids, [paper.case.log_proofs[i] for i in ids[1:] + ids[:1]], strict=True))
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    pdf = certify(PrintCase(**{**paper.case.__dict__, "log_proofs": swapped}), signer)
    code, report, _ = verify(sandbox_home, pdf, tmp_path, "swapped.pdf")
    assert code == 1 and report["failed"] == [4]
    for doc in report["documents"]:
        check4 = next(c for c in doc["checks"] if c["number"] == 4)
        assert "the log leaf's printout_sha256" in check4["detail"] and "printout_id" in check4["detail"]


def test_a_copy_printed_before_with_the_jws_summary_still_verifies(papers: dict[str, Paper], sandbox_home: Home,
                                                                   tmp_path: Path) -> None:
    """Copies printed before the paper code carry the JWS summary: a photo of one is still read (checks 1 and 3)."""
    from consumers.auditor.summary import make_summary

    case = papers["company"].case
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    summary = make_summary(case.printouts, case.subject_name, signer.key, signer.cert, at=case.printed_at,
                           officer_id=case.officer_id, case_ref=case.case_ref)
    pdf = sign_pdf(render_case_pdf(case, signer, qr_texts=[summary]), signer, officer_name="x", officer_id="y")
    code, report, _ = verify(sandbox_home, scan(pdf, tmp_path), tmp_path, "old.png")
    assert code == 0 and report["paper"] is None and [c["number"] for c in report["checks"]] == [1, 3]
    assert report["documents"][0]["printout"]["printout_id"] == unverified_payload(case.printouts[0])["printout_id"]
