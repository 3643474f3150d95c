"""RevokePrintout and GetAgentStatus name their officer as FetchDocument does: by a session signed with the officer's
own key (a revocation's log entry then carries the signed sign-in, which audit watch checks), by a bare ID only
while the hub accepts one for that officer, never by a session of another certificate or officer.

A sandbox of its own (it publishes officer keys), in which the first officer of each sample agency holds no key
(`linkage init` issued them a card; this sandbox's key set leaves it out), for what "optional" still allows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from consumers.auditor.errors import Alarm
from consumers.auditor.officercheck import entry_alarm
from consumers.client import OfficerSession
from linkage.cli.sandbox import init
from linkage.config import Home, load_settings, write_atomically
from linkage.errors import LinkageError, Unauthenticated
from linkage.officers import OFFICER_KEYS, load_officer_keys, officer_key_set_json, proof_problem
from linkage.v1 import hub_pb2
from tests.conftest import RunningStack, serving
from tests.officers import client, sign_in

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "ตรวจสอบสิทธิ์"


@pytest.fixture(scope="module")
def rpc_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = init(tmp_path_factory.mktemp("officer-rpcs"), citizens=60, seed=8)
    agencies = load_settings(home).agencies
    keyless = {sorted(agencies[a].officers)[0] for a in (MUNI, HOSPITAL)}
    path = home.pki / OFFICER_KEYS
    write_atomically(path, officer_key_set_json([k for k in load_officer_keys(path) if k.officer_id not in keyless]))
    return home


@pytest.fixture
async def rstack(rpc_home: Home) -> AsyncIterator[RunningStack]:
    async with serving(rpc_home) as running:
        yield running


def officers(stack: RunningStack, agency: str) -> list[str]:
    return sorted(stack.settings.agencies[agency].officers)


def subject(home: Home) -> str:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and "dopa.person" in p["doc_types"])


async def test_a_revocation_under_a_session_logs_the_officers_signed_sign_in(rstack: RunningStack,
                                                                           tmp_path: Path) -> None:
    who = officers(rstack, MUNI)[-1]
    async with client(rstack, MUNI) as hub, client(rstack, HOSPITAL) as hospital:
        session = await sign_in(hub, rstack.home, MUNI, who)
        doc = await hub.fetch_document("dopa.person", subject(rstack.home), purpose=PURPOSE, officer_session=session)
        size = rstack.hub.hub.log.size
        # Refused, nothing logged: the officer holds a key, so a bare ID will not do; nor does another officer's
        # name with the session, nor the session from another agency's certificate.
        with pytest.raises(Unauthenticated) as bare:
            await hub.revoke(doc.printout_id, "พิมพ์ผิด", who)
        assert bare.value.code == "officer_session_required" and bare.value.message_th
        other = OfficerSession(session.secret, session.session_id, officers(rstack, MUNI)[0], session.expires_at)
        with pytest.raises(Unauthenticated) as mixed:
            await hub.revoke(doc.printout_id, "พิมพ์ผิด", officer_session=other)
        assert mixed.value.code == "officer_session_other_officer"
        with pytest.raises(Unauthenticated) as foreign:
            await hospital.revoke(doc.printout_id, "พิมพ์ผิด", officer_session=session)
        assert foreign.value.code == "officer_session_other_certificate"
        assert rstack.hub.hub.log.size == size
        answer = await hub.revoke(doc.printout_id, "พิมพ์ผิด", officer_session=session)
        (logged,) = await hub.entries(answer.log_index, answer.log_index + 1)
    entry = json.loads(logged.leaf)
    assert entry["kind"] == "revocation" and entry["officer_id"] == who and entry["officer_proof"]["kid"]
    keys = load_officer_keys(rstack.home.pki / OFFICER_KEYS)
    assert proof_problem(entry, session.session_id, keys) is None
    entry_alarm(answer.log_index, entry, keys)  # audit watch: the proof holds
    with pytest.raises(Alarm) as alarm:  # the same proof under another officer's name does not
        entry_alarm(answer.log_index, {**entry, "officer_id": officers(rstack, MUNI)[0]}, keys)
    assert alarm.value.kind == "bad_officer_proof"


async def test_agent_status_names_the_officer_by_session_or_by_a_bare_id_while_allowed(
        rpc_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set explicitly (the default is "required"), "optional" still names a keyless officer by ID."""
    monkeypatch.setenv("LINKAGE_HUB_OFFICER_SESSIONS", "optional")
    async with serving(rpc_home) as rstack, client(rstack, HOSPITAL) as hub, client(rstack, MUNI) as muni:
        assert rstack.settings.hub.officer_sessions == "optional"
        keyed, keyless = officers(rstack, HOSPITAL)[-1], officers(rstack, HOSPITAL)[0]
        session = await sign_in(hub, rstack.home, HOSPITAL, keyed)
        assert (await hub.agent_status(officer_session=session)).status == hub_pb2.AGENT_AVAILABLE
        assert (await hub.agent_status(citizen_id=subject(rstack.home), officer_session=session)).status == \
            hub_pb2.CITIZEN_AVAILABLE
        with pytest.raises(Unauthenticated) as bare:
            await hub.agent_status(keyed)
        assert bare.value.code == "officer_session_required"
        with pytest.raises(Unauthenticated) as foreign:
            await muni.agent_status(officer_session=session)
        assert foreign.value.code == "officer_session_other_certificate"
        # Optional mode: an officer without a key is still named by ID.
        assert (await hub.agent_status(keyless)).status == hub_pb2.AGENT_AVAILABLE
        assert (await hub.agent_status(officers(rstack, MUNI)[0])).status == hub_pb2.AGENT_NOT_AVAILABLE


async def test_required_mode_refuses_bare_ids_for_revocation_and_agent_status(rpc_home: Home, tmp_path: Path) -> None:
    """"required", the default: even an officer who holds no key is never named by a bare ID."""
    async with serving(rpc_home) as stack:
        assert stack.settings.hub.officer_sessions == "required"
        keyless, keyed = officers(stack, MUNI)[0], officers(stack, MUNI)[1]
        async with client(stack, MUNI) as hub:
            session = await sign_in(hub, stack.home, MUNI, keyed)
            doc = await hub.fetch_document("dopa.person", subject(stack.home), purpose=PURPOSE,
                                           officer_session=session)
            size = stack.hub.hub.log.size
            for call in (hub.agent_status(keyless), hub.revoke(doc.printout_id, "พิมพ์ผิด", keyless)):
                with pytest.raises(LinkageError) as info:
                    await call
                assert info.value.code == "officer_session_required"
            assert stack.hub.hub.log.size == size
            assert (await hub.agent_status(officer_session=session)).status == hub_pb2.AGENT_AVAILABLE
            assert (await hub.revoke(doc.printout_id, "พิมพ์ผิด", officer_session=session)).log_index == size
