"""The exchange log on each backend: group commits, proofs, restart, migrations, failures and recovery."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import merkle
from linkage.checkpoint import NoteSigner, open_checkpoint, parse_verifier_key
from linkage.errors import HubUnavailable
from linkage.hub import log as log_module
from linkage.hub.log import ExchangeLog, LogEntry, RevocationEntry
from linkage.hub.logproofs import batch_proofs
from linkage.storage import Database, DatabaseUnavailable, SchemaMismatch
from tests.backends import fresh_database

ORIGIN = "test.linkage/exchange-log"
KEY = b"s" * 32
SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
VERIFIER = parse_verifier_key(SIGNER.vkey())

Where = Path | Database


@pytest.fixture
def where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Where:
    if backend == "sqlite":
        return tmp_path / "exchange-log.sqlite"
    return fresh_database(request.getfixturevalue("postgres"))


@pytest.fixture
async def log(where: Where) -> AsyncIterator[ExchangeLog]:
    opened = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        yield opened
    finally:
        await opened.close()


def entry(n: int, subject: str = "", log: ExchangeLog | None = None) -> LogEntry:
    subject_hash = log.subject_hash(subject) if log and subject else f"{n:064x}"
    return LogEntry(f"p-{n}", "dopa.person", "TH/GOV/DOPA/civil-registry", "phrae-municipality", "3100000000001",
                    "ทดสอบ", f"case-{n}", "2026-01-01T00:00:00Z", subject_hash, f"{n:064x}")


def check(appended: Any) -> merkle.Node:
    cp = open_checkpoint(appended.tree.note, [VERIFIER], ORIGIN)
    merkle.verify_inclusion(merkle.leaf_hash(appended.leaf), appended.index, cp.size, appended.proof, cp.root_hash)
    return merkle.Node(0, cp.size, cp.root_hash)


@pytest.mark.parametrize("size", range(1, 70))
def testbatch_proofs_equal_the_rfc_definition(size: int) -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
    for first in sorted({0, size // 3, size // 2, size - 1}):
        tree = merkle.CompactRange()
        nodes: dict[tuple[int, int], bytes] = {}
        for leaf in leaves[:first]:
            tree.append(leaf)
        # Only what the log gives batch_proofs: the peaks before the batch and the nodes the batch completes.
        peaks = [(lvl, (first >> lvl) - 1) for lvl in reversed(range(first.bit_length())) if first >> lvl & 1]
        nodes.update(zip(peaks, tree.peaks, strict=True))
        for leaf in leaves[first:]:
            nodes.update(((n.level, n.index), n.hash) for n in tree.append(leaf))
        assert batch_proofs(first, size, nodes) == [merkle.inclusion_proof(leaves, i, size)
                                                      for i in range(first, size)]


async def test_group_commits_prove_against_signed_checkpoints(log: ExchangeLog) -> None:
    first = await log.append(entry(0))
    assert first.index == 0 and check(first).index == 1
    # Many at once: they share commits, and each proof holds against its own commit's checkpoint.
    results = await asyncio.gather(*(log.append(entry(n)) for n in range(1, 301)))
    assert sorted(r.index for r in results) == list(range(1, 301))
    assert len({r.tree.checkpoint.size for r in results}) < 300  # grouped, not one commit each
    for r in results:
        check(r)
    assert log.size == 301 and log.latest.checkpoint.size == 301
    cp = open_checkpoint(log.latest.note, [VERIFIER], ORIGIN)
    entries = await log.entries(0, 301)
    assert [i for i, _ in entries] == list(range(301))
    assert merkle.root([merkle.leaf_hash(leaf) for _, leaf in entries]) == cp.root_hash


async def test_proofs_read_from_the_store(log: ExchangeLog) -> None:
    results = await asyncio.gather(*(log.append(entry(n)) for n in range(77)))
    latest = log.latest.checkpoint
    for r in results[::5]:
        proof = await log.inclusion_proof(r.index, latest.size)
        merkle.verify_inclusion(merkle.leaf_hash(r.leaf), r.index, latest.size, proof, latest.root_hash)
        old = r.tree.checkpoint
        consistency = await log.consistency_proof(old.size, latest.size)
        merkle.verify_consistency(old.size, latest.size, consistency, old.root_hash, latest.root_hash)
        assert await log.checkpoint_at(old.size) == r.tree.note
        assert await log.index_of_leaf_hash(merkle.leaf_hash(r.leaf)) == r.index
    assert await log.index_of_leaf_hash(b"\x00" * 32) is None
    with pytest.raises(merkle.ProofError) as info:
        await log.inclusion_proof(0, latest.size + 1)
    assert info.value.code == "size_beyond_source"


async def test_reopened_log_has_the_same_tree(where: Where) -> None:
    log = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        await asyncio.gather(*(log.append(entry(n)) for n in range(45)))
        before = log.latest
    finally:
        await log.close()
    again = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        assert again.size == 45 and again.latest == before
        nxt = await again.append(entry(45))
        assert nxt.index == 45
        proof = await again.consistency_proof(45, 46)
        merkle.verify_consistency(45, 46, proof, before.checkpoint.root_hash, nxt.tree.checkpoint.root_hash)
    finally:
        await again.close()


async def test_accesses_printouts_and_revocations(log: ExchangeLog) -> None:
    mine = [await log.append(entry(n, "1101700230708", log)) for n in range(3)]
    await log.append(entry(9, "3100600123456", log))
    revoked = await log.append(RevocationEntry("p-1", "phrae-municipality", "3100000000001", "ผิดคน", "2026-01-02"))
    accesses = await log.accesses("1101700230708")
    assert [(i, leaf["printout_id"], r) for i, leaf, r in accesses] == [
        (mine[0].index, "p-0", False), (mine[1].index, "p-1", True), (mine[2].index, "p-2", False)]
    assert (await log.printout("p-2") or {})["case_ref"] == "case-2"
    assert await log.printout("p-404") is None
    assert await log.revocation("p-1") == (revoked.index, {
        "printout_id": "p-1", "agency": "phrae-municipality", "officer_id": "3100000000001", "reason": "ผิดคน",
        "revoked_at": "2026-01-02", "kind": "revocation"})
    assert await log.revocation("p-2") is None


def _versions(where: Where) -> list[int]:
    if isinstance(where, Path):
        with sqlite3.connect(where) as conn:
            return [int(v) for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    import psycopg

    with psycopg.connect(where.url) as conn:
        rows = conn.execute(f"SELECT version FROM {where.schema('log')}.schema_version ORDER BY version").fetchall()
    return [int(v) for (v,) in rows]


def _bump_version(where: Where) -> None:
    if isinstance(where, Path):
        with sqlite3.connect(where) as conn:
            conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', '2099-01-01')")
        return
    import psycopg

    with psycopg.connect(where.url) as conn:
        conn.execute(f"INSERT INTO {where.schema('log')}.schema_version VALUES (99, 'from the future', '2099-01-01')")


async def test_migrations_are_versioned_and_a_newer_store_is_refused(where: Where) -> None:
    log = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    await log.append(entry(0))
    await log.close()
    log = ExchangeLog(where, KEY, SIGNER, ORIGIN)  # opening again applies nothing twice
    await log.close()
    assert _versions(where) == [1, 2, 3, 4, 5, 6]
    _bump_version(where)
    with pytest.raises(SchemaMismatch) as info:
        ExchangeLog(where, KEY, SIGNER, ORIGIN)
    assert info.value.code == "schema_too_new" and "schema version 99" in str(info.value)


async def test_a_log_made_before_versioning_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    log = ExchangeLog(path, KEY, SIGNER, ORIGIN)
    await asyncio.gather(*(log.append(entry(n)) for n in range(10)))
    before = log.latest
    await log.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE schema_version")  # as the hub left it before migrations existed
    log = ExchangeLog(path, KEY, SIGNER, ORIGIN)
    try:
        assert log.latest == before and _versions(path) == [1, 2, 3, 4, 5, 6]
    finally:
        await log.close()


async def test_a_second_writer_makes_a_commit_fail_then_the_log_reloads(tmp_path: Path) -> None:
    """A commit that fails leaves nothing behind; the next one reloads the tree, so nothing is lost or doubled.

    (SQLite: two writers on one file. On PostgreSQL hubs share a log by design: test_replicas_….)"""
    where = tmp_path / "exchange-log.sqlite"
    one = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    two = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        assert (await one.append(entry(0))).index == 0
        with pytest.raises(HubUnavailable) as info:
            await two.append(entry(1))  # two does not know of entry 0: its index 0 is taken
        assert info.value.code == "log_unavailable" and "no printout was issued" in info.value.message
        again = await two.append(entry(1))  # reloaded after the failure
        assert again.index == 1 and check(again).index == 2
        with pytest.raises(HubUnavailable):
            await one.append(entry(2))  # now one is behind
        late = await one.append(entry(2))
        assert late.index == 2 and check(late).index == 3
        leaves = [leaf for _, leaf in await one.entries(0, 10)]
        assert len(leaves) == 3 and all(f'"p-{n}"'.encode() in leaves[n] for n in range(3))
    finally:
        await one.close()
        await two.close()


def _backend_pids(where: Database) -> list[int]:
    import psycopg

    with psycopg.connect(where.url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'linkage%'"
                            " AND datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return [int(p) for (p,) in rows]


def _terminate(where: Database, pids: list[int]) -> None:
    import psycopg

    with psycopg.connect(where.url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_postgres_connection_lost_is_unavailable_then_recovers(postgres: Database) -> None:
    where = fresh_database(postgres)
    log = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        await log.append(entry(0))
        _terminate(where, _backend_pids(where))  # what a server restart does to the hub's connection
        with pytest.raises(HubUnavailable) as info:
            await log.append(entry(1))
        assert info.value.code == "log_unavailable" and log.size == 1
        back = await log.append(entry(1))  # reconnects by itself
        assert back.index == 1 and check(back).index == 2
    finally:
        await log.close()


def test_unreachable_postgres_names_the_server_not_the_password() -> None:
    where = Database("postgresql://linkage:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseUnavailable) as info:
        ExchangeLog(where, KEY, SIGNER, ORIGIN)
    assert info.value.code == "database_unavailable"
    assert "127.0.0.1:1" in str(info.value) and "s3cret" not in str(info.value) and "pg_isready" in str(info.value)



async def _one_leads(*logs: ExchangeLog) -> tuple[ExchangeLog, ExchangeLog]:
    """Wait until exactly one of two logs integrates; return (integrator, the other)."""
    for _ in range(300):
        if sum(log.leading for log in logs) == 1:
            leader = next(log for log in logs if log.leading)
            return leader, next(log for log in logs if log is not leader)
        await asyncio.sleep(0.01)
    raise AssertionError(f"leading: {[log.leading for log in logs]}")


def _advisory_holders(where: Database) -> list[int]:
    import psycopg

    with psycopg.connect(where.url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                            ).fetchall()
    return [int(p) for (p,) in rows]


def _check_log(entries: list[tuple[int, bytes]], results: list[Any]) -> None:
    """Every answered entry is in the log exactly once, at the index it was told, and nothing else is."""
    assert [i for i, _ in entries] == list(range(len(entries)))
    by_leaf = {leaf: i for i, leaf in entries}
    assert len(by_leaf) == len(entries)  # no leaf twice
    for r in results:
        assert by_leaf[r.leaf] == r.index
        check(r)


@pytest.fixture
async def replicas(postgres: Database) -> AsyncIterator[tuple[Database, ExchangeLog, ExchangeLog]]:
    """Two hubs' logs on one PostgreSQL log: (where, a, b)."""
    where = fresh_database(postgres)
    a = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    b = ExchangeLog(where, KEY, SIGNER, ORIGIN)
    try:
        yield where, a, b
    finally:
        await a.close()
        await b.close()


