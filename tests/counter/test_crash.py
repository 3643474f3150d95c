"""kill -9 the counter (a real `linkage serve-counter` process) and start it again: open cases, their sealed
printouts and the public's complaints are all still there, the SQLite file is sound, and a case whose fetch
was cut off by the kill comes back whole, every document marked for a retry."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from pypdf import PdfReader

from linkage import pki
from linkage.v1 import provider_pb2, provider_pb2_grpc
from providers.faults import ADMIN_CLIENT
from tests.conftest import RunningStack
from tests.counter.conftest import csrf_of, persona
from tests.counter.passkeys import http_sign_in

SERVICE = "health-hazard-business"
SEAL_OK = "ตราประทับอิเล็กทรอนิกส์ถูกต้อง"


class CounterProcess:
    """`python -m linkage.cli serve-counter --port 0` against the test's hub, with its own SQLite file."""

    def __init__(self, stack: RunningStack, database: Path) -> None:
        self.stack = stack
        self.database = database
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> None:
        env = {**os.environ, "LINKAGE_COUNTER_HUB": self.stack.hub_address,
               "LINKAGE_COUNTER_DATABASE": str(self.database)}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "linkage.cli", "serve-counter", "--home", str(self.stack.home.root), "--port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert line.startswith(b"LISTENING "), line
        self.url = "http://" + line.split()[1].decode()

    async def kill(self) -> bytes:
        """SIGKILL: no cleanup, no atexit, no closing of the database. Returns what it wrote to stderr."""
        assert self.proc is not None and self.proc.stderr is not None
        self.proc.kill()
        assert await self.proc.wait() == -9
        return await self.proc.stderr.read()


