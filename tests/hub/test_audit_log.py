"""The audit log served by the hub: every answer carries a proof an auditor can check alone.

Every test here runs twice: with the log in SQLite and in a real PostgreSQL (tests/backends.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from linkage import merkle
from linkage.checkpoint import open_checkpoint, parse_verifier_key
from linkage.config import Home
from linkage.errors import from_rpc_error
from linkage.hub.server import build_server
from linkage.keyset import log_key_set
from linkage.revlist import open_revocation_list
from linkage.seal import printout_digest
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2_grpc, provider_pb2
from tests.backends import backend, fresh_database, postgres
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import MUNI, fetch, request, subject
from tests.officers import signed_in

__all__ = ["backend", "postgres"]  # fixtures


@pytest.fixture
async def stack(sandbox_home: Home, backend: str, request: pytest.FixtureRequest) -> AsyncIterator[RunningStack]:
    """The session's sandbox, its hub's log in SQLite or in a schema of its own on PostgreSQL."""
    running = await start_stack(sandbox_home)
    try:
        if backend == "postgresql":
            await running.hub.stop(0)
            running.settings = dataclasses.replace(
                running.settings, database=fresh_database(request.getfixturevalue("postgres")))
            running.hub = await build_server(running.settings, 0)
        yield running
    finally:
        await running.hub.stop(0)
        for server in running.providers.values():
            await server.stop(0)


@contextlib.contextmanager
def log_held_by_another_writer(stack: RunningStack) -> Iterator[None]:
    """Another writer holds the log's tables: the hub's commit cannot happen until it lets go."""
    database = stack.settings.database
    if database is None:
        import sqlite3

        blocker = sqlite3.connect(stack.home.exchange_log, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(database.url) as conn:
        conn.execute(sql.SQL("LOCK TABLE {}.entries IN ACCESS EXCLUSIVE MODE").format(
            sql.Identifier(database.schema("log"))))
        yield
        conn.rollback()


def verifier(stack: RunningStack) -> Any:
    return parse_verifier_key(stack.home.log_note_vkey.read_text().strip())


async def test_answer_carries_a_proof_against_a_signed_checkpoint(stack: RunningStack,
                                                                  personas: list[dict[str, Any]]) -> None:
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    cp = open_checkpoint(doc.checkpoint.note, [verifier(stack)], stack.settings.hub.log_origin)
    assert cp.size == doc.inclusion_proof.tree_size and doc.inclusion_proof.leaf_index == doc.log_index
    merkle.verify_inclusion(merkle.leaf_hash(doc.log_leaf), doc.log_index, cp.size,
                            list(doc.inclusion_proof.hashes), cp.root_hash)
    leaf = json.loads(doc.log_leaf)
    assert leaf["printout_id"] == doc.printout_id and leaf["printout_sha256"] == printout_digest(doc.jws)
    # A tampered leaf does not prove.
    forged = doc.log_leaf.replace(b'"purpose":"', b'"purpose":"x')
    with pytest.raises(merkle.RootMismatch):
        merkle.verify_inclusion(merkle.leaf_hash(forged), doc.log_index, cp.size,
                                list(doc.inclusion_proof.hashes), cp.root_hash)


async def test_proofs_entries_and_consistency(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    first = await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    old = open_checkpoint(first.checkpoint.note, [verifier(stack)], stack.settings.hub.log_origin)
    for _ in range(3):
        await fetch(stack, MUNI, request(stack, MUNI, "dopa.house", subject(personas, "dopa.house")))
    async with stack.channel("auditor") as channel:
        log = audit_pb2_grpc.AuditLogStub(channel)
        signed = await log.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        new = open_checkpoint(signed.note, [verifier(stack)], stack.settings.hub.log_origin)
        assert new.size == old.size + 3
        proof = await log.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(old_size=old.size))
        merkle.verify_consistency(old.size, new.size, list(proof.hashes), old.root_hash, new.root_hash)
        entries = await log.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=new.size))
        assert [e.index for e in entries.entries] == list(range(new.size))
        assert merkle.root([merkle.leaf_hash(e.leaf) for e in entries.entries]) == new.root_hash
        by_hash = await log.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
            leaf_hash=merkle.leaf_hash(first.log_leaf)))
        assert by_hash.leaf_index == first.log_index
        merkle.verify_inclusion(merkle.leaf_hash(first.log_leaf), first.log_index, by_hash.tree_size,
                                list(by_hash.hashes), new.root_hash)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await log.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(old_size=new.size + 5,
                                                                               new_size=new.size))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_accesses_for_auditors_only_and_revocation(stack: RunningStack,
                                                         personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "edu.degree")
    doc = await fetch(stack, MUNI, request(stack, MUNI, "edu.degree", citizen, purpose="ตรวจวุฒิการศึกษา"))
    async with stack.channel(MUNI) as channel:
        log = audit_pb2_grpc.AuditLogStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await log.ListAccesses(audit_pb2.ListAccessesRequest(subject_id=citizen))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert from_rpc_error(info.value).code == "not_an_auditor"
        revoked = await log.RevokePrintout(await signed_in(stack, MUNI, audit_pb2.RevokePrintoutRequest(
            printout_id=doc.printout_id, reason="ออกผิดคน / issued for the wrong case")))
        assert revoked.log_index == doc.log_index + 1
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await log.RevokePrintout(await signed_in(stack, MUNI, audit_pb2.RevokePrintoutRequest(
                printout_id=doc.printout_id, reason="again")))
        assert from_rpc_error(info.value).code == "already_revoked"
    async with stack.channel("auditor") as channel:
        log = audit_pb2_grpc.AuditLogStub(channel)
        status = await log.GetRevocation(audit_pb2.GetRevocationRequest(printout_id=doc.printout_id))
        assert status.revoked and status.reason.startswith("ออกผิดคน") and status.log_index == revoked.log_index
        accesses = (await log.ListAccesses(audit_pb2.ListAccessesRequest(subject_id=citizen))).accesses
        mine = [a for a in accesses if a.printout_id == doc.printout_id]
        assert len(mine) == 1 and mine[0].agency == MUNI and mine[0].purpose == "ตรวจวุฒิการศึกษา" and mine[0].revoked
        # The signed list for offline verifiers names it, signed with the log's published keys.
        note = (await log.GetRevocationList(audit_pb2.GetRevocationListRequest())).note
        listed = open_revocation_list(note, log_key_set(stack.home), stack.hub.hub.log.origin)
        assert listed.revoked[doc.printout_id].log_index == revoked.log_index and listed.log_size > revoked.log_index
        assert listed.revoked[doc.printout_id].reason.startswith("ออกผิดคน")
        # Another agency cannot revoke what it was not issued.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await log.RevokePrintout(await signed_in(stack, "auditor", audit_pb2.RevokePrintoutRequest(
                printout_id=doc.printout_id, reason="x")))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_log_survives_restart_with_the_same_tree(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    before = stack.hub.hub.log.latest.checkpoint
    await stack.hub.stop(0)
    stack.hub = await build_server(stack.settings, 0)
    assert stack.hub.hub.log.latest.checkpoint == before
    async with stack.channel(MUNI) as channel:
        doc = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
            await signed_in(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person"))))
    assert doc.log_index == before.size
    proof = await stack.hub.hub.log.consistency_proof(before.size, doc.checkpoint.size)
    merkle.verify_consistency(before.size, doc.checkpoint.size, proof, before.root_hash,
                              stack.hub.hub.log.latest.checkpoint.root_hash)




async def test_no_printout_when_the_log_cannot_be_written(stack: RunningStack,
                                                          personas: list[dict[str, Any]]) -> None:
    # The officer's session, checked once by a first fetch: the hub remembers it, and reads no store for it below.
    asked = await signed_in(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    await fetch(stack, MUNI, asked)
    log = stack.hub.hub.log
    before = log.size
    # The hub's commit cannot happen, so it must not issue.
    with log_held_by_another_writer(stack):
        async with stack.channel(MUNI) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(asked)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        parsed = from_rpc_error(info.value)
        assert parsed.code == "log_unavailable" and parsed.side == "hub"
        assert "no printout was issued" in parsed.message
    assert log.size == before
    # The hub recovers by itself once the log is free.
    doc = await fetch(stack, MUNI, request(stack, MUNI, "dopa.person", subject(personas, "dopa.person")))
    assert doc.log_index == before


def _card(persona: dict[str, Any], **change: str) -> provider_pb2.CheckCardRequest:
    return provider_pb2.CheckCardRequest(subject_id=persona["id"], **{**persona["card"], **change})


async def test_a_citizen_lists_their_own_accesses_with_their_card(stack: RunningStack,
                                                                  personas: list[dict[str, Any]]) -> None:
    me = next(p for p in personas if p["kind"] == "citizen" and "card" in p and "edu.degree" in p["doc_types"])
    other = next(p for p in personas if p["kind"] == "citizen" and "card" in p and p["id"] != me["id"])
    doc = await fetch(stack, MUNI, request(stack, MUNI, "edu.degree", me["id"], purpose="ตรวจวุฒิการศึกษา"))
    async with stack.channel(MUNI) as channel:
        log = audit_pb2_grpc.AuditLogStub(channel)
        own = await log.ListAccesses(audit_pb2.ListAccessesRequest(subject_id=me["id"], citizen_card=_card(me)))
        assert doc.printout_id in [a.printout_id for a in own.accesses]
        refusals = [
            (me["id"], _card(me, laser_code="ZZ9-9999999-99"), "citizen_not_verified"),
            (me["id"], _card(me, birth_date="25000101"), "citizen_not_verified"),
            (me["id"], _card(other), "not_own_id"),  # someone else's card cannot open my history
        ]
        for subject_id, card, reason in refusals:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await log.ListAccesses(audit_pb2.ListAccessesRequest(subject_id=subject_id, citizen_card=card))
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert from_rpc_error(info.value).code == reason, card
