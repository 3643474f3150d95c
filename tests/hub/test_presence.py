"""The citizen's card proves presence: real registries and hub on port 0, the sandbox's card files, the civil
registry checking each card signature; every refusal issues and logs nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import grpc
import pytest

from linkage.cards import (
    CardCertificate,
    CitizenCard,
    be_today,
    chip_key,
    issue_certificate,
    issuer_key,
    load_issuer_public,
    presence_hash,
    public_bytes,
    verify_presence,
)
from linkage.config import Home
from linkage.errors import from_problem, from_rpc_error
from linkage.seal import b64url_decode, unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack
from tests.officers import signed_in

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "ขึ้นทะเบียนผู้สูงอายุ"


def persona(personas: list[dict[str, Any]], name: str) -> str:
    return str(next(p["id"] for p in personas if p["name"] == name))


def officer(stack: RunningStack, agency: str = MUNI) -> str:
    return sorted(stack.settings.agencies[agency].officers)[0]


def card_of(home: Home, subject: str) -> CitizenCard:
    return CitizenCard.load(home.card_file(subject))


async def challenge(stack: RunningStack, agency: str = MUNI) -> str:
    async with stack.channel(agency) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).GetPresenceChallenge(hub_pb2.PresenceChallengeRequest())
    return str(answer.challenge)


async def proof(stack: RunningStack, card: CitizenCard, subject: str, doc_types: list[str], *,
                agency: str = MUNI, purpose: str = PURPOSE, nonce: str | None = None) -> hub_pb2.CitizenPresence:
    nonce = nonce or await challenge(stack, agency)
    hash_hex = presence_hash(agency, subject, purpose, officer(stack), "PHR-2569-0001", doc_types)
    return hub_pb2.CitizenPresence(challenge=nonce, card_certificate=card.certificate,
                                   signature=card.sign(nonce, hash_hex))


def request(stack: RunningStack, subject: str, presence: hub_pb2.CitizenPresence | None,
            doc_type: str = "dopa.card", **kw: Any) -> hub_pb2.FetchDocumentRequest:
    fields: dict[str, Any] = {"doc_type": doc_type, "subject_id": subject, "purpose": PURPOSE,
                              "officer_id": officer(stack), "case_ref": "PHR-2569-0001", "citizen_present": True,
                              "presence": presence}
    fields.update(kw)
    return hub_pb2.FetchDocumentRequest(**fields)


async def fetch(stack: RunningStack, req: hub_pb2.FetchDocumentRequest, agency: str = MUNI) -> Any:
    await signed_in(stack, agency, req)
    async with stack.channel(agency) as channel:
        return await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(req, timeout=10)


async def refusal(stack: RunningStack, req: hub_pb2.FetchDocumentRequest, agency: str = MUNI) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await fetch(stack, req, agency)
    return info.value


async def test_a_card_signature_gets_the_card_and_the_proof_is_sealed_and_logged(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = persona(personas, "ordinary")
    card = card_of(stack.home, citizen)
    doc = await fetch(stack, request(stack, citizen, await proof(stack, card, citizen, ["dopa.card"])))
    payload = unverified_payload(doc.jws)
    assert payload["data"]["card_id"] == citizen and payload["presence"]["doc_types"] == ["dopa.card"]
    leaf = json.loads(doc.log_leaf)
    assert citizen not in doc.log_leaf.decode()  # the log keeps no personal ID in clear, the proof's parts included
    # An auditor with the printout and the registry's published card-issuer key checks the proof offline.
    issuer = load_issuer_public(stack.home.card_issuer)
    cert = CardCertificate.parse(payload["presence"]["card_certificate"], issuer)
    assert cert.subject_id == citizen and cert.card_public == b64url_decode(leaf["presence"]["card_key"])
    hash_hex = presence_hash(MUNI, citizen, PURPOSE, payload["officer_id"], payload["case_ref"], ["dopa.card"])
    verify_presence(cert, leaf["presence"]["challenge"], hash_hex, b64url_decode(leaf["presence"]["signature"]))


async def test_one_card_signature_covers_a_batch(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = persona(personas, "ordinary")
    types = ["dopa.person", "dopa.card"]
    presence = await proof(stack, card_of(stack.home, citizen), citizen, types)
    async with stack.channel(MUNI) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocuments(await signed_in(
            stack, MUNI, hub_pb2.FetchDocumentsRequest(doc_types=types, subject_id=citizen, purpose=PURPOSE,
                                                       case_ref="PHR-2569-0001", citizen_present=True,
                                                       presence=presence)))
    assert [r.WhichOneof("outcome") for r in answer.results] == ["document", "document"]
    assert all(json.loads(r.document.log_leaf)["presence"]["doc_types"] == sorted(types) for r in answer.results)


def _expired_card(home: Home) -> tuple[str, CitizenCard]:
    """An active card past its expiry date, as the registry would have personalised it."""
    conn = sqlite3.connect(home.provider_db("dopa"))
    try:
        for subject, data, laser in conn.execute(
                "SELECT r.subject_id, r.data, c.laser_code FROM record AS r JOIN card_check AS c USING (subject_id)"
                " WHERE r.doc_type = 'dopa.card' AND c.active = 1"):
            expiry = json.loads(data)["expiry_date"]
            if expiry < be_today():
                secret = home.card_secret.read_bytes()
                chip = chip_key(secret, subject, laser)
                cert = issue_certificate(issuer_key(secret), subject, public_bytes(chip.public_key()), expiry)
                return subject, CitizenCard(subject, cert, chip)
    finally:
        conn.close()
    raise AssertionError("no expired card in the sandbox")


@pytest.mark.parametrize("case", ["no_proof", "other_request", "replayed", "voided", "expired", "other_person",
                                  "other_agency_challenge", "expired_challenge", "forged_certificate"])
async def test_a_bad_presence_proof_is_refused_saying_why_and_nothing_is_logged(
        stack: RunningStack, personas: list[dict[str, Any]], case: str) -> None:
    citizen = persona(personas, "ordinary")
    card = card_of(stack.home, citizen)
    before = stack.hub.hub.log.size
    status, code = grpc.StatusCode.PERMISSION_DENIED, case
    if case == "no_proof":
        req, status, code = request(stack, citizen, None), grpc.StatusCode.INVALID_ARGUMENT, "presence_proof_missing"
    elif case == "other_request":  # the card signed for another purpose than the one sent
        req = request(stack, citizen, await proof(stack, card, citizen, ["dopa.card"], purpose="อื่น"))
        code = "card_signature_invalid"
    elif case == "replayed":
        presence = await proof(stack, card, citizen, ["dopa.card"])
        await fetch(stack, request(stack, citizen, presence))
        before = stack.hub.hub.log.size
        req, code = request(stack, citizen, presence), "challenge_used"
    elif case == "voided":
        voided = persona(personas, "voided")
        req, code = request(stack, voided, await proof(stack, card_of(stack.home, voided), voided, ["dopa.card"])), \
            "card_voided"
    elif case == "expired":
        old, expired = _expired_card(stack.home)
        req, code = request(stack, old, await proof(stack, expired, old, ["dopa.card"])), "card_expired"
    elif case == "other_person":  # the clerk's own card for someone else's record
        other = persona(personas, "director")
        req, code = request(stack, other, await proof(stack, card, other, ["dopa.card"])), "card_of_another_person"
    elif case == "other_agency_challenge":
        req = request(stack, citizen, await proof(stack, card, citizen, ["dopa.card"],
                                                  nonce=await challenge(stack, HOSPITAL)))
        code = "challenge_unknown"
    elif case == "expired_challenge":
        presence = await proof(stack, card, citizen, ["dopa.card"])
        stack.hub.hub.presence.clock = lambda: time.time() + 301
        req, code = request(stack, citizen, presence), "challenge_expired"
    else:  # a key of one's own, certified by no registry
        secret = b"\x01" * 32
        chip = chip_key(secret, citizen, "XX0-0000000-00")
        forged = CitizenCard(citizen, issue_certificate(issuer_key(secret), citizen, public_bytes(chip.public_key()),
                                                        "25991231"), chip)
        req, code = request(stack, citizen, await proof(stack, forged, citizen, ["dopa.card"])), \
            "card_certificate_invalid"
    err = await refusal(stack, req)
    problem = from_rpc_error(err)
    assert (err.code(), problem.code) == (status, code)
    assert problem.message_th and problem.message_en
    assert stack.hub.hub.log.size == before  # nothing issued, nothing logged
    stack.hub.hub.presence.clock = time.time
    # And the hub keeps serving: a good proof still gets the card.
    assert (await fetch(stack, request(stack, citizen, await proof(stack, card, citizen, ["dopa.card"])))).jws


async def test_presence_is_still_demanded_for_the_card_and_not_for_others(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = persona(personas, "ordinary")
    err = await refusal(stack, request(stack, citizen, None, citizen_present=False))
    assert from_rpc_error(err).code == "citizen_not_present"
    assert (await fetch(stack, request(stack, citizen, None, doc_type="dopa.person", citizen_present=False))).jws
    # In a batch, the card is refused in its place without presence, the rest is served.
    async with stack.channel(MUNI) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocuments(await signed_in(
            stack, MUNI, hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person", "dopa.card"], subject_id=citizen,
                                                       purpose=PURPOSE)))
    assert answer.results[0].WhichOneof("outcome") == "document"
    assert from_problem(answer.results[1].problem).code == "citizen_not_present"
