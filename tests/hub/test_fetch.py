"""FetchDocument end to end: real registries and hub on port 0, real mTLS, real seal and log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from consumers.auditor.verify import verify_printout
from linkage import pki
from linkage.cards import CitizenCard, presence_hash
from linkage.errors import from_rpc_error
from linkage.ids import with_check_digit
from linkage.seal import unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack
from tests.officers import signed_in

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"


def subject(personas: list[dict[str, Any]], doc_type: str, kind: str = "citizen") -> str:
    for p in personas:
        if p["kind"] == kind and doc_type in p["doc_types"]:
            return str(p["id"])
    raise AssertionError(f"no {kind} persona with {doc_type}")


def officer(stack: RunningStack, agency: str) -> str:
    return sorted(stack.settings.agencies[agency].officers)[0]


def request(stack: RunningStack, agency: str, doc_type: str, subject_id: str,
            **kw: Any) -> hub_pb2.FetchDocumentRequest:
    fields: dict[str, Any] = {"doc_type": doc_type, "subject_id": subject_id, "purpose": "ขึ้นทะเบียนผู้สูงอายุ",
                              "officer_id": officer(stack, agency), "case_ref": "PHR-2569-0001"}
    fields.update(kw)
    return hub_pb2.FetchDocumentRequest(**fields)


async def fetch(stack: RunningStack, agency: str, req: hub_pb2.FetchDocumentRequest) -> hub_pb2.FetchDocumentResponse:
    """req sent as agency, under its officer's session."""
    await signed_in(stack, agency, req)
    async with stack.channel(agency) as channel:
        answer: hub_pb2.FetchDocumentResponse = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req)
        return answer


async def refused(stack: RunningStack, agency: str | None, req: hub_pb2.FetchDocumentRequest,
                  ca: Any = None, *, bare: bool = False) -> grpc.aio.AioRpcError:
    """The hub's refusal of req sent as agency: under its officer's session, unless bare (or no agency)."""
    if agency is not None and not bare:
        await signed_in(stack, agency, req)
    async with stack.channel(agency, ca) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req, timeout=10)
    return info.value


async def test_printout_is_sealed_logged_and_verifies(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "dopa.person")
    before = stack.hub.hub.log.size
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", citizen))
    payload = unverified_payload(doc.jws)
    assert payload["subject_id"] == citizen
    assert payload["printout_id"] == doc.printout_id
    assert payload["agency"] == MUNI and payload["purpose"] == "ขึ้นทะเบียนผู้สูงอายุ"
    assert payload["officer_id"] == officer(stack, MUNI) and payload["case_ref"] == "PHR-2569-0001"
    assert payload["provider"] == "dopa" and payload["issued_at"].endswith("Z")
    assert payload["request_hash"].startswith("sha256:")
    assert payload["data"]["first_name_th"]  # Thai name came through intact
    # The log holds it, at the index the answer names, with the printout's digest and no subject in clear.
    assert doc.log_index == before and stack.hub.hub.log.size == before + 1
    [(index, raw)] = await stack.hub.hub.log.entries(doc.log_index, doc.log_index + 1)
    assert index == doc.log_index and raw == doc.log_leaf
    leaf = json.loads(raw)
    assert leaf["printout_id"] == doc.printout_id
    assert leaf["printout_sha256"] == hashlib.sha256(doc.jws.rpartition(".")[0].encode()).hexdigest()
    assert citizen not in json.dumps(leaf) and leaf["subject_hash"] == stack.hub.hub.log.subject_hash(citizen)
    # Anyone holding the CA certificate can verify it.
    root = x509.load_pem_x509_certificate(stack.home.ca.cert.read_bytes())
    report = verify_printout(doc.jws, root)
    assert report.valid, report.render()


