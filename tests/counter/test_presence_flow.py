"""Acceptance, the citizen's half: the officer signs in, the applicant's card is read at the counter, the
documents are fetched and certified, and ``linkage verify`` of the certified PDF shows the presence check (11)
passing for the printout that needed the card; a card missing from the reader is said in Thai and nothing is
fetched."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consumers.auditor import TrustInputs, run_verify
from consumers.counter.app import create_app
from consumers.counter.citizens import proved_against_log
from consumers.counter.state import HUB
from linkage.v1 import audit_pb2, provider_pb2
from tests.conftest import RunningStack
from tests.counter.conftest import MUNI, Counter, counter_settings, csrf_of
from tests.officers import session

SERVICE = "health-hazard-business"


async def test_card_read_fetch_certify_and_verify_shows_presence(counter: Counter, personas: list[dict[str, Any]],
                                                                  tmp_path: Path) -> None:
    me = next(p for p in personas if p["name"] == "ordinary")
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", allow_redirects=False,
                                     data={"csrf": token, "subject_id": me["id"], "citizen_present": "1"})
    assert resp.status == 303, await resp.text()
    where = resp.headers["Location"]
    page = await (await counter.client.get(where)).text()
    assert 'id="doc-dopa-card"' in page and "ตราประทับอิเล็กทรอนิกส์ถูกต้อง" in page.split('id="doc-dopa-card"')[1]
    resp = await counter.client.post(f"{where}/certify", data={"csrf": csrf_of(page)})
    assert resp.status == 200 and resp.content_type == "application/pdf", await resp.text()
    pdf = tmp_path / "case.pdf"
    pdf.write_bytes(await resp.read())
    out = io.StringIO()
    code = await asyncio.to_thread(run_verify, pdf, TrustInputs(home=counter.stack.home.root), as_json=True,
                                   out=out, err=io.StringIO(), state=tmp_path / "state.json")
    report = json.loads(out.getvalue())
    assert code == 0, report
    elevens = [c for d in report["documents"] for c in d["checks"] if c["number"] == 11]
    assert elevens and all(c["ok"] is True for c in elevens), elevens


@pytest.fixture
async def no_card(stack: RunningStack, tmp_path: Path) -> AsyncIterator[Counter]:
    """A counter whose card reader is empty: the citizen has not handed over their card."""
    (tmp_path / "empty-reader").mkdir()
    settings = counter_settings(stack, tmp_path, card_reader=tmp_path / "empty-reader")
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Counter(client, settings, stack)


async def test_no_card_in_the_reader_is_said_next_to_the_field(no_card: Counter,
                                                               personas: list[dict[str, Any]]) -> None:
    me = next(p for p in personas if p["name"] == "ordinary")
    counter = no_card
    await counter.sign_in()
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", allow_redirects=False,
                                     data={"csrf": token, "subject_id": me["id"], "citizen_present": "1"})
    assert resp.status == 400
    assert "ไม่พบบัตรประจำตัวประชาชนของผู้ยื่นคำขอในเครื่องอ่านบัตร" in await resp.text()


async def test_the_citizens_page_says_when_what_the_hub_lists_is_not_in_the_log(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    me = next(p for p in personas if p["name"] == "ordinary")
    app = counter.client.app
    hub = app[HUB]
    await hub.fetch_document("dopa.person", me["id"], purpose="ทดสอบ",
                             officer_session=await session(counter.stack, MUNI, counter.officers[0]))
    card = provider_pb2.CheckCardRequest(subject_id=me["id"], **me["card"])
    listed = await hub.list_accesses(me["id"], citizen_card=card)
    assert (await proved_against_log(app, listed))["ok"] is True
    # A hub that shows the citizen a read the log does not hold (another printout at that index): said so.
    forged = audit_pb2.Access()
    forged.CopyFrom(listed[-1])
    forged.printout_id = "00000000-0000-4000-8000-00000000dead"
    said = await proved_against_log(app, [*listed, forged])
    assert said["ok"] is False and "does not match the exchange log" in said["en"]
    assert "ไม่ตรงกับบันทึก" in said["th"]
