"""The certified printout from REAL printouts fetched through the hub, checked by pyHanko, poppler and zxing-cpp."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader

from consumers.auditor.bundle import LOG_PROOF_SUFFIX, proof_json
from consumers.auditor.papercode import join_parts, verify_paper_code
from consumers.auditor.summary import SummaryTrust
from consumers.client import HubClient, Printout
from consumers.counter.printout import (
    SIGNATURE_FIELD,
    BadCase,
    CounterSigner,
    PrintCase,
    SealInvalid,
    case_claims,
    certify_async,
    render_case_pdf,
)
from linkage.cli.cards import card_of
from linkage.seal import printout_digest, unverified_payload
from providers import document_types
from tests.conftest import RunningStack
from tests.counter.conftest import MUNI
from tests.counter.pdfcheck import pdfsig, pyhanko_status, read_qr, tool
from tests.officers import session

DOC_TYPES = ("dopa.person", "dopa.house", "edu.degree")


def _persona(personas: list[dict[str, Any]]) -> dict[str, Any]:
    for p in personas:
        if p["kind"] == "citizen" and set(DOC_TYPES) <= set(p["doc_types"]):
            return p
    raise AssertionError("no citizen persona with " + ", ".join(DOC_TYPES))


async def _fetch(stack: RunningStack, subject_id: str, officer_id: str) -> list[Printout]:
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        answer = await hub.fetch_documents(DOC_TYPES, subject_id, purpose="ขึ้นทะเบียนผู้สูงอายุ",
                                           officer_session=await session(stack, MUNI, officer_id),
                                           case_ref="PHR-2569-0042",
                                           citizen_card=card_of(stack.home, subject_id))
    assert list(answer) == list(DOC_TYPES), answer
    assert all(isinstance(r, Printout) for r in answer.values()), answer
    return [r for r in answer.values() if isinstance(r, Printout)]


class Certified:
    def __init__(self, case: PrintCase, pdf: bytes, tmp: Path, stack: RunningStack, name: str) -> None:
        self.case, self.pdf, self.tmp, self.stack, self.name = case, pdf, tmp, stack, name
        self.path = tmp / "case.pdf"
        self.path.write_bytes(pdf)


@pytest.fixture
async def certified(stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path) -> Certified:
    person = _persona(personas)
    officer_id = sorted(stack.settings.agencies[MUNI].officers)[0]
    fetched = await _fetch(stack, str(person["id"]), officer_id)
    printouts = [p.jws for p in fetched]
    data = unverified_payload(printouts[0])["data"]
    name = f"{data['title']}{data['first_name_th']} {data['last_name_th']}"
    case = PrintCase(service_name="ขึ้นทะเบียนรับเงินเบี้ยยังชีพผู้สูงอายุ", doc_types=document_types(),
                     subject_id=str(person["id"]),
                     subject_name=name, officer_name="นางสาวสุดารัตน์ ทองดี", officer_id=officer_id,
                     agency_title=stack.settings.agencies[MUNI].title, case_ref="PHR-2569-0042",
                     printouts=tuple(printouts), still_to_bring=("สมุดบัญชีเงินฝากธนาคาร (หน้าแรก)",),
                     log_proofs={p.printout_id: proof_json(p.bundle()) for p in fetched})
    signer = CounterSigner.from_home(stack.home, MUNI)
    return Certified(case, await certify_async(case, signer), tmp_path, stack, name)


async def test_signature_valid_for_pyhanko(certified: Certified) -> None:
    status = await pyhanko_status(certified.pdf, certified.stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION")
    assert status.signing_cert.subject.native["common_name"] == MUNI
    reader = PdfFileReader(io.BytesIO(certified.pdf))
    [sig] = reader.embedded_signatures
    assert sig.field_name == SIGNATURE_FIELD
    assert sig.sig_object["/Name"] == certified.case.officer_name
    assert certified.case.officer_id in sig.sig_object["/Reason"]


async def test_signature_valid_forpdfsig(certified: Certified) -> None:
    out = pdfsig(certified.path, certified.stack.home.ca.cert, certified.tmp)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert f"Signer Certificate Common Name: {MUNI}" in out, out
    assert "Total document signed" in out, out


async def test_thai_text_extracts_on_at_most_two_pages(certified: Certified) -> None:
    pdftotext = tool("pdftotext")
    text = subprocess.run([pdftotext, "-layout", str(certified.path), "-"], capture_output=True, text=True,
                          check=True).stdout
    # Shaped Thai extracts to the same characters (the name and, e.g., the certification sentence's words).
    assert certified.name in text, text[:2000]
    assert "ขอรับรองว่าเอกสารนี้พิมพ์จากระบบเชื่อมโยงข้อมูลของทางราชการ" in text
    assert certified.case.officer_name in text and certified.case.officer_id in text
    for jws in certified.case.printouts:
        assert unverified_payload(jws)["printout_id"] in text
    # Buddhist-era dates: the birth date and the print time in Thai words with a BE year.
    birth = unverified_payload(certified.case.printouts[0])["data"]["birth_date"]
    assert f"{int(birth[:4])}" in text and any(m in text for m in ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน",
                                                                  "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
                                                                  "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"))
    printed = certified.case.printed_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert str(printed.year + 543) in text
    # Three documents, the officer's certification, and on every page the band with the QR codes: two pages.
    assert len(PdfReader(io.BytesIO(certified.pdf)).pages) <= 2


async def test_every_jws_is_attached_byte_for_byte_with_its_log_proof(certified: Certified) -> None:
    attached = PdfReader(io.BytesIO(certified.pdf)).attachments
    expected = {f"{unverified_payload(j)['printout_id']}.jws": j.encode("ascii") for j in certified.case.printouts}
    proofs = {f"{pid}{LOG_PROOF_SUFFIX}": proof.encode() for pid, proof in certified.case.log_proofs.items()}
    assert len(proofs) == len(expected) and set(attached) == set(expected) | set(proofs)
    for name, data in (expected | proofs).items():
        assert attached[name] == [data]
    for name, [data] in attached.items():
        if name.endswith(LOG_PROOF_SUFFIX):
            proof = json.loads(data)
            assert {"log_leaf", "inclusion_proof", "checkpoint", "log_index"} <= set(proof), proof
            assert "jws" not in proof


async def test_qr_decodes_from_the_rendered_page_and_verifies(certified: Certified) -> None:
    whole, parts = join_parts(read_qr(certified.path, certified.tmp))
    report = verify_paper_code(whole, SummaryTrust.from_pki_dir(certified.stack.home.pki), parts=parts)
    said = report.claims
    assert report.signer == MUNI and said.subject_id == certified.case.subject_id
    assert said.subject_name == certified.name and said.officer_name == certified.case.officer_name
    assert [d.printout_id for d in said.documents] == [unverified_payload(j)["printout_id"]
                                                         for j in certified.case.printouts]
    assert [d.doc_type for d in said.documents] == list(DOC_TYPES)
    for jws, doc in zip(certified.case.printouts, said.documents, strict=True):
        assert doc.matches(jws) and bytes.fromhex(printout_digest(jws))[:16] == doc.digest
    assert abs(said.printed_at - certified.case.printed_at) < dt.timedelta(seconds=1)
    # The QR code signs exactly the fields the page prints, and every value is on the page.
    assert said == case_claims(certified.case)
    text = subprocess.run([tool("pdftotext"), "-raw", str(certified.path), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = "".join(text.split())
    for doc in said.documents:
        for label, value in doc.rows:
            assert "".join(value.split()) in flat, (label, value)


async def test_tampered_pdf_fails_both_checkers(certified: Certified) -> None:
    # Flip one byte inside the signed range, in the page's content (not in the signature's hole).
    pdf = bytearray(certified.pdf)
    at = pdf.index(b"stream", 2000) + 40
    pdf[at] ^= 0x01
    tampered = bytes(pdf)
    status = await pyhanko_status(tampered, certified.stack.home.ca.cert)
    assert not (status.intact and status.valid)
    path = certified.tmp / "tampered.pdf"
    path.write_bytes(tampered)
    out = pdfsig(path, certified.stack.home.ca.cert, certified.tmp)
    assert "Signature Validation:" in out and "Signature is Valid" not in out, out


async def test_a_broken_seal_is_never_certified(certified: Certified) -> None:
    signer = CounterSigner.from_home(certified.stack.home, MUNI)
    first = certified.case.printouts[0]
    head, payload, sig = first.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    case = PrintCase(**{**certified.case.__dict__, "printouts": (forged, *certified.case.printouts[1:])})
    with pytest.raises(SealInvalid) as info:
        render_case_pdf(case, signer)
    assert info.value.code == "seal_invalid" and info.value.message_th
    with pytest.raises(BadCase):
        render_case_pdf(PrintCase(**{**certified.case.__dict__, "printouts": ()}), signer)
    with pytest.raises(BadCase):
        render_case_pdf(PrintCase(**{**certified.case.__dict__, "subject_id": "1540477440880"}), signer)
    with pytest.raises(BadCase):
        render_case_pdf(PrintCase(**{**certified.case.__dict__, "printouts": ("not.a-jws",)}), signer)
