"""Applications prefilled from linkage (issue 14, item 1): the forms as data, values read and checked in either
language, and an application taken at the counter, stored with the printouts it came from, printed signed."""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from consumers.counter.applications.forms import KINDS, AppForm, FormField, load_form, load_forms
from consumers.counter.applications.values import FieldProblem, parse, shown, typed
from consumers.counter.errors import ManualError
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from linkage.seal import unverified_payload
from tests.counter.conftest import Counter, csrf_of
from tests.counter.pdfcheck import pyhanko_status, tool

SERVICE = "elderly-allowance"  # dopa.card, dopa.house, dopa.person
FORMS = DEFAULT_FOLDER / "forms"


def _forms() -> dict[str, AppForm]:
    return load_forms(FORMS, load_manuals(DEFAULT_FOLDER))


def test_every_manual_has_a_form_with_every_text_in_both_languages() -> None:
    manuals, forms = load_manuals(DEFAULT_FOLDER), _forms()
    assert sorted(forms) == sorted(manuals)
    for form in forms.values():
        assert form.fields and any(f.prefilled for f in form.fields) and any(not f.prefilled for f in form.fields)
        for th, en in [(form.title_th, form.title_en), (form.declaration_th, form.declaration_en),
                       *((f.th, f.en) for f in form.fields), *((c.th, c.en) for f in form.fields for c in f.choices)]:
            assert re.search("[\u0e00-\u0e7f]", th), (form.service_id, th)  # Thai text
            assert en.isascii() and re.search("[A-Za-z]", en), (form.service_id, en)  # English text
        for f in form.fields:
            assert f.kind in KINDS
            assert f.doc_type is None or f.doc_type in manuals[form.service_id].linked_doc_types


