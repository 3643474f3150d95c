"""Applying online from the citizen's own page (issue 14, item 1): after the card check of /me, the citizen consents,
the form is prefilled from the printouts fetched on that consent, completed, confirmed, stored with the printout
ids, printed signed, and lands in the officers' tracking list."""

from __future__ import annotations

import re
import shutil
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from linkage.config import Home
from linkage.seal import unverified_payload
from tests.conftest import start_stack
from tests.counter.conftest import Counter, counter_settings, csrf_of
from tests.counter.pdfcheck import pyhanko_status

SERVICE = "elderly-allowance"
GOOD = {"phone": "0812345678", "marital_status": "married", "monthly_income": "1500", "payment": "promptpay"}


def _person(personas: list[dict[str, Any]], name: str = "elderly_promptpay") -> dict[str, Any]:
    return next(p for p in personas if p["name"] == name)


async def _my_page(counter: Counter, person: dict[str, Any]) -> tuple[str, str, str]:
    """The citizen's page after their card check: (html, csrf, page token)."""
    csrf = await counter.csrf("/me")
    resp = await counter.client.post("/me", data={"csrf": csrf, "subject_id": person["id"], **person["card"]})
    html = await resp.text()
    assert resp.status == 200, html
    found = re.search(r'name="citizen" value="([^"]+)"', html)
    assert found
    return html, csrf, found.group(1)


