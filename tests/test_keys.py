"""Key rotation against a real hub on port 0: seal and log keys rotate with an overlap, the running hub follows,
what was signed before verifies, a retired key's new signature is refused; agency certificates expire and renew."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from consumers.auditor import Alarm, AuditorState, HubInputs, TrustInputs, run_verify, run_watch, verify_printout
from consumers.auditor.client import AuditClient
from consumers.auditor.watch import watch_round
from consumers.client import HubClient
from consumers.client.errors import ClientSetupError
from linkage import keyset, pki
from linkage.checkpoint import (
    SIGNED_AT,
    Checkpoint,
    NoteSigner,
    RetiredKey,
    open_checkpoint,
    parse_verifier_key,
    sign_note,
)
from linkage.cli import keys
from linkage.cli.main import main
from linkage.cli.onboarding import cert_sha256, renew_agency, revoke_agency
from linkage.cli.sandbox import init
from linkage.config import Home
from linkage.errors import from_rpc_error
from linkage.seal import Sealer, format_issued_at, unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.auditor.test_online import write_bundle
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import HOSPITAL, MUNI, fetch, request, subject

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def sandbox_home(tmp_path: Path) -> Home:
    """A sandbox for each test (conftest's ``stack`` runs it): rotation changes its keys."""
    return init(tmp_path / "sandbox", citizens=30, seed=7)


@pytest.fixture
def home(sandbox_home: Home) -> Home:
    return sandbox_home


@pytest.fixture
def personas(sandbox_home: Home) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(sandbox_home.personas.read_text(encoding="utf-8"))
    return data


@contextlib.asynccontextmanager
async def running(home: Home) -> AsyncIterator[RunningStack]:
    """The registries and the hub of ``home`` started now (after the test changed its keys)."""
    started = await start_stack(home)
    try:
        yield started
    finally:
        await started.hub.stop(0)
        for server in started.providers.values():
            await server.stop(0)


async def printout(stack: RunningStack, personas: list[dict[str, Any]]) -> hub_pb2.FetchDocumentResponse:
    return await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))


def kid(jws: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))
    return str(header["kid"])


def signature_lines(note: str) -> list[str]:
    return [line for line in note.split("\n\n", 1)[1].splitlines() if line]


def auditor(stack: RunningStack) -> HubInputs:
    own = stack.home.client_cert("auditor")
    return HubInputs(hub=stack.hub_address, cert=own.cert, key=own.key)


def verify(path: Path, home: Home, *, now: dt.datetime | None = None, hub: HubInputs | None = None,
           state: Path | None = None) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = run_verify(path, TrustInputs(home=home.root), hub=hub, state=state, as_json=True, now=now, out=out,
                      err=io.StringIO())
    return code, json.loads(out.getvalue())


def failed_check(report: dict[str, Any], number: int) -> str:
    [check] = [c for c in report["checks"] if c["number"] == number]
    assert check["ok"] is False, report
    return str(check["detail"])


class Forged:
    """The hub's audit log, except that its newest checkpoint is the note given: what a thief of a key would serve."""

    def __init__(self, log: AuditClient, note: str) -> None:
        self._log, self._note = log, note

    def checkpoint(self) -> str:
        return self._note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def forge(signer: NoteSigner, origin: str, size: int, root: bytes, at: dt.datetime) -> str:
    text = Checkpoint(origin, size, root, (SIGNED_AT + at.strftime("%Y-%m-%dT%H:%M:%SZ"),)).text()
    return sign_note(text, [signer])


