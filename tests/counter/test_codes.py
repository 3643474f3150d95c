"""No codes where a Thai counter officer reads: every page of a case in Thai, its error pages and its certified
PDF name documents, roles, registries and reasons in Thai. Codes (``dopa.card``, ``head``,
``citizen_not_present``, "[1] certificate chain") are only inside the auditor's detail, which is closed.

The cases cover what a counter meets: documents fetched, one that needs the citizen present, one the
registry has no record of, one the office has no right to (the hospital's counter), a case with nothing
fetched, and a retry of a document the case does not have.
"""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from providers import document_types
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings, csrf_of
from tests.counter.pdfcheck import tool

SERVICE = "health-hazard-business"  # card, house, person, commerce, degree
_CODES = re.compile("|".join([
    *(rf"(?<![\w.]){re.escape(code)}(?![\w.])" for code in document_types()),
    r"\b[a-z]+(?:_[a-z0-9]+)+\b",  # reason codes: citizen_not_present, no_right, record_not_found, …
    r"\b(?:head|resident|owner)\b",  # roles in the house registration
    r"\b(?:dopa|dbd|edu)\b",  # registries by their provider names
    r"\[\d\]", r"certificate chain",  # the auditor's numbered checks
]))


class _Visible(HTMLParser):
    """The text a browser shows: not inside a closed <details> (its <summary> shows), nor <script>/<style>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0
        self._summary = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("details", "script", "style"):
            self._hidden += 1
        elif tag == "summary":
            self._summary += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("details", "script", "style"):
            self._hidden -= 1
        elif tag == "summary":
            self._summary -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden or self._summary:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


def _no_codes(where: str, text: str) -> None:
    found = sorted({m.group(0) for m in _CODES.finditer(text)})
    assert not found, f"{where} shows codes {found}"


async def _walk_case(c: Counter, subject: str, tmp: Path, *, service: str = SERVICE,
                     present: bool = False) -> dict[str, str]:
    """Every page of one case, by what it is: the form (empty and refused), the case, its retries, certifying."""
    client, pages = c.client, {}
    pages["manual"] = await (await client.get(f"/manuals/{service}")).text()
    pages["form"] = await (await client.get(f"/cases/new/{service}")).text()
    token = csrf_of(pages["form"])
    resp = await client.post(f"/cases/new/{service}", data={"csrf": token, "subject_id": "12345"})
    pages["form refused"] = await resp.text()
    form = {"csrf": token, "subject_id": subject, **({"citizen_present": "1"} if present else {})}
    resp = await client.post(f"/cases/new/{service}", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    where = resp.headers["Location"]
    pages["case"] = await (await client.get(where)).text()
    pages["start"] = await (await client.get("/")).text()
    for doc_type in re.findall(r'data-testid="retry-([\w.]+)"', pages["case"]):
        pages[f"retry {doc_type}"] = await (await client.post(f"{where}/retry/{doc_type}",
                                                               data={"csrf": token})).text()
    resp = await client.post(f"{where}/retry/no.such-type", data={"csrf": token})
    assert resp.status == 404
    pages["retry of another type"] = await resp.text()
    resp = await client.post(f"{where}/certify", data={"csrf": token})
    if resp.content_type == "application/pdf":
        pdf = tmp / "case.pdf"
        pdf.write_bytes(await resp.read())
        pages["certified PDF"] = subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True,
                                                check=True).stdout
    else:
        pages["certify refused"] = await resp.text()
    return pages


def _check(pages: dict[str, str]) -> None:
    for what, page in pages.items():
        _no_codes(what, page if what == "certified PDF" else visible(page))


async def test_a_case_in_thai_shows_no_code(counter: Counter, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    await counter.sign_in()
    # A company director: card (not present), house with its members' roles, person, degree; no commercial record.
    director = next(p for p in personas if p["kind"] == "citizen" and "edu.degree" in p["doc_types"]
                    and "dbd.commerce" not in p["doc_types"])
    pages = await _walk_case(counter, str(director["id"]), tmp_path)
    case = pages["case"]
    assert "เจ้าบ้าน" in visible(case) or "ผู้อาศัย" in visible(case)
    assert "ให้ได้เฉพาะเมื่อเจ้าของข้อมูลมาแสดงตนพร้อมบัตร" in visible(case)
    assert "กรมพัฒนาธุรกิจการค้าไม่มีข้อมูล" in visible(case)
    # The codes are there for an auditor, in the closed detail.
    assert "<code>dopa.card</code>" in case and "<code>citizen_not_present</code>" in case
    assert "certified PDF" in pages
    _check(pages)


async def test_nothing_fetched_and_no_right_show_no_code(stack: RunningStack, personas: list[dict[str, Any]],
                                                         tmp_path: Path) -> None:
    # The hospital's counter: its grants cover the person and the card only, so the house, the commercial
    # registration and the degree are refused for want of a right.
    settings = counter_settings(stack, tmp_path, agency="phrae-hospital")
    async with TestClient(TestServer(create_app(settings))) as client:
        c = Counter(client, settings, stack)
        await c.sign_in(sorted(stack.settings.agencies["phrae-hospital"].officers)[0])
        graduate = next(p for p in personas if p["kind"] == "citizen" and "edu.degree" in p["doc_types"])
        pages = await _walk_case(c, str(graduate["id"]), tmp_path, present=True)
        assert "ไม่ได้รับสิทธิ์ขอ" in visible(pages["case"])
        _check(pages)
        # A company that is not registered: nothing fetched, so nothing to certify.
        pages = await _walk_case(c, "0105500000011", tmp_path, service="food-premises")
        assert "certify refused" in pages
        _check(pages)
