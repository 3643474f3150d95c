"""A certified PDF as poppler reads it: its text layer gives back every printed field exactly, and no two
words on a page overlap.

The case's printouts are real ones fetched through the hub, their data then replaced by names and
addresses rich in what Thai shaping rearranges (SARA AM, stacked tone marks, ฤ and ฦ with LAKKHANGYAO)
and sealed again with the sandbox's own hub seal, so the counter checks and prints them as any other.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers.client import HubClient, Printout
from consumers.counter.display import field_rows
from consumers.counter.printout import CounterSigner, PrintCase, certify_async
from consumers.counter.typeset import thai_words
from linkage.cli.cards import card_of
from linkage.seal import Sealer, unverified_payload
from providers import document_types
from tests.conftest import RunningStack
from tests.counter.conftest import MUNI
from tests.counter.pdfcheck import tool
from tests.officers import session

DOC_TYPES = ("dopa.card", "dopa.house", "dopa.person", "dbd.commerce", "edu.degree")
# pdftotext's word boxes run from the font's ascent to its descent (1.3 em for Sarabun); lines set a little
# closer than that share no ink. Anything more is an overlap.
_TOLERANCE_PT = 0.5
NAME = ("นางสาว", "ลำดวน", "อำนาจเจริญฤทธิ์")
OFFICER = "นางน้ำผึ้ง ฦๅชาคำ"
ADDRESS = "99/9 หมู่ที่ 4 ตำบลน้ำชำ อำเภอสูงเม่น จังหวัดแพร่"
# What each document says instead of what the registry had: every field the page prints is compared.
RICH: dict[str, dict[str, Any]] = {
    "dopa.card": {"title": NAME[0], "first_name_th": NAME[1], "last_name_th": NAME[2],
                  "issued_at": "ที่ว่าการอำเภอเมืองแพร่ จังหวัดแพร่"},
    "dopa.house": {"address_text": ADDRESS, "members": [
        {"personal_id": "", "name_th": " ".join((NAME[0] + NAME[1], NAME[2])), "role": "head", "role_th": "เจ้าบ้าน"},
        {"personal_id": "", "name_th": "เด็กหญิงน้ำค้าง ผู้ใหญ่ยิ่ง", "role": "resident", "role_th": "ผู้อาศัย"},
        {"personal_id": "", "name_th": "นายพฤกษ์ ฤๅษีรักษ์", "role": "resident", "role_th": "ผู้อาศัย"}]},
    "dopa.person": {"title": NAME[0], "first_name_th": NAME[1], "last_name_th": NAME[2], "address_text": ADDRESS},
    "dbd.commerce": {"owner_name_th": "นายอำพล ฤๅษีรักษ์", "shop_name": "ร้านน้ำพริกป้าคำปุ๊ก",
                     "address_text": ADDRESS},
    "edu.degree": {"name_th": " ".join((NAME[0] + NAME[1], NAME[2]))},
}


@dataclasses.dataclass
class Printed:
    case: PrintCase
    path: Path


def _persona(personas: list[dict[str, Any]]) -> dict[str, Any]:
    for p in personas:
        if p["kind"] == "citizen" and set(DOC_TYPES) <= set(p["doc_types"]):
            return p
    raise AssertionError("no citizen persona with " + ", ".join(DOC_TYPES))


def _resealed(stack: RunningStack, jws: str) -> str:
    payload = unverified_payload(jws)
    data = dict(payload["data"])
    for name, value in RICH[payload["doc_type"]].items():
        if name == "members":
            value = [{**m, "personal_id": payload["subject_id"]} for m in value]
        data[name] = value
    sealer = Sealer.from_files(stack.home.seal.cert, stack.home.seal.key, stack.home.ca.cert)
    return sealer.seal({**payload, "data": data})


@pytest.fixture
async def printed(stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path) -> Printed:
    person = _persona(personas)
    officer_id = sorted(stack.settings.agencies[MUNI].officers)[0]
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        answer = await hub.fetch_documents(DOC_TYPES, str(person["id"]), purpose="ขออนุญาตประกอบกิจการ",
                                           officer_session=await session(stack, MUNI, officer_id),
                                           case_ref="PHR-2569-00077",
                                           citizen_card=card_of(stack.home, str(person["id"])))
    printouts = [_resealed(stack, r.jws) for r in answer.values() if isinstance(r, Printout)]
    assert len(printouts) == len(DOC_TYPES), answer
    case = PrintCase(service_name="การขออนุญาตประกอบกิจการที่เป็นอันตรายต่อสุขภาพ", doc_types=document_types(),
                     subject_id=str(person["id"]), subject_name=" ".join((NAME[0] + NAME[1], NAME[2])),
                     officer_name=OFFICER, officer_id=officer_id, agency_title=stack.settings.agencies[MUNI].title,
                     case_ref="PHR-2569-00077", printouts=tuple(printouts),
                     still_to_bring=("แผนที่ตั้งสถานประกอบการ", "ใบรับรองแพทย์ผู้ประกอบการ (ไม่เกิน 1 เดือน)"))
    path = tmp_path / "case.pdf"
    path.write_bytes(await certify_async(case, CounterSigner.from_home(stack.home, MUNI)))
    return Printed(case, path)


def _printed_values(case: PrintCase) -> Iterator[tuple[str, str]]:
    """(label, line) for every line of every field value the PDF prints, and the case's own names."""
    yield "ผู้ยื่นคำขอ", case.subject_name
    yield "เจ้าหน้าที่", case.officer_name
    yield "บริการ", case.service_name
    for item in case.still_to_bring:
        yield "ยังต้องนำมา", item
    for jws in case.printouts:
        payload = unverified_payload(jws)
        for label, value in field_rows(case.doc_types[payload["doc_type"]], payload["data"], "th"):
            for line in value.split("\n"):
                yield label, line