async def test_rotation_while_the_hub_runs(stack: RunningStack, personas: list[dict[str, Any]],
                                           tmp_path: Path) -> None:
    home = stack.home
    before = await printout(stack, personas)
    old_vkey = parse_verifier_key(home.log_note_vkey.read_text().strip())
    assert len(signature_lines(before.checkpoint.note)) == 1 and f"\n{SIGNED_AT}" in before.checkpoint.note

    done = keys.rotate(home, dt.timedelta(days=7))
    after = await printout(stack, personas)  # the same hub process: it took the new keys by itself

    # The new printout carries the new seal key; the old one the old key.
    assert kid(before.jws) == done.seal_old and kid(after.jws) == done.seal_new != done.seal_old
    assert done.retired_at == done.at + dt.timedelta(days=7)
    # During the overlap the checkpoint is signed by both keys: an auditor pinning either verifies it.
    new_vkey = parse_verifier_key(home.log_note_vkey.read_text().strip())
    assert new_vkey != old_vkey and len(signature_lines(after.checkpoint.note)) == 2
    origin = stack.settings.hub.log_origin
    for pinned in (old_vkey, new_vkey):
        assert open_checkpoint(after.checkpoint.note, [pinned], origin).size == after.inclusion_proof.tree_size
    # The key sets say who is in force when.
    log_keys = keyset.load_log_keys(home.pki / keyset.LOG_KEYS)
    assert [(k.verifier, k.retired_at) for k in log_keys] == [(old_vkey, done.retired_at), (new_vkey, None)]
    assert [(k.kid, k.retired_at) for k in keyset.load_seal_keys(home.pki / keyset.SEAL_KEYS)] == [
        (done.seal_old, done.retired_at), (done.seal_new, None)]

    # Both printouts verify against the pinned key sets, now and long after the old keys retired.
    old_path = write_bundle(before, tmp_path / "before.json")
    new_path = write_bundle(after, tmp_path / "after.json")
    for when in (None, done.retired_at + dt.timedelta(days=30)):
        for path in (old_path, new_path):
            code, report = verify(path, home, now=when)
            assert code == 0, report
    code, report = await asyncio.to_thread(verify, old_path, home, hub=auditor(stack), state=tmp_path / "s.json")
    assert code == 0 and report["failed"] == [], report
    out = io.StringIO()
    code = await asyncio.to_thread(run_watch, TrustInputs(home=home.root), auditor(stack),
                                   state=tmp_path / "s.json", once=True, out=out, err=io.StringIO())
    assert code == 0, out.getvalue()

    # linkage keys list shows the windows.
    assert main(["keys", "list", "--home", str(home.root)]) == 0


async def test_a_retired_key_that_signs_after_its_retirement_is_refused(home: Home, personas: list[dict[str, Any]],
                                                                       tmp_path: Path) -> None:
    # What a thief (or a forgotten replica) holds: the keys in force before the rotation.
    old_note = NoteSigner(parse_verifier_key(home.log_note_vkey.read_text().strip()).name,
                          keyset.load_note_key(home.log_note_key))
    old_sealer = Sealer.from_files(home.seal.cert, home.seal.key, home.ca.cert)
    now = dt.datetime.now(dt.UTC)
    # Rotated three minutes ago with a one-minute overlap: the old keys retired two minutes ago (and the sandbox's
    # certificates, made a moment ago, were valid five minutes before that).
    done = keys.rotate(home, MINUTE, now=now - 3 * MINUTE)
    retired = done.retired_at
    assert retired < now and done.pruned == (done.log_old,)  # its private key is gone from the sandbox

    async with running(home) as stack:
        doc = await printout(stack, personas)
        # Only the new key signs now; the new seal key sealed.
        assert len(signature_lines(doc.checkpoint.note)) == 1 and kid(doc.jws) == done.seal_new
        origin = stack.settings.hub.log_origin
        checkpoint = open_checkpoint(doc.checkpoint.note, keyset.log_key_set(home), origin)

        # A checkpoint the retired log key signs now: refused, naming the key.
        forged = forge(old_note, origin, checkpoint.size, checkpoint.root_hash, now)
        with pytest.raises(RetiredKey, match=f"{done.log_old.replace('+', '[+]')} was retired at"):
            open_checkpoint(forged, keyset.log_key_set(home), origin)
        # ... and the monitor raises the alarm.
        own = home.client_cert("auditor")
        with AuditClient.connect(stack.hub_address, home.ca.cert, own) as client:
            log_trust = TrustInputs(home=home.root).load().log_trust
            assert log_trust is not None
            with pytest.raises(Alarm, match="retired") as alarm:
                await asyncio.to_thread(watch_round, Forged(client, forged), log_trust, origin, AuditorState())
            assert alarm.value.kind == "bad_checkpoint" and done.log_old in alarm.value.message
            # A forger who backdates its signature into the key's window is caught by a monitor that saw a
            # later checkpoint: a bigger tree cannot have been signed before a smaller one.
            state = AuditorState()
            await asyncio.to_thread(watch_round, client, log_trust, origin, state)
            backdated = forge(old_note, origin, checkpoint.size + 1, bytes(32), retired - dt.timedelta(minutes=1))
            with pytest.raises(Alarm, match="backdated") as alarm:
                await asyncio.to_thread(watch_round, Forged(client, backdated), log_trust, origin, state)
        # A printout whose checkpoint the retired key signed fails check 5.
        bundle = json.loads(write_bundle(doc, tmp_path / "p.json").read_text(encoding="utf-8"))
        bundle["checkpoint"] = forged
        (tmp_path / "forged.json").write_text(json.dumps(bundle), encoding="utf-8")
        code, report = verify(tmp_path / "forged.json", home)
        assert code == 1 and "retired" in failed_check(report, 5) and done.log_old in failed_check(report, 5)

        # A printout the retired seal key seals now: invalid, check 1 says why.
        payload = unverified_payload(doc.jws) | {"printout_id": str(uuid.uuid4()), "issued_at": format_issued_at(now)}
        trust = TrustInputs(home=home.root).load()
        report_now = verify_printout(old_sealer.seal(payload), trust, now=now)
        assert not report_now.valid
        assert f"seal key {done.seal_old} was retired at" in report_now.checks[0].detail
        # What it sealed before its retirement still verifies.
        payload["issued_at"] = format_issued_at(retired - dt.timedelta(seconds=30))
        report_before = verify_printout(old_sealer.seal(payload), trust, now=now)
        assert report_before.valid, report_before.render()
        # Without the pinned key set only the CA chain speaks: say so by showing the set is what refuses.
        assert verify_printout(old_sealer.seal(payload | {"issued_at": format_issued_at(now)}), trust.ca,
                               now=now).valid