@pytest.mark.parametrize(("change", "problem"), [
    (('en = "Phone number"', ''), "missing its English text (en)"),
    (('th = "หมายเลขโทรศัพท์ที่ติดต่อได้"', ''), "missing its Thai text (th)"),
    (('field = "birth_date"', 'field = "birth_date"\ncitizen = true'), "give either doc_type and field"),
    (('doc_type = "dopa.person"', 'doc_type = "edu.degree"'), "the manual does not fetch 'edu.degree'"),
    (('kind = "phone"', 'kind = "telephone"'), "kind must be one of"),
    (('max = 1000000', 'max = 1000000\nmaxlen = 3'), "unknown key 'maxlen'"),
])
def test_a_wrong_form_file_is_refused_naming_the_line(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    manual = load_manuals(DEFAULT_FOLDER)[SERVICE]
    text = (FORMS / f"{SERVICE}.toml").read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / f"{SERVICE}.toml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ManualError) as err:
        load_form(bad, manual)
    assert problem in err.value.problem and err.value.line > 1, str(err.value)


def test_a_form_without_its_manual_is_refused(tmp_path: Path) -> None:
    (tmp_path / "no-such-service.toml").write_text((FORMS / f"{SERVICE}.toml").read_text(encoding="utf-8"))
    with pytest.raises(ManualError, match=r"no manual no-such-service\.toml"):
        load_forms(tmp_path, load_manuals(DEFAULT_FOLDER))


BIRTH = FormField("birth", "วันเกิด", "Date of birth", "date", past=True)
INCOME = FormField("income", "รายได้", "Income", "integer", min=0, max=1_000_000)
PHONE = FormField("phone", "โทรศัพท์", "Phone", "phone")
ACCOUNT = FormField("account", "บัญชี", "Account", "bank_account", required=False)
ID13 = FormField("signer", "เลขประจำตัว", "Personal ID", "id13")
TODAY = dt.date(2026, 12, 3)


@pytest.mark.parametrize(("field", "raw", "lang", "expected"), [
    (BIRTH, "5/3/2510", "th", "1967-03-05"),
    (BIRTH, "5/3/1967", "en", "1967-03-05"),
    (BIRTH, " 29 / 2 / 2567 ", "th", "2024-02-29"),
    (INCOME, "12,000", "th", "12000"),
    (PHONE, "081-234-5678", "en", "0812345678"),
    (ACCOUNT, "", "th", ""),
    (ID13, "1-1017-00230-70-8", "th", "1101700230708"),
])
def test_values_are_read_into_one_form_whatever_the_language(field: FormField, raw: str, lang: str,
                                                             expected: str) -> None:
    value = parse(field, raw, lang, TODAY)
    assert value == expected
    assert parse(field, typed(field, value, lang), lang, TODAY) == value  # what the form shows reads back


@pytest.mark.parametrize(("field", "raw", "lang", "says"), [
    (BIRTH, "5/3/1967", "th", "ไม่ใช่ปีพุทธศักราช"),
    (BIRTH, "5/3/2510", "en", "is not a Gregorian year"),
    (BIRTH, "1967-03-05", "en", "DD/MM/YYYY"),
    (BIRTH, "31/2/2510", "th", "ไม่มีวันที่ 31/2"),
    (BIRTH, "1/1/2570", "th", "ต้องไม่เลยวันนี้"),
    (INCOME, "-5", "en", "A whole number"),
    (INCOME, "2000000", "th", "ต้องอยู่ระหว่าง 0 ถึง 1,000,000"),
    (INCOME, "2000000", "en", "Must be between 0 and 1,000,000."),
    (PHONE, "12345", "th", "ขึ้นต้นด้วย 0"),
    (PHONE, "", "en", "Please fill in phone."),
    (ACCOUNT, "12345", "en", "10 to 12 digits (this has 5)"),
    (ID13, "1101700230709", "th", "เลขตรวจสอบ"),
    (ID13, "1101700230709", "en", "Check digit should be 8"),
])
def test_a_bad_value_says_what_is_expected_in_the_forms_language(field: FormField, raw: str, lang: str,
                                                                 says: str) -> None:
    with pytest.raises(FieldProblem) as problem:
        parse(field, raw, lang, TODAY)
    assert says in problem.value.message(lang)


def test_dates_show_in_each_languages_era() -> None:
    assert shown(BIRTH, "1967-03-05", "th") == "5 มีนาคม 2510"
    assert shown(BIRTH, "1967-03-05", "en") == "5 March 1967"
    assert typed(BIRTH, "1967-03-05", "th") == "5/3/2510" and typed(BIRTH, "1967-03-05", "en") == "5/3/1967"


def _subject(personas: list[dict[str, Any]]) -> dict[str, Any]:
    return next(p for p in personas if p["kind"] == "citizen"
                and {"dopa.card", "dopa.house", "dopa.person"} <= set(p["doc_types"]))


async def open_case(counter: Counter, subject: str) -> str:
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": subject,
                                                                    "citizen_present": "1"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return str(resp.headers["Location"])


GOOD = {"phone": "0812345678", "marital_status": "widowed", "monthly_income": "3000", "payment": "bank",
        "bank_account": "1234567890"}


async def test_an_application_is_prefilled_confirmed_stored_with_its_printouts_and_printed_signed(
        counter: Counter, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    person = _subject(personas)
    where = await open_case(counter, person["id"])
    page = await (await counter.client.get(f"{where}/application")).text()
    token = csrf_of(page)
    # Bad values come back next to their fields, in the form's language, and nothing is stored.
    bad = {**GOOD, "phone": "12345", "monthly_income": "2000000", "csrf": token, "doc_lang": "th"}
    resp = await counter.client.post(f"{where}/application", data=bad, allow_redirects=False)
    assert resp.status == 400
    html = await resp.text()
    assert 'id="f-phone-error"' in html and "ขึ้นต้นด้วย 0" in html and "ต้องอยู่ระหว่าง 0 ถึง 1,000,000" in html
    assert 'value="12345"' in html  # as typed
    resp = await counter.client.post(f"{where}/application", data={**bad, "doc_lang": "en"}, allow_redirects=False)
    html = await resp.text()
    assert "starting with 0" in html and "Must be between 0 and 1,000,000." in html and "ขึ้นต้น" not in html
    db = sqlite3.connect(counter.settings.database or "")
    assert db.execute("SELECT COUNT(*) FROM application").fetchone()[0] == 0

    # A value sent for a prefilled field is ignored: what is stored is what the registry sealed.
    resp = await counter.client.post(f"{where}/application", data={**GOOD, "first_name": "ปลอม", "csrf": token,
                                                                   "doc_lang": "th"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    app_url = resp.headers["Location"]
    page = await (await counter.client.get(app_url)).text()
    number = re.search(r'data-testid="application-number">([^<]+)<', page)
    assert number and re.fullmatch(r"PHR-APP-25\d\d-\d{5}", number.group(1))
    assert "ปลอม" not in page
    # The PDF waits for the applicant's confirmation.
    resp = await counter.client.post(f"{app_url}/pdf", data={"csrf": token})
    assert resp.status == 503 and "ยังไม่ได้ยืนยัน" in await resp.text()
    resp = await counter.client.post(f"{app_url}/confirm", data={"csrf": token}, allow_redirects=False)
    assert "unconfirmed=1" in resp.headers["Location"]
    resp = await counter.client.post(f"{app_url}/confirm", data={"csrf": token, "citizen_confirms": "1"})
    assert "ยื่นแล้ว" in await resp.text()
    # Submitted: the form cannot change it any more.
    resp = await counter.client.post(f"{where}/application", data={**GOOD, "phone": "0899999999", "csrf": token},
                                     allow_redirects=False)
    assert resp.headers["Location"] == app_url

    # Every prefilled value traces to a sealed printout kept with the application, holding that very value.
    rows = db.execute("SELECT v.name, v.value, v.doc_field, p.jws FROM application_value v JOIN application_printout p"
                      " ON p.application_id = v.application_id AND p.printout_id = v.printout_id"
                      " WHERE v.source = 'printout'").fetchall()
    assert {r[0] for r in rows} >= {"personal_id", "first_name", "last_name", "birth_date", "address"}
    for name, value, doc_field, jws in rows:
        sealed = unverified_payload(jws)["data"][doc_field]
        assert value == sealed or (name == "birth_date" and value.replace("-", "") == _gregorian(sealed))
    citizen_rows = dict(db.execute("SELECT name, value FROM application_value WHERE source = 'citizen'").fetchall())
    assert citizen_rows == {**GOOD, "monthly_income": "3000"}
    assert db.execute("SELECT value FROM application_value WHERE name = 'phone'").fetchone()[0] == "0812345678"

    resp = await counter.client.post(f"{app_url}/pdf", data={"csrf": token})
    assert resp.status == 200 and resp.content_type == "application/pdf", await resp.text()
    pdf = await resp.read()
    status = await pyhanko_status(pdf, counter.stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted
    attached = PdfReader(io.BytesIO(pdf)).attachments
    kept = {r[0] for r in db.execute("SELECT jws FROM application_printout")}
    assert {j.decode("ascii") for name, [j] in attached.items() if name.endswith(".jws")} == kept
    (tmp_path / "app.pdf").write_bytes(pdf)
    text = subprocess.run([tool("pdftotext"), "-layout", str(tmp_path / "app.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    card = next(unverified_payload(j)["data"] for j in kept if unverified_payload(j)["doc_type"] == "dopa.card")
    assert number.group(1) in text and card["first_name_th"] in text and "แบบคำขอลงทะเบียนรับเงินเบี้ยยังชีพ" in text
    assert "หม้าย" in text and "081" in text
    born = unverified_payload(next(j for j in kept if unverified_payload(j)["doc_type"] == "dopa.person"))
    assert _thai_date(born["data"]["birth_date"]) in text  # a Buddhist-era date on the Thai paper
    for printout_id in (unverified_payload(j)["printout_id"] for j in kept):
        assert printout_id in text


def _gregorian(be: str) -> str:
    return f"{int(be[:4]) - 543}{be[4:]}"


def _thai_date(be: str) -> str:
    from consumers.counter.display import be_date

    return be_date(be, "th")
