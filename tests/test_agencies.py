"""`linkage agency add | revoke | list` against a running hub: onboarded at once, revoked at once, bad input refused.

Each test works on its own copy of the session's sandbox (the configuration is what changes).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import tomli_w

from consumers.client import OfficerSession
from linkage import pki
from linkage.cli.main import main
from linkage.cli.onboarding import cert_sha256
from linkage.cli.sandbox import init
from linkage.config import Home, load_settings
from linkage.errors import from_rpc_error
from linkage.seal import unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack, start_stack
from tests.officers import card_args, session, sign_in_over
from tests.test_sandbox import FREE_PORTS

NEW = "chiangmai-land-office"
PURPOSE = "ตรวจสอบตัวผู้ขอออกโฉนดที่ดิน / checking who applies for a land title deed"
FIELDS = ("first_name_th", "birth_date")
ADD = ["agency", "add", NEW, "--doc-types", "dopa.person,dopa.house", "--purpose", PURPOSE,
       "--fields", f"dopa.person={','.join(FIELDS)}", "--officers", "2"]


@pytest.fixture
def home(sandbox_home: Home, tmp_path: Path) -> Home:
    return _copy(sandbox_home, tmp_path / "home")


def _copy(source: Home, root: Path) -> Home:
    shutil.copytree(source.root, root, ignore=shutil.ignore_patterns("endpoints.json"))
    return Home(root.resolve())


@pytest.fixture
async def running(home: Home) -> Any:
    stack = await start_stack(home)
    try:
        yield stack
    finally:
        await stack.hub.stop(0)
        for server in stack.providers.values():
            await server.stop(0)


def _citizen(personas: list[dict[str, Any]]) -> str:
    return next(str(p["id"]) for p in personas
                if p["kind"] == "citizen" and {"dopa.person", "dopa.house", "dopa.card"} <= set(p["doc_types"]))


def _channel(stack: RunningStack, cert: bytes, key: bytes) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(root_certificates=stack.home.ca.cert.read_bytes(), private_key=key,
                                         certificate_chain=cert)
    return grpc.aio.secure_channel(stack.hub_address, creds)


def _agency(home: Home, args: list[str]) -> int:
    return main([*args, "--home", str(home.root)])


async def _fetch(channel: grpc.aio.Channel, doc_type: str, subject: str, officer: OfficerSession,
                 citizen_present: bool = False) -> hub_pb2.FetchDocumentResponse:
    stub = hub_pb2_grpc.LinkageHubStub(channel)
    response: hub_pb2.FetchDocumentResponse = await stub.FetchDocument(hub_pb2.FetchDocumentRequest(
        doc_type=doc_type, subject_id=subject, purpose="ออกโฉนด", officer_session=officer.secret,
        citizen_present=citizen_present))
    return response


async def _refused(channel: grpc.aio.Channel, doc_type: str, subject: str,
                   officer: OfficerSession) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _fetch(channel, doc_type, subject, officer)  # no right comes before presence (step 6, then 8)
    err = from_rpc_error(info.value)
    return info.value.code(), err.code, err.message


async def test_added_agency_reads_its_grant_at_once_and_revoked_is_refused_at_once(
        running: RunningStack, personas: list[dict[str, Any]]) -> None:
    home = running.home
    citizen = _citizen(personas)
    assert _agency(home, ADD) == 0  # the hub keeps running: no restart below
    agency = load_settings(home).agencies[NEW]
    assert len(agency.officers) == 2 and agency.purpose == PURPOSE
    paths = home.client_cert(NEW)
    cert, key = paths.cert.read_bytes(), paths.key.read_bytes()
    assert agency.cert_sha256 == cert_sha256(cert)

    channel = _channel(running, cert, key)
    try:
        # Each officer onboarded holds a card (its PIN beside it, in the sandbox): the hub requires their sign-in.
        officer = await sign_in_over(channel, home, NEW, sorted(agency.officers)[0])
        person = await _fetch(channel, "dopa.person", citizen, officer)
        payload = unverified_payload(person.jws)
        assert payload["agency"] == NEW and set(payload["data"]) == set(FIELDS)  # only the granted fields
        house = await _fetch(channel, "dopa.house", citizen, officer)
        assert "members" in unverified_payload(house.jws)["data"]  # no --fields: every field
        code, reason, _ = await _refused(channel, "dopa.card", citizen, officer)
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "no_right")

        assert _agency(home, ["agency", "revoke", NEW]) == 0
        # The same certificate, on the same open connection, on the very next call:
        code, reason, message = await _refused(channel, "dopa.person", citizen, officer)
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "agency_revoked")
        assert f"{NEW} was revoked" in message
    finally:
        await channel.close()
    assert not paths.cert.exists() and not paths.key.exists()

    # The other agencies kept their rights through both reloads.
    muni = await session(running, "phrae-municipality")
    async with running.channel("phrae-municipality") as other:
        assert unverified_payload((await _fetch(other, "dopa.person", citizen, muni)).jws)["subject_id"] == citizen

    # Onboarded again under the same name: a new certificate works, the revoked one stays refused.
    assert _agency(home, ADD) == 0
    async with running.channel(NEW) as renewed:
        officer = await sign_in_over(renewed, home, NEW, sorted(load_settings(home).agencies[NEW].officers)[0])
        assert (await _fetch(renewed, "dopa.person", citizen, officer)).jws
    async with _channel(running, cert, key) as old:
        code, reason, _ = await _refused(old, "dopa.person", citizen, officer)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "agency_revoked")


async def test_a_certificate_other_than_the_registered_one_is_refused(running: RunningStack,
                                                                      personas: list[dict[str, Any]]) -> None:
    """The CA signs a second certificate with the agency's name: the pin in linkage.toml refuses it."""
    home = running.home
    assert _agency(home, ADD) == 0
    async with running.channel(NEW) as own:
        officer = await sign_in_over(own, home, NEW, sorted(load_settings(home).agencies[NEW].officers)[0])
    other = pki.issue(home.ca, NEW, pki.Role.CLIENT, running.home.root / "elsewhere", unit="agency")
    async with _channel(running, other.cert.read_bytes(), other.key.read_bytes()) as channel:
        code, reason, _ = await _refused(channel, "dopa.person", _citizen(personas), officer)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "certificate_not_registered")


