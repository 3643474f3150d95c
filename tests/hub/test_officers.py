"""Officer sign-in with the officer's own card: the session, its binding to the caller, and every refusal.

A sandbox of its own (the key set it publishes changes what the hub accepts from those officers), in which the
municipality's first officer holds no key: `linkage init` issued every sample officer a card, and this
sandbox's administrator has taken that one's key out of the key set, as if it had not been issued yet."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from consumers.client import HubClient
from linkage.cli.officers import issue_officer_card
from linkage.cli.sandbox import init
from linkage.config import Home, write_atomically
from linkage.errors import LinkageError, PermissionDenied, Unauthenticated, error_info
from linkage.officercard import OpenCard, issue_card, open_card
from linkage.officers import OFFICER_KEYS, load_officer_keys, officer_key_set_json, proof_problem, revoked
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack, start_stack

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PIN = "246810"


@pytest.fixture(scope="module")
def officer_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    from linkage.config import load_settings

    home = init(tmp_path_factory.mktemp("officers"), citizens=60, seed=3)
    keyless = sorted(load_settings(home).agencies[MUNI].officers)[0]
    path = home.pki / OFFICER_KEYS
    write_atomically(path, officer_key_set_json([k for k in load_officer_keys(path) if k.officer_id != keyless]))
    return home


@pytest.fixture
async def ostack(officer_home: Home) -> AsyncIterator[RunningStack]:
    running = await start_stack(officer_home)
    try:
        yield running
    finally:
        await running.hub.stop(0)
        for server in running.providers.values():
            await server.stop(0)


def person(home: Home) -> str:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and "dopa.person" in p["doc_types"])


def officers(stack: RunningStack, agency: str) -> list[str]:
    return sorted(stack.settings.agencies[agency].officers)


def card(stack: RunningStack, agency: str, officer: str, tmp_path: Path) -> OpenCard:
    path = issue_officer_card(stack.home, agency, officer, PIN, tmp_path / f"{officer}.card.json")
    return open_card(path, PIN)


def client(stack: RunningStack, agency: str) -> HubClient:
    return HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(agency))


async def refused(call: Any, request: Any) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(request)
    detail = error_info(info.value.trailing_metadata(), info.value.code())
    assert detail is not None
    return info.value.code(), detail.reason, detail.metadata["message_th"]


async def test_card_sign_in_names_the_session_and_logs_a_proof_an_auditor_checks(
        ostack: RunningStack, tmp_path: Path) -> None:
    enrolled, bare = officers(ostack, MUNI)[-1], officers(ostack, MUNI)[0]
    officer_card = card(ostack, MUNI, enrolled, tmp_path)
    async with client(ostack, MUNI) as hub:
        session = await hub.sign_in_officer(enrolled, officer_card)
        assert session.officer_id == enrolled
        doc = await hub.fetch_document("dopa.person", person(ostack.home), purpose="ตรวจสอบสิทธิ์",
                                       officer_session=session)
        assert doc.payload["officer_session"] == session.session_id
        assert doc.payload["officer_id"] == enrolled
        (logged,) = await hub.entries(doc.log_index, doc.log_index + 1)
        entry = json.loads(logged.leaf)
        keys = load_officer_keys(ostack.home.pki / OFFICER_KEYS)
        assert proof_problem(entry, doc.payload["officer_session"], keys) is None
        # The proof is the officer's: another officer's name, a forged signature or another session all fail.
        assert "officer_id" in (proof_problem({**entry, "officer_id": bare}, session.session_id, keys) or "")
        forged = {**entry["officer_proof"], "signature": entry["officer_proof"]["signature"][:-8] + "AAAAAAA="}
        assert proof_problem({**entry, "officer_proof": forged}, session.session_id, keys) is not None
        assert "proof" in (proof_problem({k: v for k, v in entry.items() if k != "officer_proof"},
                                         session.session_id, keys) or "")
        # A bare ID is refused (the hub requires sessions), whether or not the officer holds a key.
        for who in (enrolled, bare):
            with pytest.raises(Unauthenticated) as info:
                await hub.fetch_document("dopa.person", person(ostack.home), purpose="ตรวจสอบสิทธิ์", officer_id=who)
            assert info.value.code == "officer_session_required" and "ลงชื่อเข้าใช้" in info.value.message_th


async def test_session_is_useless_from_another_agencys_certificate(ostack: RunningStack, tmp_path: Path) -> None:
    officer = officers(ostack, HOSPITAL)[-1]
    officer_card = card(ostack, HOSPITAL, officer, tmp_path)
    async with client(ostack, HOSPITAL) as hospital, client(ostack, MUNI) as muni:
        session = await hospital.sign_in_officer(officer, officer_card)
        size = len(await muni.entries(0, 1000))
        with pytest.raises(Unauthenticated) as info:
            await muni.fetch_document("dopa.person", person(ostack.home), purpose="x", officer_session=session)
        assert info.value.code == "officer_session_other_certificate"
        assert len(await muni.entries(0, 1000)) == size  # nothing logged


async def test_wrong_replayed_foreign_and_expired_sign_ins_issue_nothing(ostack: RunningStack, tmp_path: Path) -> None:
    officer = officers(ostack, MUNI)[1]
    officer_card = card(ostack, MUNI, officer, tmp_path)
    async with ostack.channel(MUNI) as channel, ostack.channel(HOSPITAL) as other:
        stub, foreign = hub_pb2_grpc.LinkageHubStub(channel), hub_pb2_grpc.LinkageHubStub(other)
        begun = await stub.BeginOfficerSignIn(hub_pb2.BeginOfficerSignInRequest(officer_id=officer))
        # Signed by a key that is not the officer's.
        stranger = ec.generate_private_key(ec.SECP256R1()).sign(begun.statement, ec.ECDSA(hashes.SHA256()))
        code, reason, thai = await refused(stub.FinishOfficerSignIn, hub_pb2.FinishOfficerSignInRequest(
            statement=begun.statement, kid=officer_card.kid, signature=stranger))
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "officer_signature_invalid") and thai
        # The right signature, sent from another agency's certificate.
        good = hub_pb2.FinishOfficerSignInRequest(statement=begun.statement, kid=officer_card.kid,
                                                  signature=officer_card.sign(begun.statement))
        assert (await refused(foreign.FinishOfficerSignIn, good))[1] == "signin_statement_unknown"
        # Then from its own: accepted once, and a replay is refused.
        done = await stub.FinishOfficerSignIn(good)
        assert done.session and done.officer_id == officer
        assert (await refused(stub.FinishOfficerSignIn, good))[1] == "signin_statement_unknown"
        # A statement the hub never issued (changed after issue).
        changed = begun.statement.replace(b'"nonce":"', b'"nonce":"0')
        assert (await refused(stub.FinishOfficerSignIn, hub_pb2.FinishOfficerSignInRequest(
            statement=changed, kid=officer_card.kid, signature=officer_card.sign(changed))))[1] == \
            "signin_statement_unknown"
        # An officer of another agency cannot even begin here.
        code, reason, _ = await refused(stub.BeginOfficerSignIn, hub_pb2.BeginOfficerSignInRequest(
            officer_id=officers(ostack, HOSPITAL)[0]))
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "officer_not_registered")
        # Expired: the hub's clock moves past the two minutes a statement may wait.
        late = await stub.BeginOfficerSignIn(hub_pb2.BeginOfficerSignInRequest(officer_id=officer))
        ostack.hub.hub.officers.clock = lambda: time.time() + 180
        try:
            assert (await refused(stub.FinishOfficerSignIn, hub_pb2.FinishOfficerSignInRequest(
                statement=late.statement, kid=officer_card.kid, signature=officer_card.sign(late.statement))))[1] \
                == "signin_statement_expired"
        finally:
            ostack.hub.hub.officers.clock = time.time


async def test_required_mode_is_the_default_and_refuses_every_bare_officer_id(ostack: RunningStack) -> None:
    """[hub] officer_sessions = "required" unless set otherwise: no printout is issued in an officer's name without
    their key; a bare ID is refused even for an officer who holds none, and nothing is logged."""
    assert ostack.settings.hub.officer_sessions == "required"
    keyless = officers(ostack, MUNI)[0]
    async with client(ostack, MUNI) as hub:
        size = len(await hub.entries(0, 1000))
        with pytest.raises(Unauthenticated) as info:
            await hub.fetch_document("dopa.person", person(ostack.home), purpose="x", officer_id=keyless)
        assert info.value.code == "officer_session_required"
        assert info.value.message_th and "must sign in with their own key" in info.value.message_en
        assert len(await hub.entries(0, 1000)) == size


async def test_optional_mode_still_takes_a_keyless_officers_bare_id(officer_home: Home, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Set explicitly (here from LINKAGE_HUB_OFFICER_SESSIONS), "optional" serves clients not yet moved to
    sessions: a keyless officer's bare ID is taken on the agency's word (no session in the printout), while an
    officer who holds a key is still named only by a session they signed."""
    monkeypatch.setenv("LINKAGE_HUB_OFFICER_SESSIONS", "optional")
    stack = await start_stack(officer_home)
    try:
        assert stack.settings.hub.officer_sessions == "optional"
        keyless, enrolled = officers(stack, MUNI)[0], officers(stack, MUNI)[-1]
        async with client(stack, MUNI) as hub:
            plain = await hub.fetch_document("dopa.person", person(stack.home), purpose="x", officer_id=keyless)
            assert "officer_session" not in plain.payload and plain.payload["officer_id"] == keyless
            with pytest.raises(Unauthenticated) as info:
                await hub.fetch_document("dopa.person", person(stack.home), purpose="x", officer_id=enrolled)
            assert info.value.code == "officer_session_required"
            session = await hub.sign_in_officer(enrolled, card(stack, MUNI, enrolled, tmp_path))
            signed = await hub.fetch_document("dopa.person", person(stack.home), purpose="x", officer_session=session)
            assert signed.payload["officer_session"] == session.session_id
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