async def test_agency_gets_only_granted_fields(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "dopa.person")
    full = unverified_payload((await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", citizen))).jws)["data"]
    narrow = unverified_payload((await fetch(stack, HOSPITAL, request(stack, HOSPITAL, "dopa.person", citizen))).jws)
    granted = set(stack.settings.agencies[HOSPITAL].grants["dopa.person"])
    assert set(narrow["data"]) == granted & set(full)
    assert "address" in full and "address" not in narrow["data"]
    assert narrow["agency"] == HOSPITAL


async def test_juristic_document(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    company = subject(personas, "dbd.juristic", kind="juristic")
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dbd.juristic", company))
    assert unverified_payload(doc.jws)["subject_id"] == company


def _with_wrong_check_digit(national_id: str) -> tuple[str, str]:
    right = with_check_digit(national_id[:12])[-1]
    wrong = str((int(right) + 1) % 10)
    return national_id[:12] + wrong, right


BAD_IDS = [
    ("110170023070", "id_wrong_length", "13"),
    ("11017002307088", "id_wrong_length", "13"),
    ("1101700a30708", "id_not_digits", "0-9"),
    ("9101700230705", "id_bad_first_digit", "9"),
]


@pytest.mark.parametrize(("bad", "reason", "hint"), BAD_IDS)
async def test_malformed_id_is_invalid_argument(stack: RunningStack, bad: str, reason: str, hint: str) -> None:
    err = await refused(stack, MUNI, request(stack, MUNI, "dopa.person", bad))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    parsed = from_rpc_error(err)
    assert parsed.code == reason and hint in parsed.message and parsed.side == "caller"


async def test_wrong_check_digit_says_which_is_right(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    bad, right = _with_wrong_check_digit(subject(personas, "dopa.person"))
    err = await refused(stack, MUNI, request(stack, MUNI, "dopa.person", bad))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert from_rpc_error(err).code == "check_digit_mismatch"
    assert f"check digit should be {right}" in (err.details() or "")


async def test_id_of_the_wrong_kind(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "dopa.person")
    company = subject(personas, "dbd.juristic", kind="juristic")
    err = await refused(stack, MUNI, request(stack, MUNI, "dbd.juristic", citizen))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and from_rpc_error(err).code == "id_wrong_kind"
    assert "juristic-person ID is needed" in (err.details() or "")
    err = await refused(stack, MUNI, request(stack, MUNI, "dopa.person", company))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and from_rpc_error(err).code == "id_wrong_kind"
    assert "personal ID is needed" in (err.details() or "")


async def test_well_formed_unknown_id_is_not_found(stack: RunningStack) -> None:
    nobody = with_check_digit("899999999999")
    err = await refused(stack, MUNI, request(stack, MUNI, "dopa.person", nobody))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert from_rpc_error(err).code == "record_not_found"


@pytest.mark.parametrize(("change", "code", "reason", "hint"), [
    ({"doc_type": "dopa.passport"}, grpc.StatusCode.INVALID_ARGUMENT, "unknown_doc_type", "known types: dbd.commerce"),
    ({"purpose": ""}, grpc.StatusCode.INVALID_ARGUMENT, "purpose_missing", "purpose is required"),
    ({"purpose": "   "}, grpc.StatusCode.INVALID_ARGUMENT, "purpose_missing", "purpose is required"),
    ({"purpose": "ก" * 501}, grpc.StatusCode.INVALID_ARGUMENT, "purpose_too_long", "at most 500"),
    ({"case_ref": "x" * 101}, grpc.StatusCode.INVALID_ARGUMENT, "case_ref_too_long", "at most 100"),
    # Without a session (the hub requires one): a malformed ID is still named as such, a well-formed one refused.
    ({"officer_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "officer_id_missing", "officer's personal ID is required"),
    ({"officer_id": "1234"}, grpc.StatusCode.INVALID_ARGUMENT, "id_wrong_length", "officer_id"),
    ({"officer_id": with_check_digit("310060012345")}, grpc.StatusCode.UNAUTHENTICATED,
     "officer_session_required", "must sign in with their own key"),
    ({"doc_type": "dopa.card"}, grpc.StatusCode.INVALID_ARGUMENT, "citizen_not_present", "citizen is present"),
])
async def test_bad_request_fields(stack: RunningStack, personas: list[dict[str, Any]], change: dict[str, Any],
                                  code: grpc.StatusCode, reason: str, hint: str) -> None:
    before = stack.hub.hub.log.size
    change = {"doc_type": "dopa.person", **change}
    err = await refused(stack, MUNI, request(stack, MUNI, subject_id=subject(personas, "dopa.card"), **change),
                        bare="officer_id" in change)
    assert err.code() == code
    assert from_rpc_error(err).code == reason
    assert hint in (err.details() or "")
    assert stack.hub.hub.log.size == before  # nothing logged as issued


async def test_card_is_served_when_citizen_present(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "dopa.card")
    card = CitizenCard.load(stack.home.card_file(citizen))
    async with stack.channel(MUNI) as channel:
        nonce = (await hub_pb2_grpc.LinkageHubStub(channel).GetPresenceChallenge(hub_pb2.PresenceChallengeRequest()))
    signed = card.sign(nonce.challenge, presence_hash(MUNI, citizen, "ขึ้นทะเบียนผู้สูงอายุ", officer(stack, MUNI),
                                                      "PHR-2569-0001", ["dopa.card"]))
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dopa.card", citizen, citizen_present=True,
                                          presence=hub_pb2.CitizenPresence(challenge=nonce.challenge, signature=signed,
                                                                           card_certificate=card.certificate)))
    data = unverified_payload(doc.jws)["data"]
    assert "laser_code" not in data  # the laser code is only ever compared, never returned


async def test_agency_without_right_is_denied(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    err = await refused(stack, HOSPITAL, request(stack, HOSPITAL, "dopa.house", subject(personas, "dopa.house")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert from_rpc_error(err).code == "no_right"
    assert "phrae-hospital has no right to dopa.house" in (err.details() or "")


async def test_auditor_agency_reads_no_records(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    auditor_officer = sorted(stack.settings.agencies["auditor"].officers)[0]
    req = request(stack, MUNI, "dopa.person", subject(personas, "dopa.person"), officer_id=auditor_officer)
    err = await refused(stack, "auditor", req)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and from_rpc_error(err).code == "no_right"


async def test_no_client_certificate_is_refused_and_hub_keeps_serving(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    req = request(stack, MUNI, "dopa.person", subject(personas, "dopa.person"))
    err = await refused(stack, None, req)
    # The TLS handshake itself fails: the hub never sees a call without a certificate.
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert (await fetch(stack, MUNI, req)).jws


async def test_certificate_from_another_ca_is_refused(stack: RunningStack, personas: list[dict[str, Any]],
                                                      tmp_path: Any) -> None:
    from linkage import pki

    rogue_ca = pki.create_ca(tmp_path / "rogue")
    rogue = pki.issue(rogue_ca, MUNI, pki.Role.CLIENT, tmp_path / "rogue")
    req = request(stack, MUNI, "dopa.person", subject(personas, "dopa.person"))
    creds = pki.channel_credentials(stack.home.ca.cert, rogue)
    async with grpc.aio.secure_channel(stack.hub_address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (await fetch(stack, MUNI, req)).jws


async def test_certificate_of_no_agency_is_unauthenticated(stack: RunningStack,
                                                           personas: list[dict[str, Any]]) -> None:
    # The hub's own client certificate is from the linkage CA but names no agency.
    err = await refused(stack, "linkage-hub", request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")),
                        bare=True)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert from_rpc_error(err).code == "unknown_agency"


async def test_a_second_certificate_in_a_sample_agencys_name_is_refused(stack: RunningStack, tmp_path: Path,
                                                                         personas: list[dict[str, Any]]) -> None:
    # `linkage init` pins each sample agency to its one certificate: the CA issuing another in the same name
    # (a stolen CA key, a clerical mistake) does not make a second phrae-municipality.
    clone = pki.issue(stack.home.ca, MUNI, pki.Role.CLIENT, tmp_path, unit="agency")
    creds = pki.channel_credentials(stack.home.ca.cert, clone)
    async with grpc.aio.secure_channel(stack.hub_address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
                request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert from_rpc_error(info.value).code == "certificate_not_registered"