async def test_a_broken_config_is_refused_loudly_and_the_rights_before_it_kept(
        running: RunningStack, personas: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    home = running.home
    assert _agency(home, ADD) == 0
    good = home.config_file.read_text(encoding="utf-8")
    citizen = _citizen(personas)
    async with running.channel(NEW) as channel:
        officer = await sign_in_over(channel, home, NEW, sorted(load_settings(home).agencies[NEW].officers)[0])
        assert (await _fetch(channel, "dopa.person", citizen, officer)).jws  # the hub has taken NEW in
        home.config_file.write_text(good.replace("[agencies.auditor]", "[agencies.auditor]\nrole = 'boss'"),
                                    encoding="utf-8")
        with caplog.at_level(logging.ERROR, logger="linkage.config"):
            assert (await _fetch(channel, "dopa.person", citizen, officer)).jws
        assert "CONFIGURATION REFUSED" in caplog.text and "'role'" in caplog.text
        # Fixed by hand, and NEW taken out in the same edit: the fixed file is followed at once.
        fixed = tomllib.loads(good)
        del fixed["agencies"][NEW]
        home.config_file.write_text(tomli_w.dumps(fixed), encoding="utf-8")
        assert NEW not in load_settings(home).agencies
        code, reason, _ = await _refused(channel, "dopa.person", citizen, officer)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "unknown_agency")


