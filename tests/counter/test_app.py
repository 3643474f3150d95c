"""The counter's forms against bad input, over HTTP, with the real hub behind them (aiohttp test client)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pypdf import PdfReader

from consumers.counter.app import create_app
from linkage.ids import with_check_digit
from linkage.seal import unverified_payload
from providers.server import build_server as build_provider
from tests.conftest import RunningStack, start_stack
from tests.counter.conftest import MUNI, Counter, counter_settings, csrf_of, persona
from tests.counter.passkeys import enrolled
from tests.counter.pdfcheck import pyhanko_status

SERVICE = "health-hazard-business"  # five linked document types


def _wrong_check_digit(good: str) -> str:
    return good[:12] + str((int(good[12]) + 1) % 10)


async def test_sign_in_shows_name_and_role(counter: Counter) -> None:
    await counter.sign_in(counter.officers[0])
    page = await (await counter.client.get("/")).text()
    officer = counter.officers[0]
    # The officer's own ID is masked as Thai systems show it on screen: 1-4601-xxxxx-65-4, nowhere whole.
    assert "หัวหน้าสำนักงาน" in page and officer not in page
    assert f"{officer[0]}-{officer[1:5]}-xxxxx-{officer[10:12]}-{officer[12]}" in page
    # The name came from the civil registry through the hub: Thai letters, not the ID again.
    officer_span = page.split('data-testid="officer">', 1)[1].split("<", 1)[0]
    assert officer_span != counter.officers[0] and any("\u0e00" <= ch <= "\u0e7f" for ch in officer_span)
    await counter.sign_in(counter.officers[1])
    assert "เจ้าหน้าที่เคาน์เตอร์บริการ" in await (await counter.client.get("/")).text()


async def test_the_id_form_signs_no_one_in_while_the_hub_requires_sessions(counter: Counter) -> None:
    """[hub] officer_sessions = "required" (the default): /signin leads to the passkey page, and the ID form,
    posted anyway, is refused with the reason in Thai and English; nothing is signed in."""
    resp = await counter.client.get("/signin?next=/reports&expired=1", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin/passkey?next=/reports&expired=1"
    page = await (await counter.client.get(resp.headers["Location"])).text()
    assert "หมดเวลาการใช้งาน" in page and 'data-passkey="signin"' in page
    token = await counter.csrf("/signin/passkey")
    resp = await counter.client.post("/signin", data={"csrf": token, "officer_id": counter.officers[0]},
                                     allow_redirects=False)
    page = await resp.text()
    assert resp.status == 403 and "Set-Cookie" not in resp.headers
    error = page.split('id="officer_id-error"', 1)[1].split("</p>", 1)[0]
    assert "ลงชื่อเข้าใช้ด้วยกุญแจ (passkey) ของตนเองเท่านั้น" in error
    await counter.client.get("/lang/en")
    page = await (await counter.client.post("/signin", data={"csrf": token, "officer_id": counter.officers[0]})).text()
    assert "requires officers to sign in with their own key" in page
    assert (await counter.client.get("/reports", allow_redirects=False)).status == 303  # still not signed in


async def test_cookies_are_httponly_and_strict(counter: Counter) -> None:
    await counter.sign_in()  # enrols the officer's passkey the first time
    token = await counter.csrf("/signin/passkey")
    origin = counter.stack.counter_origin
    passkey = await enrolled(counter.client, counter.stack.home, MUNI, counter.officers[0], origin)
    begun = await (await counter.client.post("/signin/passkey/begin", data={
        "csrf": token, "officer_id": counter.officers[0]})).json()
    resp = await counter.client.post("/signin/passkey/finish", data={
        "csrf": token, "officer_id": counter.officers[0], "statement": begun["statement"], "next": "/",
        "assertion": passkey.assert_(begun["options"], origin)})
    cookie = resp.headers["Set-Cookie"]
    assert resp.status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def _passkey_begin(counter: Counter, officer_id: str) -> tuple[int, str]:
    """The passkey page's first step for officer_id: (status, the Thai reason of a refusal)."""
    token = await counter.csrf("/signin/passkey")
    resp = await counter.client.post("/signin/passkey/begin", data={"csrf": token, "officer_id": officer_id})
    body = await resp.json()
    if resp.status != 200:
        assert len(body["error"]) == 2 and all(body["error"])  # Thai and English
    return resp.status, body.get("error", [""])[0]