def _as_printed(value: str) -> re.Pattern[str]:
    """``value`` exactly, except that a line may end at any space (which it then replaces) or between words."""
    return re.compile("\n?".join("[ \n]" if ch == " " else re.escape(ch) for ch in value))


def test_every_printed_field_extracts_exactly(printed: Printed) -> None:
    text = subprocess.run([tool("pdftotext"), str(printed.path), "-"], capture_output=True, text=True,
                          check=True).stdout
    missing = [(label, value) for label, value in _printed_values(printed.case)
               if not _as_printed(value).search(text)]
    assert not missing, f"not in the text layer as printed: {missing}\n{text}"
    # What the shaping rearranges, once more by name: SARA AM, stacked tone marks, ฤ and ฦ with LAKKHANGYAO.
    for word in ("ลำดวน", "อำนาจเจริญฤทธิ์", "หมู่ที่ 4", "น้ำชำ", "ผู้ใหญ่ยิ่ง", "ฤๅษีรักษ์", "ฦๅชาคำ", "ป้าคำปุ๊ก"):
        assert word in text, word


def _words(path: Path) -> list[list[tuple[str, float, float, float, float]]]:
    """Every page's words with their boxes (points), as pdftotext -bbox finds them."""
    html = subprocess.run([tool("pdftotext"), "-bbox", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    pages = []
    for page in ET.fromstring(html).iter(f"{{{ns['x']}}}page"):
        pages.append([(w.text or "", float(w.get("xMin", 0)), float(w.get("yMin", 0)), float(w.get("xMax", 0)),
                       float(w.get("yMax", 0))) for w in page.iter(f"{{{ns['x']}}}word")])
    return pages


def test_no_two_words_overlap_on_any_page(printed: Printed) -> None:
    pages = _words(printed.path)
    assert pages and all(pages)
    overlaps = []
    for n, words in enumerate(pages, 1):
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                if (min(a[3], b[3]) - max(a[1], b[1]) > _TOLERANCE_PT
                        and min(a[4], b[4]) - max(a[2], b[2]) > _TOLERANCE_PT):
                    overlaps.append((n, a, b))
    assert not overlaps, "\n".join(f"page {n}: {a} overlaps {b}" for n, a, b in overlaps)
    # The label that ran into its value before: whole, on the card's section.
    text = " ".join(w[0] for words in pages for w in words)
    assert "เลขประจำตัวประชาชนบนบัตร" in text


def test_thai_breaks_between_words_and_never_inside_latin_or_numbers() -> None:
    assert thai_words("เลขประจำตัวประชาชนผู้ประกอบพาณิชยกิจ")[:2] == ("เลขประจำตัว", "ประชาชน")
    assert "".join(thai_words("ที่อยู่ตามทะเบียนบ้าน")) == "ที่อยู่ตามทะเบียนบ้าน"
    for whole in ("12/3", "(TSIC)", "ISO-3166"):
        assert thai_words(whole) == (whole,)
    # Never a piece that starts with a vowel or a mark that belongs to the character before it.
    for piece in thai_words("ผู้ยื่นคำขอน้ำค้างกำลังเดินทางไปที่ว่าการอำเภอ"):
        assert piece[0] not in "\u0e31\u0e33\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c"


def test_the_segmenter_uses_its_bundled_dictionary_and_writes_nothing(tmp_path: Path) -> None:
    # A fresh process with an empty home and no network: PyThaiNLP must neither fetch nor create anything.
    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('no network in this test')\n"
            "socket.socket.connect = refuse; socket.create_connection = refuse\n"
            "from consumers.counter.typeset import thai_words\n"
            "print('|'.join(thai_words('ที่อยู่ตามทะเบียนบ้าน')))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHAINLP_")} | {"HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ที่อยู่|ตาม|ทะเบียนบ้าน"
    assert not list(tmp_path.iterdir())


def test_every_page_is_certified_and_carries_the_whole_qr_set(printed: Printed, stack: RunningStack,
                                                                tmp_path: Path) -> None:
    import io
    import json

    from pypdf import PdfReader

    from consumers.auditor import TrustInputs, run_verify

    def verify(path: Path) -> dict[str, Any]:
        out, err = io.StringIO(), io.StringIO()
        code = run_verify(path, TrustInputs(home=stack.home.root), as_json=True, out=out, err=err, ocr=False)
        assert (code, err.getvalue()) == (0, ""), out.getvalue()[:3000]
        report: dict[str, Any] = json.loads(out.getvalue())
        return report

    pages = len(PdfReader(printed.path).pages)
    assert pages >= 2  # five documents: the case this is about
    verify(printed.path)
    for k in range(1, pages + 1):
        text = subprocess.run([tool("pdftotext"), "-f", str(k), "-l", str(k), str(printed.path), "-"],
                              capture_output=True, text=True, check=True).stdout
        # The certification line, who certified, and "page k of n" with n (filled in at the end) extracted exactly.
        assert "รับรองสำเนาถูกต้อง · Certified copy" in text and OFFICER in text, text[-600:]
        assert f"หน้า {k} จาก {pages}" in text, text[-300:]
        # A photo of this page alone decodes the whole set of QR codes and verifies every document.
        subprocess.run([tool("pdftoppm"), "-r", "150", "-png", "-f", str(k), "-l", str(k), "-singlefile",
                        str(printed.path), str(tmp_path / f"page{k}")], check=True, capture_output=True)
        report = verify(tmp_path / f"page{k}.png")
        assert report["form"] == "qr" and len(report["documents"]) == len(DOC_TYPES), report["form"]
    # The internal label of the registry is not on the paper; the word a reader knows is.
    whole = subprocess.run([tool("pdftotext"), str(printed.path), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "บรรทัดเดียว" not in whole and "(ไทย)" not in whole and "ที่อยู่" in whole
