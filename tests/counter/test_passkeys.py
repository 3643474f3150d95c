"""An officer's passkey at the counter, in Debian's chromium with a virtual authenticator (Chrome DevTools'
WebAuthn domain): enrolment with the administrator's one-time code, sign-in, a case fetched under the officer
session, the proof in the log checked as an auditor would; and the refusals (a foreign origin, a replayed or
misdirected assertion, a used code; the ID form leads to the passkey page).

A sandbox of its own: the passkey it publishes changes what the hub accepts from that officer."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from consumers.client import HubClient
from consumers.counter.app import create_app
from consumers.counter.state import STATE
from linkage.cli.sandbox import init
from linkage.config import Home
from linkage.errors import LinkageError
from linkage.officers import OFFICER_KEYS, load_officer_keys, proof_problem
from tests.conftest import RunningStack, start_stack
from tests.counter.conftest import Counter, counter_settings
from tests.counter.passkeys import virtual_authenticator
from tests.counter.test_browser import browser  # noqa: F401  (the fixture: Debian's chromium)

MUNI = "phrae-municipality"
SERVICE = "health-hazard-business"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def passkey_counter(tmp_path_factory: pytest.TempPathFactory,
                          tmp_path: Path) -> AsyncIterator[tuple[RunningStack, str, str, web.Application]]:
    """A sandbox whose hub trusts one counter origin, that counter, and the same app on an origin it does not."""
    home = init(tmp_path_factory.mktemp("passkeys"), citizens=60, seed=4)
    port, other = _free_port(), _free_port()
    text = home.config_file.read_text(encoding="utf-8")
    home.config_file.write_text(text.replace("[hub]\n", f'[hub]\nwebauthn_origins = ["http://localhost:{port}"]\n',
                                             1), encoding="utf-8")
    stack = await start_stack(home)
    runners = []
    try:
        apps = []
        for p, name in ((port, "trusted"), (other, "foreign")):
            app = create_app(counter_settings(stack, tmp_path / name))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", p).start()
            runners.append(runner)
            apps.append(app)
        yield stack, f"http://localhost:{port}", f"http://localhost:{other}", apps[0]
    finally:
        for runner in runners:
            await runner.cleanup()
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


def _citizen(home: Home) -> str:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and "dopa.person" in p["doc_types"])


async def test_enrol_sign_in_and_fetch_with_a_passkey(
        browser: Any, passkey_counter: tuple[RunningStack, str, str, web.Application],  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    from linkage.cli.main import main

    stack, base, foreign, app = passkey_counter
    officer = sorted(stack.settings.agencies[MUNI].officers)[-1]
    assert main(["agency", "officer-enrol", MUNI, officer, "--home", str(stack.home.root)]) == 0
    code = capsys.readouterr().out.split()[0]
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await virtual_authenticator(ctx, page)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type in ("error", "warning") else None)

    # Enrolment: a wrong code is refused, the right one registers the passkey and is then used up.
    response = await page.goto(f"{base}/enrol")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe" not in csp
    status = page.locator("#passkey-status")
    await page.locator("#officer_id").fill(officer)
    await page.locator("#code").fill("AAAA-BBBB-CCCC")
    await page.get_by_role("button", name="สร้างกุญแจ").click()
    await status.filter(has_text="รหัสลงทะเบียนไม่ถูกต้อง").wait_for()
    await page.locator("#code").fill(code)
    await page.get_by_role("button", name="สร้างกุญแจ").click()
    await status.filter(has_text="ลงทะเบียนกุญแจแล้ว").wait_for()
    keys = [k for k in load_officer_keys(stack.home.pki / OFFICER_KEYS) if k.officer_id == officer]
    assert [k.kind for k in keys] == ["card", "webauthn"]  # the card `linkage init` issued, and the passkey
    await page.get_by_role("button", name="สร้างกุญแจ").click()
    await status.filter(has_text="รหัสลงทะเบียนไม่ถูกต้อง").wait_for()  # the code was used up

    # The ID form signs no one in (the hub requires sessions): /signin leads to the passkey page.
    await page.goto(f"{base}/signin?next=/reports")
    assert page.url == f"{base}/signin/passkey?next=/reports"

    # The same counter on an origin the hub does not trust: the passkey answers, the hub refuses.
    await page.goto(f"{foreign}/signin/passkey")
    await page.locator("#officer_id").fill(officer)
    await page.get_by_role("button", name="ยืนยันด้วยกุญแจ").click()
    await status.filter(has_text="ยืนยันตัวตนด้วยกุญแจไม่สำเร็จ").wait_for()

    # Sign-in on the trusted origin; the browser's answer is kept to be replayed below.
    sent: list[str] = []
    page.on("request", lambda req: sent.append(req.post_data or "") if req.url.endswith("/finish") else None)
    await page.goto(f"{base}/signin/passkey")
    await page.locator("#officer_id").fill(officer)
    await page.get_by_role("button", name="ยืนยันด้วยกุญแจ").click()
    await page.wait_for_url(f"{base}/")
    (session,) = [s for s in app[STATE].sessions._by_id.values() if s.officer_id == officer]
    assert session.officer_session is not None

    # A case: its printouts name the session, and each log entry carries the passkey's proof.
    await page.goto(f"{base}/cases/new/{SERVICE}")
    await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(_citizen(stack.home))
    await page.get_by_role("button", name="ดึงเอกสาร").click()
    await page.wait_for_url(f"{base}/cases/**")
    assert not [m for m in console if "Content Security Policy" in m], console  # the script ran, nothing blocked
    log = stack.hub.hub.log
    entries = [json.loads(leaf) for _, leaf in await log.entries(0, log.size)]
    mine = [e for e in entries if e.get("officer_id") == officer and e.get("kind") == "printout"]
    assert len(mine) >= 2  # the officer's name at sign-in, and the case's documents
    published = load_officer_keys(stack.home.pki / OFFICER_KEYS)
    for entry in mine:
        assert entry["officer_proof"]["client_data_json"]
        assert proof_problem(entry, session.officer_session.session_id, published) is None
    # Changed by one byte, the browser's signed data no longer holds.
    entry = mine[-1]
    forged = {**entry, "officer_proof": {**entry["officer_proof"], "client_data_json":
                                         entry["officer_proof"]["client_data_json"][:-4] + "AAA="}}
    assert proof_problem(forged, None, published) is not None

    # The assertion replayed, or sent with a fresh statement it did not sign: refused, nothing issued.
    finish = parse_qs(sent[-1])
    statement, assertion = finish["statement"][0], finish["assertion"][0]
    size = log.size
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        codes = []
        fresh, _ = await hub.begin_officer_sign_in(officer)
        for attempt in (base64.b64decode(statement), fresh):
            try:
                await hub.finish_officer_sign_in(attempt, webauthn_assertion=assertion)
            except LinkageError as err:
                codes.append(err.code)
                assert err.message_th and err.message_en
    assert codes == ["signin_statement_unknown", "passkey_assertion_invalid"]
    assert log.size == size
    await ctx.close()


def test_a_counter_session_ends_with_its_hub_session() -> None:
    from consumers.client import OfficerSession
    from consumers.counter.sessions import SessionStore

    store = SessionStore(ttl=3600)
    ended = OfficerSession("s", "id", "3221006254628", "2026-01-01T00:00:00.000000Z")
    live = OfficerSession("s", "id", "3221006254628", "2999-01-01T00:00:00.000000Z")
    gone = store.open("3221006254628", "", "", "", False, ended)
    kept = store.open("3221006254628", "", "", "", False, live)
    assert store.get(gone.id) is None and store.get(kept.id) is kept


async def test_failed_passkey_sign_ins_hold_that_officer_only(counter: Counter) -> None:
    """Three failed passkey sign-ins with one ID hold that ID (429), not the desk: another officer goes on."""
    token = await counter.csrf("/signin/passkey")
    first, second = counter.officers[0], counter.officers[1]
    bad = {"csrf": token, "statement": base64.b64encode(b"{}").decode(), "assertion": "{}", "next": "/"}
    statuses = []
    for _ in range(4):
        resp = await counter.client.post("/signin/passkey/finish", data={**bad, "officer_id": first})
        statuses.append(resp.status)
        body = await resp.json()
        assert len(body["error"]) == 2 and all(body["error"])  # Thai and English
    assert statuses == [401, 401, 401, 429]
    resp = await counter.client.post("/signin/passkey/finish", data={**bad, "officer_id": second})
    assert resp.status == 401


async def test_an_officer_whose_key_is_revoked_is_signed_out_at_the_next_fetch_and_cannot_sign_in(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """The officer leaves (`linkage agency revoke-officer`) while signed in at the counter: the next fetch is refused
    by the hub, the counter session ends with the case kept, and the passkey no longer signs them in."""
    import datetime as dt

    from aiohttp.test_utils import TestClient, TestServer

    from linkage.config import write_atomically
    from linkage.officers import officer_key_set_json, revoked

    home = init(tmp_path_factory.mktemp("revoked"), citizens=60, seed=5)
    stack = await start_stack(home)
    try:
        settings = counter_settings(stack, tmp_path)
        async with TestClient(TestServer(create_app(settings))) as client:
            counter = Counter(client, settings, stack)
            officer = counter.officers[1]
            await counter.sign_in(officer)
            path = home.pki / OFFICER_KEYS
            keys, count = revoked(load_officer_keys(path), officer, dt.datetime.now(dt.UTC))
            assert count == 2  # the card `linkage init` issued, and the passkey enrolled above
            write_atomically(path, officer_key_set_json(keys))
            token = await counter.csrf(f"/cases/new/{SERVICE}")
            resp = await client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": _citizen(home)},
                                     allow_redirects=False)
            assert resp.status == 303 and resp.headers["Location"].startswith("/signin?next=/cases/")
            assert resp.headers["Location"].endswith("&expired=1")
            assert (await client.get("/reports", allow_redirects=False)).status == 303  # signed out
            token = await counter.csrf("/signin/passkey")
            begun = await client.post("/signin/passkey/begin", data={"csrf": token, "officer_id": officer})
            assert begun.status == 403 and "เพิกถอน" in (await begun.json())["error"][0]
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)