async def test_officer_not_on_the_list_is_refused(counter: Counter, personas: list[dict[str, Any]]) -> None:
    outsider = persona(personas, "dopa.person")
    assert outsider not in counter.officers
    status, reason = await _passkey_begin(counter, outsider)
    assert status == 403 and "ไม่อยู่ในรายชื่อเจ้าหน้าที่" in reason
    assert (await counter.client.get("/reports", allow_redirects=False)).status == 303  # still not signed in


async def test_malformed_officer_id_is_answered(counter: Counter) -> None:
    status, reason = await _passkey_begin(counter, "12345")
    assert status == 400 and "13 หลัก" in reason


async def test_sign_in_failures_hold_that_id_not_the_desk(counter: Counter, personas: list[dict[str, Any]]) -> None:
    # One officer mistypes (a real ID, not on the list) at a desk that shares its address with the office.
    typo = persona(personas, "dopa.person")
    for _ in range(counter.settings.signin_per_id):
        assert (await _passkey_begin(counter, typo))[0] == 403
    status, reason = await _passkey_begin(counter, typo)
    assert status == 429 and "5 วินาที" in reason
    # Every other officer at the same address signs in as usual.
    for officer in counter.officers[:3]:
        await counter.sign_in(officer)


def _bad_ids(citizen: str) -> list[tuple[str, str]]:
    return [
        ("110170023070", "13 หลัก"),
        ("11017002307088", "13 หลัก"),
        ("1101700a30708", "0-9"),
        ("9101700230705", "ขึ้นต้นด้วย 9"),
        (_wrong_check_digit(citizen), "เลขตรวจสอบ"),
        (with_check_digit("010553611201"), "ต้องใช้เลขประจำตัวประชาชน"),  # a company's ID for a citizen's service
        ("", "13 หลัก"),
    ]


async def test_malformed_ids_are_answered_next_to_the_field_and_nothing_is_sent(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    await counter.sign_in()
    citizen = persona(personas, "dbd.commerce")
    for bad, hint in _bad_ids(citizen):
        before = counter.stack.hub.hub.log.size
        token = await counter.csrf(f"/cases/new/{SERVICE}")
        resp = await counter.client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": bad,
                                                                         "citizen_present": "1"})
        page = await resp.text()
        assert resp.status == 400, bad
        error = page.split('id="subject_id-error"', 1)[1].split("</p>", 1)[0]
        assert hint in error, (bad, error)
        assert 'aria-invalid="true"' in page
        assert counter.stack.hub.hub.log.size == before, f"{bad!r} reached the hub"


async def test_company_service_wants_a_juristic_id(counter: Counter, personas: list[dict[str, Any]]) -> None:
    await counter.sign_in()
    token = await counter.csrf("/cases/new/food-premises")
    resp = await counter.client.post("/cases/new/food-premises",
                                     data={"csrf": token, "subject_id": persona(personas, "dopa.person")})
    assert resp.status == 400 and "ต้องใช้เลขทะเบียนนิติบุคคล" in await resp.text()


