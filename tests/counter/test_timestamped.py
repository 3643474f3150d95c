"""The counter with the sandbox's time-stamping authority, as `linkage up` runs it: the officer's certified copy is
PAdES B-LT (check 12 passes), and while the TSA does not answer nothing is certified and the page says why, in
Thai and English, the case kept for a retry."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509

from consumers.auditor import PdfFile, Trust, verify_pdf
from consumers.counter.app import create_app
from linkage.crl import crl_path
from linkage.tsa import create_app as tsa_app
from linkage.tsa import tsa_from_home
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings, csrf_of, persona


@pytest.fixture
async def tsa(stack: RunningStack) -> AsyncIterator[web.AppRunner]:
    authority, crl = tsa_from_home(stack.home)
    runner = web.AppRunner(tsa_app(authority, crl))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner
    finally:
        await runner.cleanup()


@pytest.fixture
async def counter(stack: RunningStack, tsa: web.AppRunner, tmp_path: Path) -> AsyncIterator[Counter]:
    settings = counter_settings(stack, tmp_path, tsa_url=f"http://127.0.0.1:{tsa.addresses[0][1]}/")
    async with TestClient(TestServer(create_app(settings))) as client:
        c = Counter(client, settings, stack)
        await c.sign_in()
        yield c


async def test_certified_copy_is_b_lt_and_refused_while_the_tsa_is_down(
        counter: Counter, tsa: web.AppRunner, personas: list[dict[str, Any]]) -> None:
    token = await counter.csrf("/cases/new/elderly-allowance")
    resp = await counter.client.post("/cases/new/elderly-allowance", allow_redirects=False, data={
        "csrf": token, "subject_id": persona(personas, "dopa.person"), "citizen_present": "1"})
    assert resp.status == 303, await resp.text()
    where = resp.headers["Location"]
    page = await (await counter.client.get(where)).text()
    resp = await counter.client.post(f"{where}/certify", data={"csrf": csrf_of(page)})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    ca = x509.load_pem_x509_certificate(counter.stack.home.ca.cert.read_bytes())
    trust = Trust(ca, crls=(crl_path(counter.stack.home.ca).read_bytes(),))
    # pyHanko's validation runs its own event loop: a worker thread, as the auditor's callers do.
    report = await asyncio.to_thread(verify_pdf, PdfFile(data=await resp.read(), name="case.pdf"), trust,
                                     now=dt.datetime.now(dt.UTC))
    twelve = [c for c in report.checks if c.number == 12]
    assert twelve and twelve[0].ok is True and "PAdES B-LT: timestamp by linkage-tsa" in twelve[0].detail, twelve
    # The TSA goes away: the officer is told, in Thai and English, and may print again once it is back.
    await tsa.cleanup()
    resp = await counter.client.post(f"{where}/certify", data={"csrf": csrf_of(page)})
    text = await resp.text()
    assert resp.status == 503 and resp.content_type == "text/html", text
    assert "ระบบประทับเวลาไม่ตอบ" in text and "time-stamping authority" in text
    assert (await counter.client.get(where)).status == 200  # the case is still there
