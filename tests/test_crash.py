"""Crash safety, short: scripts/crash.py kills the hub and a registry with SIGKILL in the middle of a load.

Three rounds of a second or two each, on a sandbox of its own (real processes, real mTLS,
the SQLite log): every printout a client received is in the log exactly once, the log
verifies against its newest checkpoint and every checkpoint seen before, nothing refused
was logged, the registries' data is intact. The long run is ``python scripts/crash.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from linkage.sandbox import init

ROOT = Path(__file__).resolve().parent.parent


def _crash_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash", ROOT / "scripts" / "crash.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crash"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_kill_9_loses_no_printout_and_no_record(tmp_path: Path) -> None:
    crash = _crash_script()
    home = init(tmp_path / "home", citizens=200, seed=3)
    run = crash.Crash(home, crash.Options(rounds=3, targets=("hub", "dopa"), seconds=1.5, workers=3, seed=3))
    try:
        await run.start()
        rows = [await run.round(n) for n in (1, 2, 3)]
        assert [r.killed for r in rows] == ["hub", "dopa", "hub"]
        for row in rows:
            assert row.violations == [], row.violations
            assert row.received > 0  # the load got through before the kill or after the restart
        ledger = run.ledger
        # The dead hub lost answers; every entry that no client received is one of them.
        assert ledger.lost and sum(r.orphans for r in rows) <= len(ledger.lost)
        assert not ledger.rejected and ledger.checkpoints
        check = await crash.check_log(run.auditor, ledger, run.prefix, home.exchange_log)
        assert check.violations == []
        assert check.matched == len(ledger.received) and check.other == 0
        assert check.size == check.matched + sum(check.orphans.values())

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
            "which no client asked for": dataclasses.replace(
                ledger, received={k: v for k, v in ledger.received.items() if k != key}),
        }
        for expected, lie in lies.items():
            found = (await crash.check_log(run.auditor, lie, run.prefix, home.exchange_log)).violations
            assert any(expected in v for v in found), (expected, found)
        assert await run.check_registry("dbd") == []
    finally:
        await run.stop()
