"""What the hub's desks issue lives beside the exchange log (linkage/hub/deskstore.py), here in its SQLite file:
a hub restart keeps officer sessions, presence challenges and consents; an expired session is refused saying so;
a key revoked stops a session the hub had already checked and remembered; expired rows are swept; and a fetch
under a remembered session stays within the FetchDocument path's files.

A sandbox of its own (it publishes officer keys and revokes one)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from consumers.client import OfficerSession
from linkage.cards import presence_hash
from linkage.cli.cards import card_of
from linkage.cli.sandbox import init
from linkage.config import Home, write_atomically
from linkage.errors import HubUnavailable, PermissionDenied, Unauthenticated
from linkage.hub.deskstore import EXPIRED_KEPT_S
from linkage.hub.officers import SESSION_TTL
from linkage.hub.server import build_server
from linkage.officers import OFFICER_KEYS, load_officer_keys, officer_key_set_json, revoked
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2
from tests.conftest import RunningStack, serving
from tests.hub.test_path import MOST_FILES, ROOT, Trace, _profiled
from tests.officers import client, sign_in

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "ขึ้นทะเบียนผู้สูงอายุ"


@pytest.fixture(scope="module")
def desk_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init(tmp_path_factory.mktemp("desks"), citizens=60, seed=7)


@pytest.fixture
async def dstack(desk_home: Home) -> AsyncIterator[RunningStack]:
    async with serving(desk_home) as running:
        yield running


def officer(stack: RunningStack, agency: str, n: int) -> str:
    return sorted(stack.settings.agencies[agency].officers)[n]


def persona(home: Home) -> dict[str, Any]:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    return next(p for p in personas if p["name"] == "ordinary")


def present(home: Home, session: OfficerSession, subject: str, challenge: str) -> hub_pb2.FetchDocumentRequest:
    """A fetch of the citizen's card under the session, their card signing ``challenge`` and this request."""
    card = card_of(home, subject)
    assert card is not None
    hash_hex = presence_hash(MUNI, subject, PURPOSE, session.officer_id, "", ["dopa.card"])
    return hub_pb2.FetchDocumentRequest(
        doc_type="dopa.card", subject_id=subject, purpose=PURPOSE, officer_id=session.officer_id,
        officer_session=session.secret, citizen_present=True,
        presence=hub_pb2.CitizenPresence(challenge=challenge, card_certificate=card.certificate,
                                         signature=card.sign(challenge, hash_hex)))


async def test_sessions_challenges_and_consents_survive_a_hub_restart(dstack: RunningStack, tmp_path: Path) -> None:
    citizen = persona(dstack.home)
    card = provider_pb2.CheckCardRequest(subject_id=citizen["id"], **citizen["card"])
    async with client(dstack, MUNI) as hub:
        session = await sign_in(hub, dstack.home, MUNI, officer(dstack, MUNI, -1))
        await hub.fetch_document("dopa.person", citizen["id"], purpose=PURPOSE, officer_session=session)
        asked = await hub.request_consent(["dopa.person"], citizen["id"], purpose=PURPOSE,
                                          officer_id=session.officer_id)
        await hub.decide_consent(asked.consent_id, citizen["id"], card, True)
    async with dstack.channel(MUNI) as channel:
        challenge = (await hub_pb2_grpc.LinkageHubStub(channel).GetPresenceChallenge(
            hub_pb2.PresenceChallengeRequest())).challenge
    # A new hub: nothing of the old one's memory, only what it kept beside the log.
    await dstack.hub.stop(0)
    dstack.hub = await build_server(dstack.settings, 0)
    assert not dstack.hub.hub.officers.sessions.seen
    async with client(dstack, MUNI) as hub:
        doc = await hub.fetch_document("dopa.person", citizen["id"], purpose=PURPOSE, officer_session=session)
        assert doc.payload["officer_session"] == session.session_id
        used = await hub.fetch_document("dopa.person", citizen["id"], purpose=PURPOSE, officer_session=session,
                                        consent_id=asked.consent_id)
        assert used.payload["consent"]["consent_id"] == asked.consent_id
    async with dstack.channel(MUNI) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
            present(dstack.home, session, citizen["id"], challenge), timeout=10)
    assert json.loads(answer.log_leaf)["presence"]["challenge"] == challenge


async def test_an_expired_session_is_refused_saying_it_expired(dstack: RunningStack, tmp_path: Path) -> None:
    subject = persona(dstack.home)["id"]
    async with client(dstack, MUNI) as hub:
        session = await sign_in(hub, dstack.home, MUNI, officer(dstack, MUNI, -2))
        await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=session)  # remembered
        size = dstack.hub.hub.log.size
        dstack.hub.hub.officers.clock = lambda: time.time() + SESSION_TTL.total_seconds() + 1
        try:
            with pytest.raises(Unauthenticated) as info:
                await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=session)
        finally:
            dstack.hub.hub.officers.clock = time.time
        assert info.value.code == "officer_session_expired" and "หมดเวลา" in info.value.message_th
        # One never issued is unknown, not expired.
        forged = OfficerSession("x" * 43, session.session_id, session.officer_id, session.expires_at)
        with pytest.raises(Unauthenticated) as unknown:
            await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=forged)
        assert unknown.value.code == "officer_session_unknown" and unknown.value.message_en
        assert dstack.hub.hub.log.size == size  # nothing issued, nothing logged


