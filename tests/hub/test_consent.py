"""Consent for services without a counter: an agency asks, the citizen previews and approves (or refuses) with
their card details, one fetch uses it; every misuse is refused with a reason and nothing is logged."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from consumers.client import HubClient
from linkage.errors import LinkageError
from linkage.v1 import provider_pb2
from tests.conftest import RunningStack
from tests.officers import card_args, session

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "ต่ออายุใบอนุญาตออนไลน์"


def _citizen(personas: list[dict[str, Any]], name: str = "ordinary") -> dict[str, Any]:
    return next(p for p in personas if p["name"] == name)


def _card(person: dict[str, Any]) -> provider_pb2.CheckCardRequest:
    return provider_pb2.CheckCardRequest(subject_id=person["id"], **person["card"])


@pytest.fixture
async def clients(stack: RunningStack) -> AsyncIterator[dict[str, HubClient]]:
    out = {a: HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(a))
           for a in (MUNI, HOSPITAL)}
    try:
        yield out
    finally:
        for c in out.values():
            await c.close()


def _officer(stack: RunningStack, agency: str = MUNI) -> str:
    return sorted(stack.settings.agencies[agency].officers)[0]


async def _approved(stack: RunningStack, hub: HubClient, person: dict[str, Any], doc_types: list[str],
                    approve: bool = True, agency: str = MUNI) -> str:
    asked = await hub.request_consent(doc_types, person["id"], purpose=PURPOSE, officer_id=_officer(stack, agency),
                                      case_ref="ONLINE-0001")
    assert asked.status == "pending" and asked.agency == agency
    decided = await hub.decide_consent(asked.consent_id, person["id"], _card(person), approve)
    assert decided.status == ("approved" if approve else "refused")
    return str(asked.consent_id)


async def test_the_citizen_previews_approves_and_one_fetch_uses_it(
        stack: RunningStack, personas: list[dict[str, Any]], clients: dict[str, HubClient]) -> None:
    person, hub = _citizen(personas), clients[MUNI]
    asked = await hub.request_consent(["dopa.person", "dopa.card"], person["id"], purpose=PURPOSE,
                                      officer_id=_officer(stack), case_ref="ONLINE-0001")
    [listed] = [c for c in await hub.list_consents(person["id"], _card(person)) if c.consent_id == asked.consent_id]
    # The preview is what would be sent: the registry's record, the asking agency's granted fields.
    preview = {p.doc_type: json.loads(p.data_json) for p in listed.preview}
    assert preview["dopa.person"]["first_name_th"] == person["card"]["first_name_th"]
    assert preview["dopa.card"]["card_id"] == person["id"] and listed.purpose == PURPOSE
    await hub.decide_consent(asked.consent_id, person["id"], _card(person), True)
    # The consent stands in for presence: the card record is served without the card at a desk.
    docs = await hub.fetch_documents(["dopa.person", "dopa.card"], person["id"], purpose=PURPOSE,
                                     officer_session=await session(stack, MUNI), case_ref="ONLINE-0001",
                                     consent_id=asked.consent_id)
    for doc in docs.values():
        assert not isinstance(doc, Exception), doc
        assert doc.payload["consent"]["consent_id"] == asked.consent_id
    [(_, leaf)] = await stack.hub.hub.log.entries(stack.hub.hub.log.size - 1, stack.hub.hub.log.size)
    assert json.loads(leaf)["consent"]["consent_id"] == asked.consent_id
    after = [c for c in await hub.list_consents(person["id"], _card(person)) if c.consent_id == asked.consent_id]
    assert after[0].status == "used" and not after[0].preview
    with pytest.raises(LinkageError) as used:
        await hub.fetch_document("dopa.person", person["id"], purpose=PURPOSE,
                                 officer_session=await session(stack, MUNI), case_ref="ONLINE-0001",
                                 consent_id=asked.consent_id)
    assert used.value.code == "consent_used"


@pytest.mark.parametrize("misuse", ["unknown", "not_approved", "refused", "other_agency", "other_doc_type",
                                    "other_purpose", "other_subject", "expired"])
async def test_a_consent_misused_is_refused_saying_why_and_nothing_is_logged(
        stack: RunningStack, personas: list[dict[str, Any]], clients: dict[str, HubClient], misuse: str) -> None:
    person, hub = _citizen(personas), clients[MUNI]
    agency, doc_type, purpose, subject = MUNI, "dopa.person", PURPOSE, person["id"]
    consent_id = ""
    if misuse == "unknown":
        consent_id = "00000000-0000-4000-8000-000000000000"
    elif misuse == "not_approved":
        consent_id = str((await hub.request_consent(["dopa.person"], subject, purpose=PURPOSE,
                                                    officer_id=_officer(stack))).consent_id)
    else:
        consent_id = await _approved(stack, hub, person, ["dopa.person"], approve=misuse != "refused")
    if misuse == "other_agency":
        agency = HOSPITAL
    elif misuse == "other_doc_type":
        doc_type = "dopa.card"
    elif misuse == "other_purpose":
        purpose = "อย่างอื่น"
    elif misuse == "other_subject":
        subject = _citizen(personas, "director")["id"]
    elif misuse == "expired":
        stack.hub.hub.consents.clock = lambda: time.time() + 25 * 3600
    before = stack.hub.hub.log.size
    try:
        with pytest.raises(LinkageError) as info:
            await clients[agency].fetch_document(doc_type, subject, purpose=purpose,
                                                 officer_session=await session(stack, agency), consent_id=consent_id)
    finally:
        stack.hub.hub.consents.clock = time.time
    err = info.value
    assert err.status == grpc.StatusCode.PERMISSION_DENIED and err.code == f"consent_{misuse}", err.code
    assert err.message_th and err.message_en and stack.hub.hub.log.size == before
    if misuse in ("other_agency", "other_doc_type", "other_purpose", "other_subject"):
        # Not spent by the misuse: the right fetch still gets it.
        doc = await hub.fetch_document("dopa.person", person["id"], purpose=PURPOSE,
                                       officer_session=await session(stack, MUNI), consent_id=consent_id)
        assert doc.payload["consent"]["consent_id"] == consent_id


async def test_only_the_citizen_sees_and_decides_and_a_failed_fetch_keeps_the_consent(
        stack: RunningStack, personas: list[dict[str, Any]], clients: dict[str, HubClient]) -> None:
    person, other, hub = _citizen(personas), _citizen(personas, "director"), clients[MUNI]
    asked = await hub.request_consent(["dopa.person"], person["id"], purpose=PURPOSE, officer_id=_officer(stack))
    for subject, card in ((person["id"], _card(other)), (person["id"], provider_pb2.CheckCardRequest(
            subject_id=person["id"], **{**person["card"], "laser_code": "ZZ9-9999999-99"}))):
        with pytest.raises(LinkageError) as info:
            await hub.list_consents(subject, card)
        assert info.value.code == "citizen_not_verified"
        with pytest.raises(LinkageError) as info:
            await hub.decide_consent(asked.consent_id, subject, card, True)
        assert info.value.code == "citizen_not_verified"
    await hub.decide_consent(asked.consent_id, person["id"], _card(person), True)
    with pytest.raises(LinkageError) as twice:
        await hub.decide_consent(asked.consent_id, person["id"], _card(person), False)
    assert twice.value.code == "consent_decided"
    # A registry that is down issues nothing: the consent is given back, not spent.
    await stack.providers["dopa"].stop(0)
    with pytest.raises(LinkageError) as down:
        await hub.fetch_document("dopa.person", person["id"], purpose=PURPOSE,
                                 officer_session=await session(stack, MUNI), consent_id=asked.consent_id, timeout=5)
    assert down.value.status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert stack.hub.hub.consents.shown((await stack.hub.hub.consents.of(person["id"]))[0])["status"] == "approved"
    # Asking for a type the agency has no right to is refused at once.
    with pytest.raises(LinkageError) as no_right:
        await clients[HOSPITAL].request_consent(["dopa.house"], person["id"], purpose=PURPOSE,
                                                officer_id=_officer(stack, HOSPITAL))
    assert no_right.value.code == "no_right"


async def _cli(*args: str) -> tuple[int, str, str]:
    """`linkage ARGS` in its own process, while this event loop serves the stack."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "linkage.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_linkage_fetch_with_a_consent_or_the_citizens_card(
        stack: RunningStack, personas: list[dict[str, Any]], clients: dict[str, HubClient]) -> None:
    person, voided = _citizen(personas), _citizen(personas, "voided")
    consent_id = await _approved(stack, clients[MUNI], person, ["dopa.person"])
    common = ["fetch", "--home", str(stack.home.root), "--hub", stack.hub_address, "--agency", MUNI,
              *card_args(stack.home, MUNI), "--purpose", PURPOSE, "--case", "ONLINE-0001"]
    code, out, err = await _cli(*common, "--doc-type", "dopa.person", "--id", person["id"], "--consent", consent_id)
    assert code == 0, err
    assert json.loads(out)["consent"]["consent_id"] == consent_id
    code, _, err = await _cli(*common, "--doc-type", "dopa.person", "--id", person["id"], "--consent", consent_id)
    assert code == 1 and "consent_used" in err
    card = str(stack.home.card_file(person["id"]))
    code, out, err = await _cli(*common, "--doc-type", "dopa.card", "--id", person["id"], "--citizen-card", card)
    assert code == 0 and json.loads(out)["presence"]["doc_types"] == ["dopa.card"], err
    code, _, err = await _cli(*common, "--doc-type", "dopa.card", "--id", voided["id"],
                              "--citizen-card", str(stack.home.card_file(voided["id"])))
    assert code == 1 and "card_voided" in err