async def test_expired_session_redirects_to_sign_in(stack: RunningStack, tmp_path: Path) -> None:
    settings = counter_settings(stack, tmp_path, session_ttl=0.3)
    async with TestClient(TestServer(create_app(settings))) as client:
        c = Counter(client, settings, stack)
        await c.sign_in()
        assert (await client.get("/reports", allow_redirects=False)).status == 200
        await asyncio.sleep(0.5)
        resp = await client.get(f"/cases/new/{SERVICE}", allow_redirects=False)
        assert resp.status == 303
        assert resp.headers["Location"] == f"/signin?next=/cases/new/{SERVICE}&expired=1"
        page = await (await client.get(resp.headers["Location"])).text()
        assert "หมดเวลาการใช้งาน" in page
        # A form posted with the dead session goes to sign-in too, and nothing is fetched.
        resp = await client.post(f"/cases/new/{SERVICE}", data={"csrf": "x", "subject_id": "1"},
                                 allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/signin")


async def test_service_that_does_not_exist_is_404_in_thai(counter: Counter) -> None:
    for path in ("/manuals/no-such-service", "/reports/no-such-service"):
        if path.startswith("/reports"):
            await counter.sign_in()
        resp = await counter.client.get(path)
        assert resp.status == 404
        assert "ไม่พบบริการ" in await resp.text()
    resp = await counter.client.get("/cases/new/no-such-service")
    assert resp.status == 404 and "ไม่พบบริการ" in await resp.text()
    resp = await counter.client.get("/cases/not-a-case")
    assert resp.status == 404 and "ไม่พบเรื่องนี้" in await resp.text()
    resp = await counter.client.get("/nowhere")
    assert resp.status == 404 and "ไม่พบหน้าที่ต้องการ" in await resp.text()


async def _open_case(counter: Counter, subject: str, service: str = SERVICE) -> str:
    token = await counter.csrf(f"/cases/new/{service}")
    resp = await counter.client.post(f"/cases/new/{service}", data={"csrf": token, "subject_id": subject,
                                                                     "citizen_present": "1"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"]


async def test_case_fetches_in_one_call_and_reports(counter: Counter, personas: list[dict[str, Any]]) -> None:
    await counter.sign_in()
    citizen = persona(personas, "dbd.commerce")
    before = counter.stack.hub.hub.log.size
    where = await _open_case(counter, citizen)
    page = await (await counter.client.get(where)).text()
    fetched = sum(1 for p in personas if p["id"] == citizen for t in p["doc_types"]
                  if t in ("dopa.card", "dopa.house", "dopa.person", "dbd.commerce", "edu.degree"))
    assert counter.stack.hub.hub.log.size == before + fetched
    assert page.count("ตราประทับอิเล็กทรอนิกส์ถูกต้อง") == fetched
    assert "เอกสารที่ผู้ยื่นยังต้องนำมา" in page and "แผนที่ตั้ง" in page
    # A reload shows the same case; another officer cannot open it.
    assert (await counter.client.get(where)).status == 200
    await counter.sign_in(counter.officers[1])
    assert (await counter.client.get(where)).status == 404
    # Reports and the CSV count it.
    report = await (await counter.client.get("/reports")).text()
    assert "ต่ำกว่าเป้าหมาย" in report and "เกินเป้าหมาย" in report
    rows = list(csv.reader(io.StringIO((await (await counter.client.get("/reports.csv")).read()).decode("utf-8-sig"))))
    mine = next(r for r in rows if r and r[0] == SERVICE)
    assert mine[3:6] == ["7", "5", "2"] and mine[6] == "71.4" and mine[8] == "1"
    assert rows[1][0] != "*" and any(r and r[0] == "*" for r in rows)


async def test_provider_down_then_retry_just_that_document(sandbox_home: Any, personas: list[dict[str, Any]],
                                                           tmp_path: Path) -> None:
    stack = await start_stack(sandbox_home, skip=("edu",))
    try:
        settings = counter_settings(stack, tmp_path)
        async with TestClient(TestServer(create_app(settings))) as client:
            c = Counter(client, settings, stack)
            await c.sign_in()
            graduate = persona(personas, "edu.degree")
            where = await _open_case(c, graduate)
            page = await (await client.get(where)).text()
            assert "ดึงเอกสารนี้ไม่ได้" in page and 'data-testid="retry-edu.degree"' in page
            card = page.split('id="doc-edu-degree"', 1)[1].split("</article>", 1)[0]
            assert "กระทรวงการอุดมศึกษา" in card  # names the registry, in Thai
            assert page.count("ตราประทับอิเล็กทรอนิกส์ถูกต้อง") >= 3  # the others were fetched
            # The registry comes back on its configured port; the retry fetches just that one.
            server, _ = await build_provider("edu", sandbox_home.provider_db("edu"), sandbox_home.ca.cert,
                                             sandbox_home.server_cert("edu"), port=stack.settings.providers["edu"].port)
            stack.providers["edu"] = server
            token = csrf_of(page)
            # The hub's channel to the registry may still be backing off: the officer presses again.
            for _ in range(40):
                before = stack.hub.hub.log.size
                resp = await client.post(f"{where}/retry/edu.degree", data={"csrf": token})
                page = await resp.text()
                assert resp.status == 200 and stack.hub.hub.log.size - before in (0, 1)
                if stack.hub.hub.log.size == before + 1:
                    break
                assert 'data-testid="retry-edu.degree"' in page  # still failing, case still there
                await asyncio.sleep(0.25)
            assert 'data-testid="retry-edu.degree"' not in page
            assert "ข้อมูลวุฒิการศึกษา" in page and page.count("ตราประทับอิเล็กทรอนิกส์ถูกต้อง") >= 1
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


async def test_complaints_list_needs_sign_in(counter: Counter) -> None:
    resp = await counter.client.get("/complaints", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    token = await counter.csrf("/complaints/new")
    resp = await counter.client.post("/complaints/new", data={"csrf": token, "office": "", "details": ""})
    page = await resp.text()
    assert resp.status == 400 and 'id="details-error"' in page and 'id="office-error"' in page
    resp = await counter.client.post("/complaints/new", data={
        "csrf": token, "office": "กองช่าง", "service": "building-permit", "demanded": "สำเนาทะเบียนบ้าน",
        "details": "เจ้าหน้าที่ขอสำเนาทะเบียนบ้าน 2 ชุด"})
    assert resp.status == 200 and 'data-testid="complaint-done"' in await resp.text()
    await counter.sign_in()
    page = await (await counter.client.get("/complaints")).text()
    assert "เจ้าหน้าที่ขอสำเนาทะเบียนบ้าน 2 ชุด" in page and "การขออนุญาตก่อสร้างอาคาร" in page


async def test_english_switch(counter: Counter) -> None:
    resp = await counter.client.get("/lang/en?next=/signin")
    page = await resp.text()
    assert 'lang="en"' in page and "Officer sign-in" in page


async def test_serve_reports_its_port_and_stops_when_cancelled(stack: RunningStack, monkeypatch: Any) -> None:
    import aiohttp

    from consumers.counter.app import serve

    monkeypatch.setenv("LINKAGE_COUNTER_HUB", stack.hub_address)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(stack.home, 0, bound.set_result))
    port = await asyncio.wait_for(bound, 10)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/manuals") as resp:
        assert resp.status == 200 and "คู่มือสำหรับประชาชน" in await resp.text()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_card_needs_the_citizen_and_can_be_retried_once_they_come(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    await counter.sign_in()
    token = await counter.csrf("/cases/new/elderly-allowance")
    resp = await counter.client.post("/cases/new/elderly-allowance", data={
        "csrf": token, "subject_id": persona(personas, "dopa.card")}, allow_redirects=False)
    where = resp.headers["Location"]
    page = await (await counter.client.get(where)).text()
    card = page.split('id="doc-dopa-card"', 1)[1].split("</article>", 1)[0]
    shown = card.split("<details", 1)[0]  # the hub's own message is only in the auditor's detail
    assert "ให้ได้เฉพาะเมื่อเจ้าของข้อมูลมาแสดงตนพร้อมบัตร" in shown and "only when" not in shown
    assert "citizen_present: " not in card  # the field the message is about is the hub's business, not the officer's
    await counter.client.get("/lang/en?next=/")
    card = (await (await counter.client.get(where)).text()).split('id="doc-dopa-card"', 1)[1].split("</article>", 1)[0]
    shown = card.split("<details", 1)[0]
    assert "given only when its owner is here with their ID card" in shown and "ให้ได้เฉพาะ" not in shown
    await counter.client.get("/lang/th?next=/")
    resp = await counter.client.post(f"{where}/retry/dopa.card", data={"csrf": token, "citizen_present": "1"})
    card = (await resp.text()).split('id="doc-dopa-card"', 1)[1].split("</article>", 1)[0]
    assert "ตราประทับอิเล็กทรอนิกส์ถูกต้อง" in card


async def test_certify_downloads_one_signed_pdf_with_every_fetched_printout(
        counter: Counter, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    await counter.sign_in()
    citizen = persona(personas, "dbd.commerce")
    where = await _open_case(counter, citizen)
    page = await (await counter.client.get(where)).text()
    token = csrf_of(page)
    resp = await counter.client.post(f"{where}/certify", data={"csrf": token})
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    ref = resp.headers["Content-Disposition"].split('filename="', 1)[1].rstrip('"')
    assert ref.endswith(".pdf") and ref[:-4] in page
    pdf = await resp.read()
    status = await pyhanko_status(pdf, counter.stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.subject.native["common_name"] == MUNI
    # Every document shown as sealed is attached, as the hub issued it, and is about this citizen.
    attached = PdfReader(io.BytesIO(pdf)).attachments
    # Each beside its log proof (<id>.log.json), which the counter kept from the hub's answer.
    proofs = {name for name in attached if name.endswith(".log.json")}
    sealed = {name: data for name, data in attached.items() if name not in proofs}
    assert len(sealed) == len(proofs) == page.count("ตราประทับอิเล็กทรอนิกส์ถูกต้อง") > 0
    assert {n.removesuffix(".log.json") for n in proofs} == {n.removesuffix(".jws") for n in sealed}
    for name, [jws] in sealed.items():
        payload = unverified_payload(jws.decode("ascii"))
        assert name == f"{payload['printout_id']}.jws" and payload["subject_id"] == citizen
        assert payload["officer_id"] == counter.officers[0] and payload["printout_id"] in page
    # Certifying does not close the case.
    assert (await counter.client.get(where)).status == 200