async def test_a_revoked_key_stops_a_session_the_hub_remembers(dstack: RunningStack, tmp_path: Path) -> None:
    who = officer(dstack, HOSPITAL, -1)
    subject = persona(dstack.home)["id"]
    async with client(dstack, HOSPITAL) as hub:
        session = await sign_in(hub, dstack.home, HOSPITAL, who)
        await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=session)
        assert list(dstack.hub.hub.officers.sessions.seen.values())[-1].session.session_id == session.session_id
        path = dstack.home.pki / OFFICER_KEYS
        keys, count = revoked(load_officer_keys(path), who, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        assert count == 1
        write_atomically(path, officer_key_set_json(keys))
        with pytest.raises(PermissionDenied) as info:
            await hub.fetch_document("dopa.person", subject, purpose=PURPOSE, officer_session=session)
        assert info.value.code == "officer_key_revoked"


def _rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("onetime", "sessions", "consents")}


async def test_expired_rows_are_swept(dstack: RunningStack, tmp_path: Path) -> None:
    citizen = persona(dstack.home)
    async with client(dstack, MUNI) as hub:
        await sign_in(hub, dstack.home, MUNI, officer(dstack, MUNI, -3))
        await hub.begin_officer_sign_in(officer(dstack, MUNI, -3))  # a statement never signed
        await hub.request_consent(["dopa.person"], citizen["id"], purpose=PURPOSE, officer_id=officer(dstack, MUNI, 0))
    async with dstack.channel(MUNI) as channel:
        await hub_pb2_grpc.LinkageHubStub(channel).GetPresenceChallenge(hub_pb2.PresenceChallengeRequest())
    store = dstack.hub.hub.store
    before = _rows(dstack.home.exchange_log)
    assert all(before.values()), before
    await store.sweep(time.time() + EXPIRED_KEPT_S, force=True)  # nothing has been expired long enough yet
    assert _rows(dstack.home.exchange_log) == before
    await store.sweep(time.time() + 3 * 86_400, force=True)
    assert _rows(dstack.home.exchange_log) == {"onetime": 0, "sessions": 0, "consents": 0}


async def test_a_fetch_under_a_remembered_session_passes_through_at_most_8_files(desk_home: Home,
                                                                                 tmp_path: Path) -> None:
    """As tests/hub/test_path.py, under an officer session: once the hub has checked the session, a fetch under it
    reads no database and no file beyond the path's (the session module and the key set's stay out)."""
    trace = Trace()
    with _profiled(trace):
        async with serving(desk_home) as stack:
            subject = persona(desk_home)["id"]
            async with client(stack, MUNI) as hub:
                session = await sign_in(hub, stack.home, MUNI, officer(stack, MUNI, 1))
            async with stack.channel(MUNI) as channel:
                stub = hub_pb2_grpc.LinkageHubStub(channel)
                request = hub_pb2.FetchDocumentRequest(doc_type="dopa.person", subject_id=subject, purpose=PURPOSE,
                                                       officer_session=session.secret, case_ref="PATH-1")
                await stub.FetchDocument(request)  # warm: channels, Describe, the session checked and remembered
                trace.on = True
                try:
                    answer = await stub.FetchDocument(request)
                finally:
                    trace.on = False
    assert json.loads(answer.log_leaf)["officer_proof"]["kid"]
    path = trace.files("path")
    assert len(path) <= MOST_FILES, f"{len(path)} files on the path:\n{trace.render()}"
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert not [f for f in path if f"`{f}`" not in architecture], trace.render()


async def test_a_database_that_fails_refuses_and_issues_nothing(dstack: RunningStack, tmp_path: Path) -> None:
    """The desks' store cannot be written (its SQLite file made read-only under the hub): a sign-in is refused
    UNAVAILABLE (hub_store_unavailable, retryable), nothing issued; it works again once the store does."""
    who = officer(dstack, MUNI, 2)
    store = dstack.hub.hub.store
    await store.rows("PRAGMA query_only = ON")
    try:
        async with client(dstack, MUNI) as hub:
            with pytest.raises(HubUnavailable) as info:
                await sign_in(hub, dstack.home, MUNI, who)
    finally:
        await store.rows("PRAGMA query_only = OFF")
    assert info.value.code == "hub_store_unavailable" and info.value.retryable and info.value.message_th
    assert info.value.status == grpc.StatusCode.UNAVAILABLE
    async with client(dstack, MUNI) as hub:
        assert (await sign_in(hub, dstack.home, MUNI, who)).officer_id == who
