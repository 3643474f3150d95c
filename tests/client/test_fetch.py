"""The client fetches, verifies on receipt, and raises the hub's typed errors: real hub, registries and mTLS."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from consumers.auditor.bundle import parse_printout
from consumers.auditor.verify import Trust, verify_printout
from consumers.client import (
    ClientSetupError,
    FetchRequest,
    HubClient,
    Printout,
    PrintoutRejected,
    SignedInOfficer,
    receive,
)
from linkage.checkpoint import parse_verifier_key
from linkage.config import Home
from linkage.errors import InvalidRequest, NotFound, PermissionDenied, Unauthenticated
from linkage.ids import with_check_digit
from linkage.seal import b64url_decode, b64url_encode
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.client.conftest import HOSPITAL, MUNI, PURPOSE, officer, subject
from tests.conftest import RunningStack
from tests.officers import card, signed_in


async def test_fetch_is_verified_on_receipt_and_typed(stack: RunningStack, client_home: Home,
                                                      personas: list[dict[str, Any]], tmp_path: Path) -> None:
    citizen = subject(personas, "dopa.person")
    before = stack.hub.hub.log.size
    async with HubClient.from_home(client_home, MUNI) as hub:
        assert hub.agency == MUNI  # from the certificate, not from an argument
        desk = hub.officer(card(stack.home, MUNI, officer(stack, MUNI)))  # the officer signs in with their card
        doc = await desk.fetch_document("dopa.person", citizen, purpose=PURPOSE, case_ref="PHR-2569-0007")
    assert isinstance(doc, Printout)
    assert doc.payload["officer_session"] == (await desk.session()).session_id
    assert doc.payload["subject_id"] == citizen and doc.payload["case_ref"] == "PHR-2569-0007"
    assert doc.data["first_name_th"] and doc.doc_type == "dopa.person"
    assert doc.log_index == before and doc.proof is not None and doc.proof.leaf_index == before
    assert doc.checkpoint.startswith(stack.settings.hub.log_origin + "\n")
    # Verified on receipt, log proof included (from_home pins the log key).
    assert doc.verified and doc.report is not None
    assert {c.number for c in doc.report.checks if c.ok} >= {1, 2, 4, 5}, doc.report.render()
    # The bundle it writes is what the auditor reads, and it verifies there too.
    path = tmp_path / "printout.json"
    path.write_text(json.dumps(doc.bundle(), ensure_ascii=False), encoding="utf-8")
    examined = parse_printout(path.read_bytes(), str(path))
    trust = Trust(x509.load_pem_x509_certificate(stack.home.ca.cert.read_bytes()),
                  parse_verifier_key(stack.home.log_note_vkey.read_text().strip()), stack.settings.hub.log_origin)
    assert verify_printout(examined, trust).valid


async def test_refusals_are_the_hubs_typed_errors(stack: RunningStack, client_home: Home,
                                                  personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "dopa.person")
    async with HubClient.from_home(client_home, HOSPITAL) as hub:
        desk = hub.officer(card(stack.home, HOSPITAL, officer(stack, HOSPITAL)))
        with pytest.raises(PermissionDenied) as denied:
            await desk.fetch_document("dopa.house", citizen, purpose=PURPOSE)
        assert denied.value.code == "no_right" and "dopa.house" in denied.value.message
        with pytest.raises(NotFound) as missing:
            await desk.fetch_document("dopa.person", with_check_digit("899999999999"), purpose=PURPOSE)
        assert missing.value.code == "record_not_found"
        bad = citizen[:12] + str((int(citizen[12]) + 1) % 10)
        with pytest.raises(InvalidRequest) as malformed:
            await desk.fetch_document("dopa.person", bad, purpose=PURPOSE)
        assert malformed.value.code == "check_digit_mismatch"
        # Several documents: each one's outcome in its place, typed the same way.
        outcomes = await desk.fetch_documents(["dopa.person", "dopa.house"], citizen, purpose=PURPOSE)
        # A bare officer ID is refused: the hub requires the officer's own sign-in.
        with pytest.raises(Unauthenticated) as bare:
            await hub.fetch_document("dopa.person", citizen, purpose=PURPOSE, officer_id=officer(stack, HOSPITAL))
        assert bare.value.code == "officer_session_required" and bare.value.message_th
    assert list(outcomes) == ["dopa.person", "dopa.house"]
    assert isinstance(outcomes["dopa.person"], Printout) and outcomes["dopa.person"].verified
    house = outcomes["dopa.house"]
    assert isinstance(house, PermissionDenied) and house.code == "no_right" and house.side == "caller"


async def _raw_answer(stack: RunningStack, request: FetchRequest) -> hub_pb2.FetchDocumentResponse:
    async with stack.channel(MUNI) as channel:
        answer: hub_pb2.FetchDocumentResponse = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
            await signed_in(stack, MUNI, hub_pb2.FetchDocumentRequest(
                doc_type=request.doc_type, subject_id=request.subject_id, purpose=request.purpose,
                officer_id=request.officer_id, case_ref=request.case_ref)))
    return answer


def _with_payload(answer: hub_pb2.FetchDocumentResponse, change: dict[str, Any]) -> hub_pb2.FetchDocumentResponse:
    header, payload, signature = answer.jws.split(".")
    body = json.loads(b64url_decode(payload)) | change
    altered = hub_pb2.FetchDocumentResponse()
    altered.CopyFrom(answer)
    altered.jws = ".".join((header, b64url_encode(json.dumps(body, ensure_ascii=False).encode()), signature))
    return altered


async def test_tampered_or_foreign_answers_are_refused(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    asked = FetchRequest("dopa.person", subject(personas, "dopa.person"), PURPOSE, officer(stack, MUNI),
                         "PHR-2569-0008")
    answer = await _raw_answer(stack, asked)
    trust = Trust(x509.load_pem_x509_certificate(stack.home.ca.cert.read_bytes()),
                  parse_verifier_key(stack.home.log_note_vkey.read_text().strip()), stack.settings.hub.log_origin)
    assert receive(answer, asked, MUNI, trust).verified  # the untouched answer passes

    # A payload changed after sealing: the seal no longer verifies (check 2).
    forged = _with_payload(answer, {"data": {"first_name_th": "ปลอม"}})
    with pytest.raises(PrintoutRejected) as bad_seal:
        receive(forged, asked, MUNI, trust)
    assert bad_seal.value.code == "printout_invalid" and bad_seal.value.report is not None
    assert 2 in {c.number for c in bad_seal.value.report.failed}, bad_seal.value.report.render()

    # A signature flipped by one character.
    header, payload, signature = answer.jws.split(".")
    flipped = hub_pb2.FetchDocumentResponse()
    flipped.CopyFrom(answer)
    flipped.jws = f"{header}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(PrintoutRejected, match="failed verification"):
        receive(flipped, asked, MUNI, trust)

    # A genuine printout answering another request (another purpose, another case) is not this one's.
    for other, agency in ((dataclasses.replace(asked, purpose="อื่น"), MUNI),
                          (dataclasses.replace(asked, case_ref="PHR-2569-0009"), MUNI),
                          (dataclasses.replace(asked, citizen_present=True), MUNI),
                          (asked, HOSPITAL)):
        with pytest.raises(PrintoutRejected) as foreign:
            receive(answer, other, agency, trust)
        assert foreign.value.code == "printout_not_requested", foreign.value.message

    # A log proof for another leaf (check 4).
    moved = hub_pb2.FetchDocumentResponse()
    moved.CopyFrom(answer)
    moved.log_leaf = answer.log_leaf.replace(b'"agency":"phrae-municipality"', b'"agency":"phrae-hospital"')
    with pytest.raises(PrintoutRejected) as bad_leaf:
        receive(moved, asked, MUNI, trust)
    assert bad_leaf.value.report is not None and 4 in {c.number for c in bad_leaf.value.report.failed}

    # Turned off by name, nothing is checked: the forged payload comes through, unverified.
    taken = receive(forged, asked, MUNI, None)
    assert taken.report is None and not taken.verified and taken.data == {"first_name_th": "ปลอม"}


def test_from_home_names_what_is_wrong(client_home: Home, tmp_path: Path) -> None:
    with pytest.raises(ClientSetupError, match=r"no agency .nobody.; known: .*phrae-hospital"):
        HubClient.from_home(client_home, "nobody")
    with pytest.raises(ClientSetupError, match=r"is not running .*`linkage up --home"):
        HubClient.from_home(tmp_path / "empty", MUNI)
    broken = Home(tmp_path / "broken")
    broken.root.mkdir()
    broken.endpoints.write_text('{"hub": "127.0.0.1:1"}', encoding="utf-8")
    with pytest.raises(ClientSetupError, match="not a sandbox's endpoints file"):
        HubClient.from_home(broken, MUNI)


async def test_the_officer_signs_in_once_and_again_before_the_session_ends_or_when_the_hub_forgets_it(
        stack: RunningStack, client_home: Home, personas: list[dict[str, Any]]) -> None:
    """hub.officer(card): signed in on the first fetch, the session kept for the next, a new one shortly before it
    ends; a session the hub no longer takes is replaced and the fetch sent again (nothing was issued)."""
    citizen = subject(personas, "dopa.person")
    now = [dt.datetime.now(dt.UTC)]
    async with HubClient.from_home(client_home, MUNI) as hub:
        desk = SignedInOfficer(hub, card(stack.home, MUNI, officer(stack, MUNI)), officer(stack, MUNI),
                               renew_before=60, clock=lambda: now[0])
        first = await desk.fetch_document("dopa.person", citizen, purpose=PURPOSE)
        second = await desk.fetch_document("dopa.person", citizen, purpose=PURPOSE)
        assert first.payload["officer_session"] == second.payload["officer_session"]
        # 29 minutes on (a session lasts 30): less than a minute left, so the officer signs in again first.
        now[0] += dt.timedelta(minutes=29, seconds=30)
        third = await desk.fetch_document("dopa.person", citizen, purpose=PURPOSE)
        assert third.payload["officer_session"] != second.payload["officer_session"]
        # A session the hub does not know (one it swept, or a hub with another store): refused with
        # officer_session_unknown, nothing issued, then signed in anew and sent once more.
        known = await desk.session()
        desk._session = dataclasses.replace(known, secret="forgotten-" + known.secret[:8])
        before = stack.hub.hub.log.size
        fourth = await desk.fetch_document("dopa.person", citizen, purpose=PURPOSE)
        assert fourth.payload["officer_session"] not in (known.session_id, second.payload["officer_session"])
        assert fourth.log_index == before and stack.hub.hub.log.size == before + 1  # one printout, not two
        with pytest.raises(ValueError):
            hub.officer(card(stack.home, MUNI, officer(stack, MUNI)).key)  # type: ignore[arg-type]
