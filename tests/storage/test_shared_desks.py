"""Hub replicas and workers on PostgreSQL share what the desks issue (linkage/hub/deskstore.py): a sign-in begun on
one replica finishes on the other, its session serves on both and on every worker of a port, and a sign-in
statement, a presence challenge or a consent sent to both replicas at once is spent by one of them only.

`linkage up --replicas 2 --workers 2` as the user starts it (four hub processes, each with its own memory), on a
PostgreSQL database of the test's own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from consumers.client import NO_RETRY, HubClient, OfficerSession
from linkage import pki
from linkage.cards import presence_hash
from linkage.cli.cards import card_of
from linkage.cli.officers import issue_officer_card
from linkage.cli.sandbox import init
from linkage.cli.stack import Stack, start_stack, write_endpoints
from linkage.config import Home, load_settings
from linkage.errors import LinkageError, from_rpc_error
from linkage.officercard import OpenCard, open_card
from linkage.storage import Database
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2
from tests import failover

pytestmark = pytest.mark.slow

MUNI = "phrae-municipality"
PIN = "975310"
PURPOSE = "ขึ้นทะเบียนผู้สูงอายุ"


def _channel(home: Home, address: str) -> grpc.aio.Channel:
    """A connection of its own (no subchannel shared with another channel): the kernel gives each new connection
    to one of the processes on the port."""
    return grpc.aio.secure_channel(address, pki.channel_credentials(home.ca.cert, home.client_cert(MUNI)),
                                   options=[("grpc.ssl_target_name_override", "hub"),
                                            ("grpc.use_local_subchannel_pool", 1)])


async def _outcome(call: Any) -> str:
    """"ok", or the code of the hub's refusal."""
    try:
        await call
    except LinkageError as err:
        return err.code
    except grpc.aio.AioRpcError as err:
        return from_rpc_error(err).code
    return "ok"


async def test_replicas_and_workers_share_sign_ins_sessions_challenges_and_consents(own_database: Database,
                                                                                   tmp_path: Path) -> None:
    home = init(tmp_path / "pg", citizens=60, seed=9, database=own_database)
    stack = await start_stack(load_settings(home), replicas=2, workers=2, any_port=True)
    try:
        write_endpoints(stack)
        personas = json.loads(home.personas.read_text(encoding="utf-8"))
        citizen = next(p for p in personas if p["name"] == "ordinary")
        officer = sorted(load_settings(home).agencies[MUNI].officers)[-1]
        card = open_card(issue_officer_card(home, MUNI, officer, PIN, tmp_path / "officer.card.json"), PIN)
        a = HubClient.from_home(home, MUNI, addresses=stack.addresses["hub"], retry=NO_RETRY)
        b = HubClient.from_home(home, MUNI, addresses=stack.addresses["hub-2"], retry=NO_RETRY)
        async with a, b:
            session = await _sign_in_across(a, b, card, officer, citizen["id"])
            await _every_worker_takes_the_session(home, stack, session, citizen["id"])
            await _a_statement_is_spent_once(a, b, card, officer)
            await _a_challenge_is_spent_once(home, stack, session, citizen["id"])
            await _a_consent_is_spent_once(a, b, session, citizen)
        logged = failover.logged(own_database.url)
        assert all(len(indexes) == 1 for indexes in logged.values())  # every printout in the log once
    finally:
        await stack.stop()


async def _sign_in_across(a: HubClient, b: HubClient, card: OpenCard, officer: str, subject: str) -> OfficerSession:
    """Begun on one replica, finished on the other; the session serves on both, and each printout names it."""
    statement, _ = await a.begin_officer_sign_in(officer)
    session = await b.finish_officer_sign_in(statement, kid=card.kid, signature=card.sign(statement))
    for hub in (a, b, a):
        doc = await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=session)
        assert doc.payload["officer_session"] == session.session_id
    return session


async def _every_worker_takes_the_session(home: Home, stack: Stack, session: OfficerSession, subject: str) -> None:
    """New connections to the first replica's port until both its processes have served a fetch under the session
    (every one of them succeeds)."""
    port, before = stack.addresses["hub"], {n: failover.served(stack.metrics[n]) for n in ("hub", "hub/2")}
    request = hub_pb2.FetchDocumentRequest(doc_type="dopa.person", subject_id=subject, purpose=PURPOSE,
                                           officer_session=session.secret)

    async def one() -> None:
        async with _channel(home, port) as channel:
            answer = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(request, timeout=15)
        assert json.loads(answer.log_leaf)["officer_proof"]["kid"]

    for _ in range(16):
        if all(failover.served(stack.metrics[n]) > before[n] for n in before):
            break
        await asyncio.gather(*(one() for _ in range(4)))
    assert all(failover.served(stack.metrics[n]) > before[n] for n in before), "one worker got no call"


async def _a_statement_is_spent_once(a: HubClient, b: HubClient, card: OpenCard, officer: str) -> None:
    statement, _ = await a.begin_officer_sign_in(officer)
    signature = card.sign(statement)
    outcomes = await asyncio.gather(*(_outcome(hub.finish_officer_sign_in(statement, kid=card.kid,
                                                                          signature=signature)) for hub in (a, b)))
    assert sorted(outcomes) == ["ok", "signin_statement_unknown"], outcomes


async def _a_challenge_is_spent_once(home: Home, stack: Stack, session: OfficerSession, subject: str) -> None:
    citizen_card = card_of(home, subject)
    assert citizen_card is not None
    async with _channel(home, stack.addresses["hub"]) as first, _channel(home, stack.addresses["hub-2"]) as second:
        stubs = [hub_pb2_grpc.LinkageHubStub(c) for c in (first, second)]
        challenge = (await stubs[0].GetPresenceChallenge(hub_pb2.PresenceChallengeRequest())).challenge
        hash_hex = presence_hash(MUNI, subject, PURPOSE, session.officer_id, "", ["dopa.card"])
        request = hub_pb2.FetchDocumentRequest(
            doc_type="dopa.card", subject_id=subject, purpose=PURPOSE, officer_id=session.officer_id,
            officer_session=session.secret, citizen_present=True,
            presence=hub_pb2.CitizenPresence(challenge=challenge, card_certificate=citizen_card.certificate,
                                             signature=citizen_card.sign(challenge, hash_hex)))
        outcomes = await asyncio.gather(*(_outcome(stub.FetchDocument(request, timeout=15)) for stub in stubs))
    assert sorted(outcomes) == ["challenge_used", "ok"], outcomes


async def _a_consent_is_spent_once(a: HubClient, b: HubClient, session: OfficerSession,
                                   citizen: dict[str, Any]) -> None:
    """Asked on one replica, approved on the other, then sent to both at once: one printout."""
    asked = await a.request_consent(["dopa.person"], citizen["id"], purpose=PURPOSE, officer_id=session.officer_id)
    card = provider_pb2.CheckCardRequest(subject_id=citizen["id"], **citizen["card"])
    assert (await b.decide_consent(asked.consent_id, citizen["id"], card, True)).status == "approved"
    outcomes = await asyncio.gather(*(_outcome(hub.fetch_document(
        "dopa.person", citizen["id"], purpose=PURPOSE, officer_session=session, consent_id=asked.consent_id))
        for hub in (a, b)))
    assert sorted(outcomes) == ["consent_used", "ok"], outcomes
    listed = [c for c in await a.list_consents(citizen["id"], card) if c.consent_id == asked.consent_id]
    assert listed[0].status == "used"