class Desk:
    """One browser: its own cookies (127.0.0.1 is an IP address, hence unsafe=True)."""

    def __init__(self, counter: CounterProcess) -> None:
        self.counter = counter
        self.http = aiohttp.ClientSession(counter.url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(path) as resp:
            return resp.status, await resp.text()

    async def post(self, path: str, form_page: str, data: dict[str, str]) -> aiohttp.ClientResponse:
        _, page = await self.get(form_page)
        resp = await self.http.post(path, data={"csrf": csrf_of(page), **data}, allow_redirects=False)
        await resp.read()
        return resp

    async def sign_in(self, officer: str) -> None:
        stack = self.counter.stack
        await http_sign_in(self.http, stack.home, "phrae-municipality", officer, stack.counter_origin)

    async def open_case(self, subject: str) -> str:
        resp = await self.post(f"/cases/new/{SERVICE}", f"/cases/new/{SERVICE}",
                               {"subject_id": subject, "citizen_present": "1"})
        assert resp.status == 303, await resp.text()
        return resp.headers["Location"]


@asynccontextmanager
async def desk(counter: CounterProcess) -> AsyncIterator[Desk]:
    d = Desk(counter)
    try:
        yield d
    finally:
        await d.http.close()


def _printout_ids(page: str) -> list[str]:
    return sorted(re.findall(r"เลขที่เอกสาร ([0-9a-f-]{8,})", page))


def _check_file(path: Path) -> None:
    """What a crash must never leave: a damaged file, a slot without its case, a case without its report row."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT COUNT(*) FROM case_slot WHERE case_id NOT IN (SELECT id FROM open_case)"
                          ).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM open_case WHERE id NOT IN (SELECT case_id FROM case_slot)"
                          " OR ref NOT IN (SELECT case_ref FROM counter_case)").fetchone()[0] == 0


async def _edu_latency(stack: RunningStack, ms: int) -> None:
    home = stack.home
    async with grpc.aio.secure_channel(stack.settings.providers["edu"].address,
                                       pki.channel_credentials(home.ca.cert, home.client_cert(ADMIN_CLIENT))) as ch:
        stub = provider_pb2_grpc.ProviderAdminStub(ch)
        if ms:
            await stub.SetFaults(provider_pb2.SetFaultsRequest(faults=provider_pb2.FaultSettings(latency_ms=ms)),
                                 timeout=10)
        else:
            await stub.ClearFaults(provider_pb2.ClearFaultsRequest(), timeout=10)


async def test_open_cases_and_complaints_survive_kill_9(stack: RunningStack, personas: list[dict[str, Any]],
                                                        tmp_path: Path) -> None:
    officers = sorted(stack.settings.agencies["phrae-municipality"].officers)
    citizen = persona(personas, "dbd.commerce")
    graduate = persona(personas, "edu.degree")
    database = tmp_path / "counter.sqlite"
    counter = CounterProcess(stack, database)
    await counter.start()
    try:
        async with desk(counter) as officer, desk(counter) as public:
            await officer.sign_in(officers[0])
            where = await officer.open_case(citizen)
            _, before = await officer.get(where)
            printouts = _printout_ids(before)
            assert printouts and before.count(SEAL_OK) == len(printouts)
            complaint = await public.post("/complaints/new", "/complaints/new", {
                "office": "กองช่าง", "service": "building-permit", "details": "ขอสำเนาทะเบียนบ้านอีกแล้ว ก่อนเครื่องดับ"})
            assert complaint.status == 200

            # A second case whose fetch is still waiting on a slow registry when the counter dies.
            await _edu_latency(stack, 2500)
            pending = asyncio.create_task(officer.open_case(graduate))
            while True:  # the case is on disk before the hub is asked
                with sqlite3.connect(database) as db:
                    if db.execute("SELECT COUNT(*) FROM open_case").fetchone()[0] == 2:
                        break
                await asyncio.sleep(0.02)
                assert not pending.done(), "the fetch ended before the counter could be killed mid-way"
            log = await counter.kill()
            assert isinstance((await asyncio.gather(pending, return_exceptions=True))[0], aiohttp.ClientError)
        await _edu_latency(stack, 0)
        assert citizen.encode() not in log and graduate.encode() not in log
        _check_file(database)

        await counter.start()
        async with desk(counter) as officer:
            status, page = await officer.get(where)
            assert status == 200 and "/signin" in page  # the session died with the process: sign in again
            await officer.sign_in(officers[0])
            _, index = await officer.get("/")
            listed = index.split('data-testid="open-cases"', 1)[1].split("</table>", 1)[0]
            assert where in listed and listed.count("/cases/") == 2
            status, after = await officer.get(where)
            assert status == 200 and _printout_ids(after) == printouts and after.count(SEAL_OK) == len(printouts)
            assert citizen in after
            # The sealed printouts are the ones the hub issued: certify them into the signed PDF.
            resp = await officer.post(f"{where}/certify", where, {})
            assert resp.status == 200 and resp.content_type == "application/pdf"
            attached = PdfReader(io.BytesIO(await resp.read())).attachments
            assert sorted(name.removesuffix(".jws") for name in attached if name.endswith(".jws")) == printouts
            # The log proofs were kept on disk with the case, and survived the kill too.
            assert sorted(name.removesuffix(".log.json") for name in attached if name.endswith(".log.json")) \
                == printouts

            # The interrupted case: all its documents are there, marked for a retry, and a retry fetches.
            cut = next(href for href in re.findall(r'href="(/cases/[^"]+)"', listed) if href != where)
            _, page = await officer.get(cut)
            assert page.count("ระบบเคาน์เตอร์หยุดทำงานก่อนได้รับเอกสารฉบับนี้") >= 1
            assert 'data-testid="retry-edu.degree"' in page
            resp = await officer.post(f"{cut}/retry/edu.degree", cut, {})
            assert resp.status == 303
            _, page = await officer.get(cut)
            assert 'data-testid="retry-edu.degree"' not in page and SEAL_OK in page

            # Another officer sees neither case.
            await officer.sign_in(officers[1])
            _, index = await officer.get("/")
            assert 'data-testid="open-cases"' not in index
            assert (await officer.get(where))[0] == 404

            await officer.sign_in(officers[0])
            _, complaints = await officer.get("/complaints")
            assert "ขอสำเนาทะเบียนบ้านอีกแล้ว ก่อนเครื่องดับ" in complaints
        await counter.kill()
        _check_file(database)
    finally:
        if counter.proc is not None and counter.proc.returncode is None:
            counter.proc.kill()
            await counter.proc.wait()