async def test_an_interrupted_rotation_is_finished_when_the_hub_starts(home: Home,
                                                                      personas: list[dict[str, Any]]) -> None:
    seal_before = home.seal.cert.read_bytes()
    staged = keys.stage_rotation(home, dt.timedelta(days=1))
    # Committed but not in force: the files in place are the old ones.
    assert home.seal.cert.read_bytes() == seal_before and not (home.pki / keyset.SEAL_KEYS).exists()
    async with running(home) as stack:
        doc = await printout(stack, personas)
    assert kid(doc.jws) == staged.seal_new and len(signature_lines(doc.checkpoint.note)) == 2
    assert not (home.pki / "rotation-pending").exists()


def _pki_digest(home: Home) -> dict[str, str]:
    return {str(p.relative_to(home.pki)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.pki.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("overlap", "message"), [
    ("7x", "is not a duration"), ("7", "is not a duration"), ("-1d", "is not a duration"),
    ("400d", "longer than 365 days"), ("", "is not a duration"),
])
def test_a_bad_overlap_changes_nothing(home: Home, overlap: str, message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = _pki_digest(home)
    assert main(["keys", "rotate", "--home", str(home.root), f"--overlap={overlap}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad_overlap" in err and "nothing was changed" in err
    assert _pki_digest(home) == before


def test_rotate_from_the_command_line_and_a_broken_key_set(home: Home, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "rotate", "--home", str(home.root), "--overlap", "12h"]) == 0
    out = capsys.readouterr().out
    assert "the old keys retire at" in out and "no restart needed" in out
    assert main(["keys", "rotate", "--home", str(home.root), "--overlap", "0"]) == 0
    # Three seal keys: the first retired 12 hours after the first rotation, the second at once.
    seals = keyset.load_seal_keys(home.pki / keyset.SEAL_KEYS)
    assert len(seals) == 3 and seals[1].retired_at == seals[2].not_before and seals[2].retired_at is None
    assert main(["keys", "list", "--home", str(home.root)]) == 0
    assert "RETIRED at" in capsys.readouterr().out
    # An auditor refuses a key set it cannot read, naming the file.
    (home.pki / keyset.LOG_KEYS).write_text('{"version": 1, "keys": [{"vkey": "nonsense"}]}', encoding="utf-8")
    path = tmp_path / "x.jws"
    path.write_text("a.b.c", encoding="utf-8")
    err = io.StringIO()
    code = run_verify(path, TrustInputs(home=home.root), err=err, out=io.StringIO())
    assert code == 2 and keyset.LOG_KEYS in err.getvalue() and "keys[0]" in err.getvalue()


async def _list_services(stack: RunningStack, own: pki.CertPaths) -> hub_pb2.ListServicesResponse:
    creds = pki.channel_credentials(stack.home.ca.cert, own)
    async with grpc.aio.secure_channel(stack.hub_address, creds) as channel:
        answer: hub_pb2.ListServicesResponse = await hub_pb2_grpc.LinkageHubStub(channel).ListServices(
            hub_pb2.ListServicesRequest(), timeout=10)
        return answer


async def test_expired_revoked_and_renewed_agency_certificates(stack: RunningStack, tmp_path: Path) -> None:
    home = stack.home
    # An expired certificate of a registered agency: the hub refuses it in the TLS handshake.
    expired = pki.issue(home.ca, MUNI, pki.Role.CLIENT, tmp_path / "expired", unit="agency",
                        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10), days=1)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _list_services(stack, expired)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    # The client library says why before it tries.
    with pytest.raises(ClientSetupError, match=f"expired at .* renew it: linkage agency renew {MUNI}"):
        HubClient.connect(stack.hub_address, home.ca.cert, expired)

    # Renewal: a new certificate, pinned; the old one is refused at once by the running hub.
    old = pki.CertPaths(tmp_path / "old.pem", tmp_path / "old.key")
    shutil.copy(home.client_cert(MUNI).cert, old.cert)
    shutil.copy(home.client_cert(MUNI).key, old.key)
    assert (await _list_services(stack, old)).agency == MUNI
    settings = renew_agency(home, MUNI, days=30)
    new = home.client_cert(MUNI).cert.read_bytes()
    assert settings.agencies[MUNI].cert_sha256 == cert_sha256(new) != cert_sha256(old.cert.read_bytes())
    assert x509.load_pem_x509_certificate(new).not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert (await _list_services(stack, home.client_cert(MUNI))).agency == MUNI
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _list_services(stack, old)
    assert from_rpc_error(info.value).code == "certificate_not_registered"

    # A revoked agency's certificate still chains to the CA, and is refused with the reason.
    hospital = pki.CertPaths(tmp_path / "h.pem", tmp_path / "h.key")
    shutil.copy(home.client_cert(HOSPITAL).cert, hospital.cert)
    shutil.copy(home.client_cert(HOSPITAL).key, hospital.key)
    revoke_agency(home, HOSPITAL)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _list_services(stack, hospital)
    err = from_rpc_error(info.value)
    assert err.code == "agency_revoked" and "revoked" in err.message


def test_renew_refuses_bad_input_and_writes_nothing(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    config = home.config_file.read_bytes()
    before = _pki_digest(home)
    assert main(["agency", "renew", "no-such-agency", "--home", str(home.root)]) == 2
    assert "no_such_agency" in capsys.readouterr().err
    assert main(["agency", "renew", MUNI, "--days", "0", "--home", str(home.root)]) == 2
    assert "bad_days" in capsys.readouterr().err
    assert home.config_file.read_bytes() == config and _pki_digest(home) == before


def test_key_windows_are_judged_at_the_signed_time() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from linkage.checkpoint import KeyWindow

    old, new = NoteSigner("o", Ed25519PrivateKey.generate()), NoteSigner("o", Ed25519PrivateKey.generate())
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    windows = [KeyWindow(old.verifier(), None, t0), KeyWindow(new.verifier(), t0, None)]
    text = Checkpoint("o", 1, bytes(32)).text()

    def note(signer: NoteSigner, at: dt.datetime | None) -> str:
        cp = Checkpoint("o", 1, bytes(32), () if at is None else (SIGNED_AT + at.strftime("%Y-%m-%dT%H:%M:%SZ"),))
        return sign_note(cp.text(), [signer])

    assert open_checkpoint(note(old, t0 - HOUR), windows, "o").size == 1
    assert open_checkpoint(note(new, t0), windows, "o").size == 1
    with pytest.raises(RetiredKey, match="was retired at 2026-01-01T00:00:00Z"):
        open_checkpoint(note(old, t0), windows, "o")
    with pytest.raises(RetiredKey, match="carries no signed-at time"):
        open_checkpoint(note(old, None), windows, "o")
    with pytest.raises(RetiredKey, match="in force only from"):
        open_checkpoint(note(new, t0 - HOUR), windows, "o")
    # Without windows (one pinned key, as before rotation existed) no time is needed.
    assert open_checkpoint(sign_note(text, [old]), [old.verifier()], "o").size == 1
    assert dataclasses.replace(windows[0], retired_at=None).in_force(None)