async def test_revoked_officer_session_and_sign_in_are_refused(ostack: RunningStack, tmp_path: Path) -> None:
    officer = officers(ostack, HOSPITAL)[0]
    officer_card = card(ostack, HOSPITAL, officer, tmp_path)
    async with client(ostack, HOSPITAL) as hub:
        session = await hub.sign_in_officer(officer, officer_card)
        path = ostack.home.pki / OFFICER_KEYS
        keys, count = revoked(load_officer_keys(path), officer, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        assert count == 2  # the card `linkage init` issued them, and this one
        write_atomically(path, officer_key_set_json(keys))
        size = len(await hub.entries(0, 1000))
        for attempt in (hub.fetch_document("dopa.person", person(ostack.home), purpose="x", officer_session=session),
                        hub.sign_in_officer(officer, officer_card)):
            with pytest.raises(PermissionDenied) as info:
                await attempt
            assert info.value.code == "officer_key_revoked"
        assert len(await hub.entries(0, 1000)) == size


def test_three_wrong_pins_lock_the_card(officer_home: Home, tmp_path: Path) -> None:
    from linkage.config import load_settings

    officer = sorted(load_settings(officer_home).agencies[MUNI].officers)[0]
    path = tmp_path / "card.json"
    issue_card(officer_home.ca, officer, MUNI, PIN, path)  # not published: the hub's tests above are unaffected
    codes = []
    for pin in ("000000", PIN, "111111", "222222", "333333", PIN):
        try:
            open_card(path, pin)
            codes.append("ok")
        except LinkageError as err:
            codes.append(err.code)
            assert err.message_th and err.message_en
    # A right PIN resets the count; the third wrong one in a row locks it, and the right PIN no longer opens it.
    assert codes == ["wrong_pin", "ok", "wrong_pin", "wrong_pin", "card_locked", "card_locked"]
    assert json.loads(path.read_text())["wrong_pins"] == 3
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(LinkageError) as info:
        open_card(tmp_path / "other.json", PIN)
    assert info.value.code == "bad_card"


async def test_cli_card_fetch_then_verify_checks_the_officer(ostack: RunningStack, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`linkage agency officer-card`, `linkage fetch --card` with the PIN from a file, `linkage verify`: check 10
    passes; the auditor catches the same printout with its proof missing or forged."""
    from consumers.auditor.bundle import load_printout
    from consumers.auditor.officercheck import check_officer
    from consumers.auditor.trustinputs import TrustInputs
    from consumers.auditor.verify import verify_printout
    from linkage.cli.main import main

    officer = officers(ostack, MUNI)[2] if len(officers(ostack, MUNI)) > 2 else officers(ostack, MUNI)[0]
    home, card_file, pin_file, out = ostack.home.root, tmp_path / "c.json", tmp_path / "pin", tmp_path / "b.json"
    pin_file.write_text(PIN + "\n")
    assert main(["agency", "officer-card", MUNI, officer, "--home", str(home), "--out", str(card_file),
                 "--pin-file", str(pin_file)]) == 0
    assert main(["keys", "list", "--home", str(home)]) == 0
    listed = capsys.readouterr().out
    assert f"{officer} {MUNI} card" in listed and "in force" in listed
    fetch = ["fetch", "--home", str(home), "--hub", ostack.hub_address, "--agency", MUNI, "--card", str(card_file),
             "--doc-type", "dopa.person", "--id", person(ostack.home), "--purpose", "ตรวจสอบสิทธิ์", "--out", str(out)]
    monkeypatch.setenv("LINKAGE_OFFICER_PIN", "999999")  # wrong: refused, nothing written
    assert await asyncio.to_thread(main, fetch) == 1
    assert "wrong_pin" in capsys.readouterr().err and not out.exists()
    assert await asyncio.to_thread(main, [*fetch, "--pin-file", str(pin_file)]) == 0
    assert "signed in: session" in capsys.readouterr().err
    trust = TrustInputs(home=home).load()
    report = verify_printout(load_printout(out), trust)
    assert report.valid, report.render()
    (check10,) = [c for c in report.checks if c.number == 10]
    assert check10.ok is True and officer in check10.detail
    # The same printout, its log entry stripped of the proof, or with the proof's statement changed.
    printout = load_printout(out)
    assert printout.proof is not None
    entry = json.loads(printout.proof.leaf)
    bare = dataclasses.replace(printout.proof, leaf=json.dumps({k: v for k, v in entry.items()
                                                                 if k != "officer_proof"}).encode())
    (missing,) = check_officer(report.printout or {}, bare, trust.officer_keys)
    assert missing.ok is False and "no officer proof" in missing.detail
    statement = base64.b64decode(entry["officer_proof"]["statement"]).replace(b'"nonce":"', b'"nonce":"1')
    forged_entry = {**entry, "officer_proof": {**entry["officer_proof"],
                                               "statement": base64.b64encode(statement).decode()}}
    forged = dataclasses.replace(printout.proof, leaf=json.dumps(forged_entry).encode())
    (bad,) = check_officer(report.printout or {}, forged, trust.officer_keys)
    assert bad.ok is False and "session" in bad.detail


async def test_audit_watch_alarms_on_an_entry_whose_officer_proof_does_not_hold(ostack: RunningStack,
                                                                                tmp_path: Path) -> None:
    """The monitor checks every new entry's officer proof with the published key set."""
    from consumers.auditor import Alarm, AuditorState, watch_round
    from tests.auditor.fake_log import ORIGIN, FakeLog
    from tests.auditor.test_watch import KEY

    officer = officers(ostack, HOSPITAL)[1]
    officer_card = card(ostack, HOSPITAL, officer, tmp_path)
    async with client(ostack, HOSPITAL) as hub:
        session = await hub.sign_in_officer(officer, officer_card)
        doc = await hub.fetch_document("dopa.person", person(ostack.home), purpose="x", officer_session=session)
        (logged,) = await hub.entries(doc.log_index, doc.log_index + 1)
    keys = load_officer_keys(ostack.home.pki / OFFICER_KEYS)
    entry = json.loads(logged.leaf)
    other = officers(ostack, HOSPITAL)[2]
    forged = json.dumps({**entry, "officer_id": other}).encode()  # the proof is not this officer's
    result = watch_round(FakeLog([logged.leaf], KEY), KEY.verifier(), ORIGIN, AuditorState(), officer_keys=keys)
    assert result.checked == (0,)
    # Every new entry is checked, not only the sampled ones: the sample here is entry 1, the forged one is 2.
    state = AuditorState()
    watch_round(FakeLog([logged.leaf], KEY), KEY.verifier(), ORIGIN, state, officer_keys=keys)
    with pytest.raises(Alarm) as info:
        watch_round(FakeLog([logged.leaf, logged.leaf, forged], KEY), KEY.verifier(), ORIGIN, state, sample=1,
                    rng=random.Random(1), officer_keys=keys)
    assert info.value.kind == "bad_officer_proof" and "entry 2" in info.value.message
