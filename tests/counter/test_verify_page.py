"""The public /verify page: anyone uploads a photo, scan or PDF of a certified paper and sees what it must say.

The paper is made by the counter itself (an officer signs in, opens a case, certifies it), rendered to a
150-dpi PNG as a scan would be (pdftoppm), and uploaded without signing in. Bad uploads get a Thai page
saying what is missing, never a traceback; uploads are limited per address.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings, csrf_of, persona
from tests.counter.pdfcheck import tool

SERVICE = "elderly-allowance"  # dopa.person, dopa.house: one page


async def certified_pdf(counter: Counter, subject: str) -> bytes:
    """The certified PDF of a case the counter opens for ``subject``, as an officer downloads it."""
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": subject,
                                                                    "citizen_present": "1"}, allow_redirects=False)
    where = resp.headers["Location"]
    token = await counter.csrf(where)
    resp = await counter.client.post(f"{where}/certify", data={"csrf": token})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    return await resp.read()


def scan(pdf: bytes, tmp: Path, dpi: int = 150) -> bytes:
    """The PDF's first page (every page carries the QR codes; the first most of the printed fields) as a PNG at
    ``dpi``, as a scanner would make it."""
    (tmp / "case.pdf").write_bytes(pdf)
    subprocess.run([tool("pdftoppm"), "-r", str(dpi), "-png", str(tmp / "case.pdf"), str(tmp / "page")],
                   check=True, capture_output=True, timeout=60)
    return sorted(tmp.glob("page*.png"))[0].read_bytes()


async def upload(client: TestClient[Any, Any], data: bytes, name: str, kind: str) -> tuple[int, str]:
    """POST ``data`` to /verify as a browser without a session does: the anonymous CSRF token first."""
    token = csrf_of(await (await client.get("/verify")).text())
    form = FormData()
    form.add_field("csrf", token)
    form.add_field("photo", data, filename=name, content_type=kind)
    resp = await client.post("/verify", data=form)
    return resp.status, await resp.text()


@pytest.fixture
async def paper(counter: Counter, personas: list[dict[str, Any]], tmp_path: Path) -> tuple[bytes, bytes, str]:
    subject = persona(personas, "dopa.house")
    pdf = await certified_pdf(counter, subject)
    counter.client.session.cookie_jar.clear()  # what follows is anyone's, signed in or not
    return pdf, scan(pdf, tmp_path), subject


async def test_a_scan_shows_every_signed_field_without_signing_in(counter: Counter,
                                                                   paper: tuple[bytes, bytes, str]) -> None:
    _, png, subject = paper
    status, page = await upload(counter.client, png, "scan.png", "image/png")
    assert status == 200, page
    verdict = page.split('data-testid="verdict"', 1)[1]
    assert "ถูกต้อง" in verdict.split("</h2>", 1)[0] and "ไม่ถูกต้อง" not in verdict.split("</h2>", 1)[0]
    assert "ห่วงโซ่ใบรับรอง" in verdict and "ลายมือชื่อของเจ้าหน้าที่" in verdict and "ข้อความที่พิมพ์" in verdict
    assert 'data-testid="certified-by"' in page and "phrae-municipality" in page
    fields = page.split('data-testid="fields"', 1)[1]
    assert subject in fields and "ทะเบียนบ้าน" in fields
    assert fields.count('data-status="matches"') > 10 and 'data-status="differs"' not in fields
    # Offline: the page says revocation was not asked.
    assert "ไม่ได้ถามศูนย์กลางว่าเอกสารถูกเพิกถอนหรือไม่" in page


async def test_the_certified_pdf_proves_itself_offline(counter: Counter, paper: tuple[bytes, bytes, str]) -> None:
    pdf, _, _ = paper
    status, page = await upload(counter.client, pdf, "case.pdf", "application/pdf")
    assert status == 200, page
    checks = page.split('data-testid="checks"', 1)[1].split("</ul>", 1)[0]
    # The inclusion proof and checkpoint ride in the PDF: checks 4 and 5 pass without the hub.
    assert '<li data-ok="True">[4] ✓ อยู่ในบันทึกการแลกเปลี่ยน' in checks, checks
    assert '<li data-ok="True">[5] ✓ ลายมือชื่อของจุดตรวจ' in checks
    assert 'data-ok="False"' not in checks


@pytest.mark.parametrize(("data", "name", "kind", "why"), [
    (b"", "empty.png", "image/png", "ไฟล์ว่างเปล่า"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "broken.png", "image/png", "ไม่ใช่ภาพที่อ่านได้"),
    (b"%PDF-1.7\nnot really", "broken.pdf", "application/pdf", "not a readable PDF"),
])
async def test_bad_uploads_say_what_is_wrong(counter: Counter, data: bytes, name: str, kind: str, why: str) -> None:
    status, page = await upload(counter.client, data, name, kind)
    assert status == 422 and why in page and 'data-testid="verify-error"' in page, page[-2000:]
    assert "Traceback" not in page


async def test_a_photo_without_a_qr_code(counter: Counter, tmp_path: Path) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (800, 600), 255).save(blank)
    status, page = await upload(counter.client, blank.read_bytes(), "blank.png", "image/png")
    assert status == 422 and "ไม่พบคิวอาร์โค้ดที่อ่านได้ในภาพ" in page


async def test_no_file_is_asked_for_again(counter: Counter) -> None:
    token = csrf_of(await (await counter.client.get("/verify")).text())
    resp = await counter.client.post("/verify", data={"csrf": token})
    assert resp.status == 400 and "กรุณาเลือกไฟล์" in await resp.text()


async def test_uploads_are_limited_per_address(stack: RunningStack, tmp_path: Path) -> None:
    settings = counter_settings(stack, tmp_path, verify_limit=2)
    async with TestClient(TestServer(create_app(settings))) as client:
        for _ in range(2):
            assert (await upload(client, b"", "empty.png", "image/png"))[0] == 422
        status, page = await upload(client, b"", "empty.png", "image/png")
        assert status == 429 and "กรุณารอ 10 นาที" in page