def test_list_shows_who_may_read_what(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert _agency(home, ADD) == 0
    capsys.readouterr()
    assert _agency(home, ["agency", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    new = next(a for a in listed["agencies"] if a["name"] == NEW)
    assert new["grants"] == {"dopa.house": ["*"], "dopa.person": list(FIELDS)}
    assert new["officers"] == 2 and new["purpose"] == PURPOSE
    expires = dt.datetime.fromisoformat(new["cert_expires"]).date()
    assert expires - dt.date.today() in (dt.timedelta(days=pki.LEAF_DAYS), dt.timedelta(days=pki.LEAF_DAYS - 1))
    hospital = next(a for a in listed["agencies"] if a["name"] == "phrae-hospital")
    assert "address" not in hospital["grants"]["dopa.person"]

    assert _agency(home, ["agency", "revoke", "phrae-hospital"]) == 0
    capsys.readouterr()
    assert _agency(home, ["agency", "list"]) == 0
    text = capsys.readouterr().out
    assert f"{NEW}  (" in text and "dopa.person: first_name_th, birth_date" in text and "officers: 2" in text
    assert "phrae-hospital  revoked at" in text and "phrae-hospital  (" not in text


@pytest.fixture(scope="module")
def untouched_home(sandbox_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    return _copy(sandbox_home, tmp_path_factory.mktemp("bad-input") / "home")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _add(name: str = NEW, *, doc_types: str = "dopa.person", purpose: str = PURPOSE, extra: tuple[str, ...] = ()
         ) -> list[str]:
    return ["agency", "add", name, "--doc-types", doc_types, "--purpose", purpose, *extra]


BAD_INPUT = {
    "name_taken": (_add("phrae-hospital"), "phrae-hospital' exists already"),
    "name_of_another_certificate": (_add("linkage-hub"), "linkage-hub.pem already exists"),
    "bad_name": (_add("Land Office"), "'Land Office' is not allowed"),
    "unknown_doc_type": (_add(doc_types="dopa.person,dopa.passport"), "no provider serves 'dopa.passport'"),
    "no_doc_types": (_add(doc_types=" , "), "names no document type"),
    "purpose_empty": (_add(purpose=""), "--purpose is empty"),
    "purpose_blank": (_add(purpose="   "), "--purpose is empty"),
    "purpose_too_long": (_add(purpose="x" * 501), "at most 500"),
    "unknown_field": (_add(extra=("--fields", "dopa.person=first_name_th,name_th")), "has no field 'name_th'"),
    "field_of_a_type_not_granted": (_add(extra=("--fields", "dopa.card=status")), "not in --doc-types"),
    "fields_without_equals": (_add(extra=("--fields", "dopa.person")), "TYPE=FIELD"),
    "fields_twice": (_add(extra=("--fields", "dopa.person=sex", "dopa.person=status")), "given twice"),
    "bad_officer": (_add(extra=("--officer", "1234567890123")), "check digit should be 1"),
    "no_officer": (_add(extra=("--officers", "0")), "at least one officer"),
    "too_many_officers": (_add(extra=("--officers", "100000")), "draw 0 to 100"),
    "revoke_unknown": (["agency", "revoke", "nobody"], "no agency named 'nobody'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_and_changes_nothing(untouched_home: Home, case: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    args, said = BAD_INPUT[case]
    before = _tree(untouched_home.root)
    assert _agency(untouched_home, args) == 2
    err = capsys.readouterr().err
    assert said in err and "nothing was changed" in err
    assert _tree(untouched_home.root) == before  # linkage.toml byte for byte, no file new or gone in pki/


def test_a_draw_the_registry_cannot_meet_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = init(tmp_path / "small", citizens=30)  # a dozen working-age people with a card in use, some officers
    before = _tree(home.root)
    assert _agency(home, _add(extra=("--officers", "100"))) == 2
    assert "--officers 100: the civil registry has only" in capsys.readouterr().err
    assert _tree(home.root) == before


# --- as a user runs it: `linkage up` in its own processes, the CLI in others ---------------------------------------



def _linkage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linkage.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **FREE_PORTS})


@pytest.fixture
def sandbox_up(home: Home) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **FREE_PORTS})
    try:
        deadline = time.monotonic() + 60
        while not home.endpoints.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "linkage up did not write endpoints.json in time"
            time.sleep(0.1)
        yield json.loads(home.endpoints.read_text(encoding="utf-8"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_onboarding_while_linkage_up_runs(home: Home, sandbox_up: dict[str, Any],
                                          personas: list[dict[str, Any]]) -> None:
    citizen = _citizen(personas)
    added = _linkage(*ADD, "--home", str(home.root))
    assert added.returncode == 0, added.stderr
    endpoints = json.loads(home.endpoints.read_text(encoding="utf-8"))
    new = endpoints["agencies"][NEW]
    assert new["cert"] == str(home.client_cert(NEW).cert) and len(new["officers"]) == 2
    assert endpoints["hub"] == sandbox_up["hub"]  # the rest of the file is as `up` wrote it

    # The officer signs in with the card `agency add` issued them (its PIN beside it in the sandbox).
    card = card_args(home, NEW, new["officers"][0])
    fetched = _linkage("fetch", "--home", str(home.root), "--agency", NEW, *card,
                       "--doc-type", "dopa.person", "--id", citizen, "--purpose", "ออกโฉนด")
    assert fetched.returncode == 0, fetched.stderr
    assert set(json.loads(fetched.stdout)["data"]) == set(FIELDS)
    refused = _linkage("fetch", "--home", str(home.root), "--agency", NEW, *card,
                       "--doc-type", "dopa.card", "--id", citizen, "--purpose", "ออกโฉนด", "--citizen-present")
    assert refused.returncode == 1 and "no_right" in refused.stderr
    # With the bare ID, the hub wants their sign-in, and the command says which card to use.
    bare = _linkage("fetch", "--home", str(home.root), "--agency", NEW, "--officer", new["officers"][0],
                    "--doc-type", "dopa.person", "--id", citizen, "--purpose", "ออกโฉนด")
    assert bare.returncode == 1 and "officer_session_required" in bare.stderr and card[1] in bare.stderr

    listed = _linkage("agency", "list", "--home", str(home.root))
    assert listed.returncode == 0 and f"{NEW}  (" in listed.stdout

    cert, key = Path(new["cert"]).read_bytes(), Path(new["key"]).read_bytes()
    revoked = _linkage("agency", "revoke", NEW, "--home", str(home.root))
    assert revoked.returncode == 0, revoked.stderr
    assert NEW not in json.loads(home.endpoints.read_text(encoding="utf-8"))["agencies"]
    creds = grpc.ssl_channel_credentials(root_certificates=home.ca.cert.read_bytes(), private_key=key,
                                         certificate_chain=cert)
    with grpc.secure_channel(endpoints["hub"], creds) as channel:
        with pytest.raises(grpc.RpcError) as info:
            hub_pb2_grpc.LinkageHubStub(channel).ListServices(hub_pb2.ListServicesRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert f"{NEW} was revoked" in info.value.details()
