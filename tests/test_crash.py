"""Crash safety, short: tests.crash kills the hub, a registry and the counter with SIGKILL mid-load.

Three rounds of a second or two each, on a sandbox of its own (real processes, real mTLS,
the SQLite log and counter file): every printout a client or the counter received is in the
log exactly once, the log verifies against its newest checkpoint and every checkpoint seen
before, nothing refused was logged, the registries' data is intact, every case and complaint
the counter acknowledged is on disk whole. The long run is ``python scripts/crash.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from linkage.cli.sandbox import init
from tests import crash


def _other_payload(jws: str) -> str:
    """The JWS with another purpose in its payload (the signature no longer matters: only the leaf is compared)."""
    header, payload, signature = jws.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["purpose"] = "another purpose"
    return ".".join([header, base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode(), signature])


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_kill_9_loses_no_printout_and_no_record(tmp_path: Path) -> None:
    home = init(tmp_path / "home", citizens=200, seed=3)
    options = crash.Options(rounds=3, targets=("hub", "dopa", "counter"), seconds=1.5, workers=3, counter_workers=2,
                            seed=3)
    run = crash.Crash(home, options)
    try:
        await run.start()
        rows = [await run.round(n) for n in (1, 2, 3)]
        assert [r.killed for r in rows] == ["hub", "dopa", "counter"]
        for row in rows:
            assert row.violations == [], row.violations
            assert row.received > 0 and row.cases > 0  # the load got through before the kill or after the restart
        ledger = run.ledger
        assert ledger.lost and not ledger.rejected and ledger.checkpoints and ledger.counter.complaints
        disk = crash.CounterDisk.read(run.counter_db, run.manuals)
        assert run.auditor is not None  # start() made it
        check = await crash.check_log(run.auditor, ledger, run.prefix, home.exchange_log, disk)
        assert check.violations == [] and crash.check_counter(ledger.counter, disk) == []
        # The dead hub lost answers; every entry that no one received is one of them.
        assert sum(check.orphans.values()) <= len(ledger.lost)
        assert check.counter_orphans <= sum(1 for s in disk.slots.values() if s.problem.startswith(crash.COUNTER_LOST))
        assert sum(r.orphans for r in rows) == sum(check.orphans.values()) + check.counter_orphans
        assert check.matched == len(ledger.received)
        assert check.counter_matched == sum(1 for slot in disk.slots.values() if slot.digest) > 0
        # Every entry is a printout someone received, one whose answer was lost, or an officer's sign-in.
        assert check.size == (check.matched + sum(check.orphans.values()) + check.counter_matched
                              + check.counter_orphans + check.other)

        # The checks are not blind: each of these ledgers describes a log that lost or rewrote something.
        key, got = next(iter(ledger.received.items()))
        size, root = max(ledger.checkpoints.items())
        lies = {
            "the log holds it 0 times": dataclasses.replace(
                ledger, received={**ledger.received, ("CRASH-x-r01-1", "dopa.person"): dataclasses.replace(
                    got, digest="0" * 64)}),
            "yet the log holds it": dataclasses.replace(
                ledger, received={k: v for k, v in ledger.received.items() if k != key},
                refused={**ledger.refused, key: "provider_unavailable"}),
            "fork: the checkpoint of size": dataclasses.replace(
                ledger, checkpoints={**ledger.checkpoints, size: bytes(32)}),
            "rollback": dataclasses.replace(ledger, checkpoints={**ledger.checkpoints, check.size + 5: root}),
            f"was received with log index {got.log_index + 1}": dataclasses.replace(
                ledger, received={**ledger.received, key: dataclasses.replace(got, log_index=got.log_index + 1)}),
            f"entry {got.log_index} (printout {got.printout_id})": dataclasses.replace(
                ledger, received={**ledger.received, key: dataclasses.replace(got, jws=_other_payload(got.jws))}),
            "which no client asked for": dataclasses.replace(
                ledger, received={k: v for k, v in ledger.received.items() if k != key}),
        }
        for expected, lie in lies.items():
            found = (await crash.check_log(run.auditor, lie, run.prefix, home.exchange_log, disk)).violations
            assert any(expected in v for v in found), (expected, found)
        case_id, (ref, printouts) = next(iter(ledger.counter.cases.items()))
        number, details = next(iter(ledger.counter.complaints.items()))
        counter_lies = {
            "was shown opened and is gone": crash.Counter(cases={"no-such-case": (ref, printouts)}),
            f"case {ref} was shown with printouts": crash.Counter(
                cases={case_id: (ref, printouts | {"00000000-0000-0000-0000-000000000000"})}),
            f"complaint {number} was acknowledged": crash.Counter(complaints={number: details + "!"}),
        }
        for expected, seen in counter_lies.items():
            found = crash.check_counter(seen, disk)
            assert any(expected in v for v in found), (expected, found)
        assert await run.check_registry("dbd") == []
        # Both files that must not lose a commit are in WAL mode
        # (synchronous=FULL is per connection: see docs/reliability.md).
        for path in (home.exchange_log, run.counter_db):
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", path
            finally:
                db.close()
    finally:
        await run.stop()
