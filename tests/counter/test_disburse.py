"""Allowances paid through PromptPay (issue 14, item 3): applications approved at the counter, a monthly run that
checks each recipient through the hub, pays once, reports who could not be paid and why, and balances."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import sqlite3
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiohttp.test_utils import TestClient, TestServer

from consumers.client import HubClient
from consumers.counter.allowances.rules import load_rules, parse_month
from consumers.counter.allowances.run import RunRefused, run_month
from consumers.counter.app import create_app
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.store import CounterStore
from linkage.config import Home
from linkage.disbursements import batch_sha256
from tests.conftest import start_stack
from tests.counter.conftest import MUNI, Counter
from tests.officers import card_args, session

MONTH = "2569-12"
ELDERLY = {"phone": "0812345678", "marital_status": "widowed", "monthly_income": "0"}
DISABLED = {"phone": "0812345678", "disability_card": "PH-000123", "disability_type": "movement"}
FORMS = {"elderly-allowance": ELDERLY, "disability-allowance": DISABLED}


def _who(counter: Counter) -> list[str]:
    """The officer who runs the month: signed in with their sandbox card."""
    return card_args(counter.stack.home, MUNI, counter.officers[0])


def persona(personas: list[dict[str, Any]], name: str) -> str:
    return str(next(p["id"] for p in personas if p["name"] == name))


async def approve(counter: Counter, subject: str, service: str, *, payment: str = "promptpay",
                  typed: dict[str, str] | None = None) -> str:
    """An application taken at the counter, confirmed by the citizen and approved: its number. With ``typed``, the
    citizen is not there (no card): what the card would have filled is typed by the officer."""
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{service}")
    resp = await counter.client.post(f"/cases/new/{service}", data={
        "csrf": token, "subject_id": subject, **({} if typed else {"citizen_present": "1"})}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    where = resp.headers["Location"]
    resp = await counter.client.post(f"{where}/application", data={
        **FORMS[service], "payment": payment, **(typed or {}), "csrf": token, "doc_lang": "th"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    app_url = resp.headers["Location"]
    await counter.client.post(f"{app_url}/confirm", data={"csrf": token, "citizen_confirms": "1"})
    db = sqlite3.connect(counter.settings.database or "")
    ref, number, status = db.execute("SELECT case_ref, number, status FROM application WHERE id = ?",
                                     (app_url.rsplit("/", 1)[1],)).fetchone()
    assert status == "submitted"
    for step in ("under_review", "approved"):
        resp = await counter.client.post(f"/tracking/{ref}/move", data={"csrf": token, "status": step},
                                         allow_redirects=False)
        assert resp.status == 303, await resp.text()
    return str(number)


async def disburse(counter: Counter, switch: str, *args: str, agency: str = MUNI) -> tuple[int, str, str]:
    """`linkage counter disburse` in its own process, on the test's hub, counter file and switch."""
    env = {**os.environ, "LINKAGE_HOME": str(counter.stack.home.root), "LINKAGE_COUNTER_HUB": counter.stack.hub_address,
           "LINKAGE_COUNTER_DATABASE": str(counter.settings.database), "LINKAGE_COUNTER_PAYMENTS": switch,
           "LINKAGE_COUNTER_AGENCY": agency}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkage.cli", "counter", "disburse", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    return proc.returncode or 0, out.decode(), err.decode()


