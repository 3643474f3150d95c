"""The citizen's own page: who read my data, after proving the card, through the real hub."""

from __future__ import annotations

from typing import Any

from consumers.client import HubClient
from tests.counter.conftest import MUNI, Counter, csrf_of
from tests.officers import session


def _me(personas: list[dict[str, Any]]) -> dict[str, Any]:
    return next(p for p in personas if p["kind"] == "citizen" and "card" in p and "edu.degree" in p["doc_types"])


def _form(person: dict[str, Any], token: str, **change: str) -> dict[str, str]:
    return {"csrf": token, "subject_id": person["id"], **person["card"], **change}


async def _read_by_the_municipality(counter: Counter, subject_id: str, purpose: str) -> str:
    stack = counter.stack
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        doc = await hub.fetch_document("edu.degree", subject_id, purpose=purpose,
                                       officer_session=await session(stack, MUNI, counter.officers[1]),
                                       case_ref="PHR-2569-0777")
    return doc.printout_id


async def test_a_citizen_sees_who_read_their_data(counter: Counter, personas: list[dict[str, Any]]) -> None:
    me = _me(personas)
    printout_id = await _read_by_the_municipality(counter, me["id"], "ตรวจสอบวุฒิการศึกษาเพื่อรับสมัครงาน")
    token = await counter.csrf("/me")  # public: no officer sign-in
    resp = await counter.client.post("/me", data=_form(me, token), allow_redirects=False)
    page = await resp.text()
    assert resp.status == 200, page
    table = page.split('data-testid="accesses"', 1)[1].split("</table>", 1)[0]
    row = next(r for r in table.split("<tr>") if printout_id in r)
    assert "ตรวจสอบวุฒิการศึกษาเพื่อรับสมัครงาน" in row and "PHR-2569-0777" in row
    assert counter.stack.settings.agencies[MUNI].title in row  # the office by its name, not its certificate
    assert "วุฒิการศึกษา" in row or "edu.degree" in row
    assert me["id"] not in str(resp.url)  # the ID stays out of the address bar


async def test_wrong_card_details_show_nothing(counter: Counter, personas: list[dict[str, Any]]) -> None:
    me = _me(personas)
    await _read_by_the_municipality(counter, me["id"], "ทดสอบ")
    for change in ({"laser_code": "ZZ9-9999999-99"}, {"birth_date": "25000101"}, {"last_name_th": "ไม่ใช่"}):
        token = await counter.csrf("/me")
        resp = await counter.client.post("/me", data=_form(me, token, **change))
        page = await resp.text()
        assert resp.status == 403, change
        assert "ข้อมูลบนบัตรไม่ตรงกับทะเบียนราษฎร" in page and 'data-testid="accesses"' not in page
        # What was typed comes back (but never the laser code), so the citizen can correct it.
        assert me["card"]["first_name_th"] in page and me["card"]["laser_code"] not in page


async def test_malformed_input_is_answered_next_to_the_field(counter: Counter,
                                                             personas: list[dict[str, Any]]) -> None:
    me = _me(personas)
    cases = [
        ({"subject_id": me["id"][:12]}, "subject_id", "13 หลัก"),
        ({"subject_id": me["id"][:12] + str((int(me["id"][12]) + 1) % 10)}, "subject_id", "เลขตรวจสอบ"),
        ({"birth_date": "2530-01-15"}, "birth_date", "8 หลัก"),
        ({"first_name_th": ""}, "first_name_th", "กรุณากรอก"),
        ({"laser_code": ""}, "laser_code", "กรุณากรอก"),
    ]
    for change, field, words in cases:
        token = await counter.csrf("/me")
        resp = await counter.client.post("/me", data=_form(me, token, **change))
        page = await resp.text()
        assert resp.status == 400, change
        error = page.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
        assert words in error, (change, error)


async def test_guessing_is_limited_and_forms_need_csrf(counter: Counter, personas: list[dict[str, Any]]) -> None:
    me = _me(personas)
    resp = await counter.client.post("/me", data=_form(me, "wrong-token"))
    assert resp.status == 403 and "แบบฟอร์มนี้หมดอายุ" in await resp.text()
    statuses = []
    for _ in range(counter.settings.card_check_attempts + 1):
        token = csrf_of(await (await counter.client.get("/me")).text())
        resp = await counter.client.post("/me", data=_form(me, token, laser_code="ZZ9-9999999-99"))
        statuses.append(resp.status)
    assert statuses[:-1] == [403] * counter.settings.card_check_attempts and statuses[-1] == 429
    # Once blocked, even the right card waits: a guesser learns nothing more.
    token = csrf_of(await (await counter.client.get("/me")).text())
    assert (await counter.client.post("/me", data=_form(me, token))).status == 429