def _token(html: str) -> str:
    found = re.search(r'name="citizen" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _db(counter: Counter) -> sqlite3.Connection:
    return sqlite3.connect(counter.settings.database or "")


async def test_an_online_application_is_prefilled_confirmed_printed_and_lands_in_tracking(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    person = _person(personas)
    html, csrf, token = await _my_page(counter, person)
    assert 'data-testid="online-services"' in html and f'data-testid="apply-{SERVICE}"' in html
    assert 'data-testid="apply-food-premises"' not in html  # a company's service: not from a person's page
    resp = await counter.client.post("/me/apply", data={"csrf": csrf, "citizen": token, "service": SERVICE})
    html = await resp.text()
    assert resp.status == 200 and 'data-testid="online-documents"' in html and "ทะเบียนบ้าน" in html

    # No consent ticked: said in both languages; nothing asked of the hub, nothing stored.
    consents_before = len(await counter.stack.hub.hub.consents.of(person["id"]))
    resp = await counter.client.post("/me/apply/fetch", data={"csrf": csrf, "citizen": _token(html),
                                                              "service": SERVICE, "doc_lang": "th"})
    html = await resp.text()
    assert resp.status == 400 and "กรุณาทำเครื่องหมายยินยอม" in html and "Please tick your consent" in html
    assert len(await counter.stack.hub.hub.consents.of(person["id"])) == consents_before

    log_before = counter.stack.hub.hub.log.size
    resp = await counter.client.post("/me/apply/fetch", data={"csrf": csrf, "citizen": _token(html),
                                                              "service": SERVICE, "doc_lang": "th", "consent": "1"})
    html = await resp.text()
    assert resp.status == 200, html
    assert counter.stack.hub.hub.log.size == log_before + 3  # card, house, person: on the citizen's consent
    assert 'data-testid="prefilled-first_name"' in html and person["card"]["first_name_th"] in html
    case_id = re.search(r'name="case" value="([^"]+)"', html)
    assert case_id
    form = {"csrf": csrf, "case": case_id.group(1), "doc_lang": "th", **GOOD}

    # A bad value comes back beside its field, nothing is stored; a value sent for a prefilled field is ignored.
    resp = await counter.client.post("/me/apply/save", data={**form, "citizen": _token(html), "phone": "12345"})
    html = await resp.text()
    assert resp.status == 400 and 'id="f-phone-error"' in html and "ขึ้นต้นด้วย 0" in html
    assert _db(counter).execute("SELECT COUNT(*) FROM application").fetchone()[0] == 0
    resp = await counter.client.post("/me/apply/save", data={**form, "citizen": _token(html), "first_name": "ปลอม"})
    html = await resp.text()
    assert resp.status == 200 and "ปลอม" not in html and "กรุณาตรวจและยืนยัน" in html
    number = re.search(r'data-testid="application-number">([^<]+)<', html)
    app_id = re.search(r'name="application" value="([^"]+)"', html)
    assert number and app_id and re.fullmatch(r"PHR-APP-25\d\d-\d{5}", number.group(1))

    resp = await counter.client.post("/me/apply/confirm", data={"csrf": csrf, "citizen": _token(html),
                                                                "application": app_id.group(1)})
    html = await resp.text()
    assert resp.status == 400 and 'data-testid="unconfirmed"' in html
    resp = await counter.client.post("/me/apply/confirm", data={"csrf": csrf, "citizen": _token(html),
                                                                "application": app_id.group(1),
                                                                "citizen_confirms": "1"})
    html = await resp.text()
    assert resp.status == 200 and "ยื่นแล้ว" in html
    ref = re.search(r'data-testid="case-ref">([^<]+)<', html)
    assert ref

    # Stored online, submitted, with the printouts it was filled from: each taken on the citizen's consent.
    db = _db(counter)
    assert db.execute("SELECT channel, status, subject_id, case_ref FROM application WHERE id = ?",
                      (app_id.group(1),)).fetchone() == ("online", "submitted", person["id"], ref.group(1))
    kept = dict(db.execute("SELECT printout_id, jws FROM application_printout WHERE application_id = ?",
                           (app_id.group(1),)).fetchall())
    used = {r[0] for r in db.execute("SELECT printout_id FROM application_value WHERE application_id = ? AND"
                                     " source = 'printout'", (app_id.group(1),))}
    assert used and used == set(kept)
    for jws in kept.values():
        assert unverified_payload(jws)["consent"]["consent_id"]
    assert dict(db.execute("SELECT name, source FROM application_value WHERE name IN ('phone', 'first_name')"
                           " AND application_id = ?", (app_id.group(1),))) == {"phone": "citizen",
                                                                              "first_name": "printout"}

    # The signed PDF, for the citizen.
    resp = await counter.client.post("/me/apply/pdf", data={"csrf": csrf, "citizen": _token(html),
                                                            "application": app_id.group(1)})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    status = await pyhanko_status(await resp.read(), counter.stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted

    # In the officers' list, any officer of the agency opens it (not only the one it was received by).
    assert db.execute("SELECT status, agency FROM case_track WHERE case_ref = ?", (ref.group(1),)).fetchone() == (
        "received", "phrae-municipality")
    await counter.sign_in(counter.officers[-1])
    assert ref.group(1) in await (await counter.client.get("/tracking")).text()
    page = await (await counter.client.get(f"/tracking/{ref.group(1)}")).text()
    assert f'href="/applications/{app_id.group(1)}"' in page and "ยื่นออนไลน์" in page
    page = await (await counter.client.get(f"/applications/{app_id.group(1)}")).text()
    assert number.group(1) in page and person["card"]["first_name_th"] in page
    # The officer cannot confirm it in the citizen's place.
    officer_csrf = csrf_of(page)
    resp = await counter.client.post(f"/applications/{app_id.group(1)}/confirm",
                                     data={"csrf": officer_csrf, "citizen_confirms": "1"})
    assert resp.status == 403


async def test_an_expired_or_anothers_token_opens_nothing(counter: Counter, personas: list[dict[str, Any]]) -> None:
    resp = await counter.client.post("/me/apply", data={"csrf": await counter.csrf("/me"), "citizen": "forged",
                                                        "service": SERVICE})
    html = await resp.text()
    assert resp.status == 403 and "หมดเวลาแล้ว กรุณากรอกข้อมูลบัตรอีกครั้ง" in html
    _, csrf, token = await _my_page(counter, _person(personas))
    resp = await counter.client.post("/me/apply", data={"csrf": csrf, "citizen": token, "service": "no-such"})
    assert resp.status == 404
    # Another citizen's token finds neither a case in progress nor an application that is not theirs.
    _, csrf, other = await _my_page(counter, _person(personas, "ordinary"))
    resp = await counter.client.post("/me/apply/save", data={"csrf": csrf, "citizen": other, "case": "x" * 16})
    assert resp.status == 404
    resp = await counter.client.post("/me/apply/pdf", data={"csrf": csrf, "citizen": other, "application": "x"})
    assert resp.status == 404


async def test_when_the_registry_is_down_the_citizen_is_told_not_handed_a_blank_form(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    person = _person(personas)
    _, csrf, token = await _my_page(counter, person)
    await counter.stack.providers["dopa"].stop(0)  # the civil registry down: it checks the card behind the consent
    resp = await counter.client.post("/me/apply/fetch", data={"csrf": csrf, "citizen": token, "service": SERVICE,
                                                              "doc_lang": "th", "consent": "1"})
    html = await resp.text()
    assert resp.status == 503 and 'data-testid="online-error"' in html
    assert "ไม่สำเร็จ" in html and "could not be recorded through the linkage hub" in html
    db = _db(counter)
    assert db.execute("SELECT COUNT(*) FROM application").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM open_case").fetchone()[0] == 0


async def test_a_registry_down_is_told_not_handed_a_blank_form(
        sandbox_home: Home, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    """The civil registry goes down after the citizen's card check: the consent's preview cannot be made, the citizen
    is told why in Thai and English, and nothing is stored. (Under the default "required" officer sessions, the
    online fetch carries the citizen's consent in place of an officer's session: the other tests here.)"""
    home = Home(tmp_path / "home")
    shutil.copytree(sandbox_home.root, home.root)
    assert tomllib.loads(home.config_file.read_text(encoding="utf-8"))["hub"].get("officer_sessions",
                                                                                "required") == "required"
    stack = await start_stack(home)
    settings = counter_settings(stack, tmp_path)
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            counter = Counter(client, settings, stack)
            _, csrf, token = await _my_page(counter, _person(personas))
            await stack.providers["dopa"].stop(0)  # after the citizen's card check: the fetch finds it down
            resp = await client.post("/me/apply/fetch", data={"csrf": csrf, "citizen": token, "service": SERVICE,
                                                              "doc_lang": "th", "consent": "1"})
            html = await resp.text()
    finally:
        await stack.stop()
    assert resp.status == 503 and "ขอความยินยอมผ่านระบบเชื่อมโยงไม่สำเร็จ" in html
    assert "The consent could not be recorded through the linkage hub: provider dopa is unavailable" in html
    assert _db(counter).execute("SELECT COUNT(*) FROM application").fetchone()[0] == 0