def rows(counter: Counter, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(counter.settings.database or "") as db:
        return db.execute(sql, args).fetchall()


async def test_a_month_is_paid_once_with_every_unpaid_recipient_reported_and_the_ledger_balanced(
        counter: Counter, switch: str, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    paid_elderly = await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    no_promptpay = await approve(counter, persona(personas, "elderly_no_promptpay"), "elderly-allowance")
    paid_disabled = await approve(counter, persona(personas, "resident_promptpay"), "disability-allowance")
    cash = await approve(counter, persona(personas, "ordinary"), "elderly-allowance", payment="cash")
    # A recipient who has since died: their card was voided with the death, so the officer typed its part.
    dead = persona(personas, "allowance_deceased")
    deceased = await approve(counter, dead, "disability-allowance", typed={
        "personal_id": dead, "title": "นาย", "first_name": "สมมุติ", "last_name": "ใจดี",
        "address": "1 หมู่ที่ 1 ตำบลในเวียง อำเภอเมืองแพร่ จังหวัดแพร่ 54000", "house_code": "54010000001"})
    log_before = counter.stack.hub.hub.log.size

    code, out, err = await disburse(counter, switch, "--month", MONTH, *_who(counter),
                                    "--out", str(tmp_path / "out"))
    assert code == 0, out + err
    assert re.search(r"paid: 2, 1,600.00 baht, batch PHR-PAY-2569-12-01-[0-9A-F]{4}\n", out)
    assert "จ่าย 2 ราย รวม 1,600.00 บาท" in out
    assert "settled by the payment switch" in out
    for number, th, en in ((no_promptpay, "ไม่มีบัญชีพร้อมเพย์", "no PromptPay account linked"),
                           (deceased, "ถึงแก่กรรมแล้วตามทะเบียนราษฎร", "deceased, as the civil registry records"),
                           (cash, "เลือกรับเงินช่องทางอื่น", "asked to be paid another way")):
        block = out[out.index(number):]
        assert th in block.split("\n")[1] and en in block.split("\n")[2], (number, out)
    # Checked through the hub as any fetch: sealed, logged; the person first, PromptPay only for who is payable.
    # The deceased and the cash recipient: no PromptPay lookup (nobody's bank is read who is not paid).
    assert counter.stack.hub.hub.log.size - log_before == 4 + 3 - 1  # 4 persons, 2 PromptPay + 1 not found
    assert "7 calls to the hub" in out

    [batch] = rows(counter, "SELECT batch_no, count, total_satang, status, settlement FROM disbursement_batch")
    batch_no = batch[0]
    lines = rows(counter, "SELECT application_no, amount_satang, person_printout, promptpay_printout, line"
                          " FROM disbursement_line ORDER BY line")
    assert batch_no.startswith("PHR-PAY-2569-12-01-") and batch[1:4] == (2, 160000, "settled")
    assert sorted((n, a) for n, a, *_ in lines) == sorted([(paid_elderly, 80000), (paid_disabled, 80000)])  # 85 and 78
    assert sum(a for _, a, *_ in lines) == batch[2]  # the ledger balances
    settlement = json.loads(batch[4])
    assert (settlement["count"], settlement["total"]) == (2, "1600.00")
    written = (tmp_path / "out" / f"{batch_no}.json").read_bytes()
    assert settlement["batch_sha256"] == batch_sha256(written)  # the switch settled the batch written
    assert [ln["proxy"] for ln in json.loads(written)["lines"]] == [
        rows(counter, "SELECT subject_id FROM disbursement_line WHERE line = ?", ln[4])[0][0] for ln in lines]
    # Every line traces to its two sealed printouts, which the hub logged.
    for *_, person_printout, promptpay_printout, _ in lines:
        assert person_printout and promptpay_printout

    # Run again: nobody is paid twice; the unpaid are checked again, the paid are not.
    before = counter.stack.hub.hub.log.size
    code, out, err = await disburse(counter, switch, "--month", MONTH, *_who(counter))
    assert code == 0, out + err
    assert "nobody more to pay: no new batch" in out and "paid by an earlier run: 2" in out
    assert rows(counter, "SELECT COUNT(*), SUM(amount_satang) FROM disbursement_line") == [(2, 160000)]
    assert rows(counter, "SELECT COUNT(*) FROM disbursement_batch") == [(1,)]
    assert counter.stack.hub.hub.log.size - before == 2  # the two unpaid that needed a look: person, person
    # Another month is paid anew.
    code, out, _ = await disburse(counter, switch, "--month", "2570-01", *_who(counter), "--json")
    assert code == 0 and json.loads(out)["batch_no"] == f"PHR-PAY-2570-01-01-{batch_no[-4:]}"
    assert json.loads(out)["paid"] == 2


async def test_a_record_changed_since_approval_is_reported_not_paid(
        counter: Counter, switch: str, personas: list[dict[str, Any]]) -> None:
    renamed = await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    moved = await approve(counter, persona(personas, "graduate"), "disability-allowance")  # lives in Sung Men
    # What was approved is not what the civil registry says now: a name since changed, a house since left.
    with sqlite3.connect(counter.settings.database or "") as db:
        db.execute("UPDATE application_value SET value = 'ชื่อเดิม' WHERE name = 'first_name' AND application_id ="
                   " (SELECT id FROM application WHERE number = ?)", (renamed,))
        db.execute("UPDATE application_value SET value = '54010000001' WHERE name = 'house_code' AND application_id ="
                   " (SELECT id FROM application WHERE number = ?)", (moved,))
    code, out, err = await disburse(counter, switch, "--month", MONTH, *_who(counter), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["paid"] == 0 and report["batch_no"] == "" and report["total"] == "0.00"
    reasons = {u["application_no"]: u for u in report["not_paid"]}
    assert reasons[renamed]["reason"] == "name_changed" and "ชื่อเดิม" in reasons[renamed]["detail_th"]
    assert "approved as ชื่อเดิม" in reasons[renamed]["detail_en"]
    assert reasons[moved]["reason"] == "moved_out" and "สูงเม่น" in reasons[moved]["detail_th"]
    assert reasons[moved]["detail_en"].startswith("moved out of the municipality since approval: now registered at")
    assert all(u["printout_id"] for u in report["not_paid"])  # the printout that shows it
    assert rows(counter, "SELECT COUNT(*) FROM disbursement_line") == [(0,)]
    assert rows(counter, "SELECT reason FROM disbursement_unpaid ORDER BY 1") == [("moved_out",), ("name_changed",)]


@pytest.mark.parametrize(("month", "th", "en"), [
    ("2026-12", "ปีคริสต์ศักราช", "write the Buddhist-era year (2569)"),
    ("2569-13", "เดือนระหว่าง 1 ถึง 12", "the month from 1 to 12"),
    ("ธันวาคม", "ปี พ.ศ.-เดือน", "Buddhist-era year-month"),
])
async def test_a_bad_month_is_refused_in_both_languages_and_nothing_is_written(
        counter: Counter, switch: str, month: str, th: str, en: str) -> None:
    code, out, err = await disburse(counter, switch, "--month", month, *_who(counter))
    assert code == 2 and th in err and en in err and not out
    assert rows(counter, "SELECT COUNT(*) FROM disbursement_run") == [(0,)]


async def test_two_runs_at_once_pay_once(counter: Counter, personas: list[dict[str, Any]]) -> None:
    await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    await approve(counter, persona(personas, "resident_promptpay"), "disability-allowance")
    store = CounterStore(counter.settings.database or Path())
    rules = load_rules(DEFAULT_FOLDER / "allowances" / "rates.toml", load_manuals(DEFAULT_FOLDER))
    home = counter.stack.home
    try:
        async with HubClient.connect(counter.stack.hub_address, home.ca.cert, home.client_cert(MUNI)) as hub:
            signed_in = await session(counter.stack, MUNI, counter.officers[0])
            a, b = await asyncio.gather(*(run_month(store, hub, rules, parse_month(MONTH), agency=MUNI,
                                                    officer_id=counter.officers[0], officer_session=signed_in)
                                          for _ in range(2)))
    finally:
        store.close()
    assert sorted((a.run.paid, b.run.paid)) == [0, 2] and sorted((a.run.already_paid, b.run.already_paid)) == [0, 2]
    assert rows(counter, "SELECT COUNT(*), SUM(amount_satang) FROM disbursement_line") == [(2, 160000)]
    assert rows(counter, "SELECT COUNT(*) FROM disbursement_batch") == [(1,)]


async def test_a_run_the_hub_refuses_stops_and_writes_nothing(
        sandbox_home: Home, personas: list[dict[str, Any]], tmp_path: Path, counter: Counter) -> None:
    """The municipality without its grant to the PromptPay directory: the first look-up is refused, so the run
    stops before anything is written, saying why in Thai and English."""
    await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    home = Home(tmp_path / "home")
    shutil.copytree(sandbox_home.root, home.root)
    config = tomllib.loads(home.config_file.read_text(encoding="utf-8"))
    del config["agencies"][MUNI]["grants"]["promptpay.account"]
    home.config_file.write_text(tomli_w.dumps(config), encoding="utf-8")
    stack = await start_stack(home)
    store = CounterStore(counter.settings.database or Path())
    rules = load_rules(DEFAULT_FOLDER / "allowances" / "rates.toml", load_manuals(DEFAULT_FOLDER))
    try:
        async with HubClient.connect(stack.hub_address, home.ca.cert, home.client_cert(MUNI)) as hub:
            signed_in = await session(stack, MUNI, counter.officers[0])
            with pytest.raises(RunRefused) as refused:
                await run_month(store, hub, rules, parse_month(MONTH), agency=MUNI, officer_id=counter.officers[0],
                                officer_session=signed_in)
    finally:
        store.close()
        await stack.stop()
    assert "ไม่มีสิทธิ์" in refused.value.message_th and "no right to promptpay.account" in refused.value.message_en
    assert "nothing was written" in refused.value.message_en and "ยังไม่มีการบันทึก" in refused.value.message_th
    for table in ("disbursement_run", "disbursement_batch", "disbursement_line", "disbursement_unpaid"):
        assert rows(counter, f"SELECT COUNT(*) FROM {table}") == [(0,)]


async def test_a_batch_waits_while_the_switch_is_down_and_is_sent_once_by_the_next_run(
        counter: Counter, switch: str, personas: list[dict[str, Any]]) -> None:
    await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    down = "http://127.0.0.1:9"  # nothing listens there
    code, out, err = await disburse(counter, down, "--month", MONTH, *_who(counter))
    assert code == 1 and "could not be reached" in out and "run the same month again" in err
    assert rows(counter, "SELECT status FROM disbursement_batch") == [("prepared",)]
    code, out, err = await disburse(counter, switch, "--month", MONTH, *_who(counter))
    assert code == 0, out + err
    assert "nobody more to pay" in out
    assert re.search(r"batch PHR-PAY-2569-12-01-\w{4}: settled by the payment switch", out)
    assert rows(counter, "SELECT status, count FROM disbursement_batch") == [("settled", 1)]
    # The switch keeps what it settled: the same batch sent again is answered with the same settlement.
    [(settlement,)] = rows(counter, "SELECT settlement FROM disbursement_batch")
    assert re.fullmatch(r"STL[0-9A-F]{16}", json.loads(settlement)["settlement_id"])


async def test_the_officers_page_runs_a_month_and_shows_who_was_not_paid_and_why(
        counter: Counter, switch: str, personas: list[dict[str, Any]]) -> None:
    await approve(counter, persona(personas, "elderly_promptpay"), "elderly-allowance")
    missing = await approve(counter, persona(personas, "elderly_no_promptpay"), "elderly-allowance")
    settings = dataclasses.replace(counter.settings, payments_url=switch)
    async with TestClient(TestServer(create_app(settings))) as client:
        page = Counter(client, settings, counter.stack)
        await page.sign_in()
        token = await page.csrf("/disbursements")
        # A bad month is answered next to its field, in both languages, and nothing is run.
        resp = await client.post("/disbursements", data={"csrf": token, "month": "2026-12"})
        html = await resp.text()
        assert resp.status == 400 and 'data-testid="month-error"' in html
        assert "ปีคริสต์ศักราช" in html and "Gregorian year" in html and 'value="2026-12"' in html
        assert rows(counter, "SELECT COUNT(*) FROM disbursement_run") == [(0,)]
        resp = await client.post("/disbursements", data={"csrf": token, "month": MONTH}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == f"/disbursements/{MONTH}"
        html = await (await client.get(f"/disbursements/{MONTH}")).text()
        assert "ธันวาคม 2569" in html and "โอนแล้ว" in html and "800.00" in html
        assert f'<tr data-reason="no_promptpay"><td>{missing}</td>' in html
        assert "ไม่มีบัญชีพร้อมเพย์ที่ผูกกับเลขประจำตัวประชาชน" in html
        await client.get("/lang/en")
        html = await (await client.get(f"/disbursements/{MONTH}")).text()
        assert "December 2026" in html and "no PromptPay account linked to the personal ID" in html
        assert rows(counter, "SELECT status FROM disbursement_batch") == [("settled",)]
        assert (await client.get("/disbursements/2570-05")).status == 404  # no run that month
