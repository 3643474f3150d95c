"""A case page as the officer works it: whom it is about, what a retry can still fetch, what the applicant must
bring, and pages that lead back to the case."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings, csrf_of
from tests.counter.pdfcheck import tool

SERVICE = "health-hazard-business"
HOSPITAL = "phrae-hospital"
# What the hospital may not read (its grants are the person and the card): refused for want of a right.
NO_RIGHT = ("dopa.house", "dbd.commerce", "edu.degree")


@pytest.fixture
async def hospital(stack: RunningStack, tmp_path: Path) -> AsyncIterator[Counter]:
    """A counter acting for the hospital, whose grants cover the person and the card only."""
    settings = counter_settings(stack, tmp_path, agency=HOSPITAL)
    async with TestClient(TestServer(create_app(settings))) as client:
        c = Counter(client, settings, stack)
        await c.sign_in(sorted(stack.settings.agencies[HOSPITAL].officers)[0])
        yield c


def _graduate(personas: list[dict[str, Any]]) -> str:
    return str(next(p["id"] for p in personas if p["kind"] == "citizen" and set(NO_RIGHT) <= set(p["doc_types"])))


async def _open(c: Counter, subject: str, service: str = SERVICE) -> tuple[str, str]:
    """Open a case with the citizen present; (its URL, its page)."""
    token = await c.csrf(f"/cases/new/{service}")
    resp = await c.client.post(f"/cases/new/{service}", allow_redirects=False,
                               data={"csrf": token, "subject_id": subject, "citizen_present": "1"})
    assert resp.status == 303, await resp.text()
    where = resp.headers["Location"]
    return where, await (await c.client.get(where)).text()


def _between(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


async def test_no_right_is_not_retried_and_is_still_to_bring(hospital: Counter, personas: list[dict[str, Any]],
                                                              tmp_path: Path) -> None:
    subject = _graduate(personas)
    where, page = await _open(hospital, subject)
    names = {d.doc_type: d.name for d in load_manuals(DEFAULT_FOLDER)[SERVICE].documents if d.linked}
    bring = _between(page, 'data-testid="brought"', "</ul>")
    for doc_type in NO_RIGHT:
        card = _between(page, f'id="doc-{doc_type.replace(".", "-")}"', "</article>")
        assert "ไม่ได้รับสิทธิ์ขอ" in card and "ดึงอีกครั้งก็ไม่ได้" in card
        assert f'data-testid="retry-{doc_type}"' not in card  # retrying cannot help: not offered
        assert names[doc_type] in bring
    # The documents that were fetched are not listed, and the manual's own are.
    assert names["dopa.person"] not in bring and "แผนที่ตั้ง" in bring
    # The header names the applicant as well as the ID: the name from the civil registry's record.
    card = next(p["card"] for p in personas if p["id"] == subject)
    applicant = _between(page, 'data-testid="applicant">', "<")
    assert applicant.endswith(f"{card['first_name_th']} {card['last_name_th']}"), applicant
    # The certified copy lists them as still to bring too.
    resp = await hospital.client.post(f"{where}/certify", data={"csrf": csrf_of(page)})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    path = tmp_path / "case.pdf"
    path.write_bytes(await resp.read())
    text = subprocess.run([tool("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout
    listed = text.split("เอกสารที่ผู้ยื่นคำขอยังต้องนำมาแสดง", 1)[1]
    for doc_type in NO_RIGHT:
        assert names[doc_type].split(" ")[0] in listed, (doc_type, listed)



async def test_print_only_what_was_fetched_and_every_error_leads_back_to_the_case(counter: Counter) -> None:
    await counter.sign_in()
    # A company the registry does not know: nothing fetched, so no print button.
    where, page = await _open(counter, "0105500000011", service="food-premises")
    assert 'data-testid="certify"' not in page and 'data-testid="nothing-to-certify"' in page
    token = csrf_of(page)
    errors = {
        "certify with nothing fetched": await counter.client.post(f"{where}/certify", data={"csrf": token}),
        "retry of a type not in the case": await counter.client.post(f"{where}/retry/dopa.card",
                                                                    data={"csrf": token}),
        "a form without its token": await counter.client.post(f"{where}/retry/dbd.juristic", data={}),
    }
    for what, resp in errors.items():
        assert resp.status in (403, 404, 503), (what, resp.status)
        back = re.search(r'<a class="button" href="([^"]+)" data-testid="back">([^<]*)</a>', await resp.text())
        assert back is not None, what
        assert back.group(1) == where and back.group(2).startswith("กลับไปที่เรื่อง PHR-"), (what, back.groups())
    # The case is as it was: the ID entered, the citizen marked present, the document's reason.
    page = await (await counter.client.get(where)).text()
    assert "0105500000011" in page and _between(page, "ผู้ยื่นมาแสดงตน</dt><dd>", "<") == "ใช่"
    assert "กรมพัฒนาธุรกิจการค้าไม่มีข้อมูล" in page
    # Another officer's error page for this case does not lead into it.
    await counter.sign_in(counter.officers[1])
    resp = await counter.client.post(f"{where}/certify", data={"csrf": await counter.csrf("/")})
    assert resp.status == 404 and 'data-testid="back"' not in await resp.text()