async def test_replicas_share_one_log_and_one_of_them_integrates(
        replicas: tuple[Database, ExchangeLog, ExchangeLog]) -> None:
    where, a, b = replicas
    leader, other = await _one_leads(a, b)
    results = await asyncio.gather(*(a.append(entry(n)) for n in range(0, 150)),
                                   *(b.append(entry(n)) for n in range(150, 300)))
    assert leader.leading and not other.leading
    _check_log(await a.entries(0, 1000), results)
    assert len(_advisory_holders(where)) == 1
    # The other hub answers for the log too: its checkpoint catches up with the integrator's.
    for _ in range(100):
        if other.latest == leader.latest:
            break
        await asyncio.sleep(0.02)
    assert other.latest == leader.latest and other.size == 300
    some = results[7]
    proof = await other.inclusion_proof(some.index, 300)
    merkle.verify_inclusion(merkle.leaf_hash(some.leaf), some.index, 300, proof, leader.latest.checkpoint.root_hash)


async def test_when_the_integrator_dies_another_takes_over_and_loses_nothing(
        replicas: tuple[Database, ExchangeLog, ExchangeLog]) -> None:
    where, a, b = replicas
    leader, other = await _one_leads(a, b)
    first = [await leader.append(entry(0)), await other.append(entry(1))]
    # The integrator hangs (its writer stops) while still holding the lock: entries queue up unanswered.
    assert leader._writer is not None
    leader._writer.cancel()
    waiting = [asyncio.ensure_future(other.append(entry(n))) for n in range(2, 40)]
    await asyncio.sleep(0.2)
    assert not any(w.done() for w in waiting)
    # Then it dies: its session ends and its lock with it; the other takes over within a campaign or two.
    holders = _advisory_holders(where)
    assert len(holders) == 1
    _terminate(where, holders)
    done = await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    assert other.leading
    _check_log(await other.entries(0, 1000), first + done)
    assert len(await other.entries(0, 1000)) == 40


async def test_replicas_wake_each_other_by_notification(replicas: tuple[Database, ExchangeLog, ExchangeLog],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the writers' fallback look a minute away, only LISTEN/NOTIFY can get the other replica's entries
    integrated and answered (linkage/hub/lognotify.py)."""
    _, a, b = replicas
    leader, other = await _one_leads(a, b)
    for _ in range(300):
        if leader.listening and other.listening:
            break
        await asyncio.sleep(0.01)
    assert leader.listening and other.listening
    monkeypatch.setattr(log_module, "LISTENING_TICK_S", 60.0)
    await asyncio.sleep(0.3)  # both writers are past their last wait of the unpatched length
    one_by_one = [await asyncio.wait_for(other.append(entry(n)), timeout=10) for n in range(5)]
    together = await asyncio.wait_for(asyncio.gather(*(other.append(entry(n)) for n in range(5, 20))), timeout=10)
    mine = await asyncio.wait_for(leader.append(entry(20)), timeout=10)
    _check_log(await leader.entries(0, 1000), [*one_by_one, *together, mine])
