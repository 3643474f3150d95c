"""The monitor's alarms, against logs made of real proofs and real signed checkpoints (tests/auditor/fake_log.py)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.auditor import Alarm, AuditorState, Entry, HubInputs, TrustInputs, run_watch, watch_round
from consumers.auditor.watch import choose_sample
from linkage import seal
from linkage.checkpoint import NoteSigner
from tests.auditor.conftest import World
from tests.auditor.fake_log import ORIGIN, FakeLog

KEY = NoteSigner("linkage.test", Ed25519PrivateKey.generate())
OTHER = NoteSigner("linkage.test", Ed25519PrivateKey.generate())


def leaves(n: int, tag: str = "") -> list[bytes]:
    return [seal.canonical_json({"kind": "printout", "printout_id": f"{tag}{i}"}) for i in range(n)]


def honest(size: int) -> FakeLog:
    return FakeLog(leaves(20), KEY, size=size)


def rewritten(at: int, size: int) -> FakeLog:
    log = honest(size)
    log.leaves[at] = seal.canonical_json({"kind": "printout", "printout_id": "forged"})
    return log


def served_wrong(at: int, size: int) -> FakeLog:
    log = honest(size)
    log.served[at] = seal.canonical_json({"kind": "printout", "printout_id": "forged"})
    return log


class OtherKey(FakeLog):
    def checkpoint(self) -> str:
        return self.note(signer=OTHER)


class OtherOrigin(FakeLog):
    def checkpoint(self) -> str:
        return self.note(origin="other.example/log")


class DropsEntry(FakeLog):
    def entries(self, start: int, end: int) -> list[Entry]:
        return [e for e in super().entries(start, end) if e.index != 9]


@dataclass(frozen=True)
class Case:
    name: str
    rounds: list[Callable[[], FakeLog]]  # the log as each round sees it
    alarm: str | None  # the kind raised by the last round, or None
    why: tuple[str, ...] = ()  # in the alarm's message


CASES = [
    Case("honest, growing", [lambda: honest(4), lambda: honest(8), lambda: honest(8), lambda: honest(20)], None),
    Case("honest, from empty", [lambda: honest(0), lambda: honest(3)], None),
    Case("rollback", [lambda: honest(12), lambda: honest(9)], "rollback",
         ("size 9", "size 12", honest(9).root(9).hex(), honest(12).root(12).hex())),
    Case("fork at equal size", [lambda: honest(8), lambda: rewritten(2, 8)], "fork",
         ("at size 8", honest(8).root(8).hex(), rewritten(2, 8).root(8).hex())),
    Case("history rewritten under a bigger tree", [lambda: honest(8), lambda: rewritten(2, 12)], "fork",
         ("size 8", "size 12", "not one history")),
    Case("new entry rewritten, tree kept", [lambda: honest(8), lambda: served_wrong(9, 10)], "rewritten_entry",
         ("entry 9 of size 10",)),
    Case("old entry rewritten, tree kept", [lambda: honest(8), lambda: served_wrong(3, 8)], "rewritten_entry",
         ("entry 3 of size 8",)),
    Case("entry dropped", [lambda: honest(8), lambda: DropsEntry(leaves(20), KEY, size=10)],
         "rewritten_entry", ("did not return entry 9",)),
    Case("checkpoint by another key", [lambda: honest(4), lambda: OtherKey(leaves(20), KEY, size=8)],
         "bad_checkpoint", ("no_valid_signature",)),
    Case("checkpoint of another log", [lambda: OtherOrigin(leaves(20), KEY, size=8)], "bad_checkpoint",
         ("unknown_origin",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_watch(case: Case) -> None:
    state = AuditorState()
    rng = random.Random(7)
    *first, last = case.rounds
    for make in first:
        watch_round(make(), KEY.verifier(), ORIGIN, state, sample=20, rng=rng)
    before = state.newest(ORIGIN)
    if case.alarm is None:
        result = watch_round(last(), KEY.verifier(), ORIGIN, state, sample=20, rng=rng)
        assert state.newest(ORIGIN) == dataclasses.replace(before, size=result.checkpoint.size,
                                                          root_hash=result.checkpoint.root_hash,
                                                          note=last().checkpoint()) if before else True
        return
    with pytest.raises(Alarm) as info:
        watch_round(last(), KEY.verifier(), ORIGIN, state, sample=20, rng=rng)
    assert info.value.kind == case.alarm
    for text in case.why:
        assert text in info.value.message, info.value.message
    assert state.newest(ORIGIN) == before  # an alarming checkpoint is never remembered


def test_sample_prefers_new_entries() -> None:
    rng = random.Random(1)
    assert choose_sample(10, 14, 3, rng) == tuple(sorted(choose_sample(10, 14, 3, random.Random(1))))
    assert all(i >= 10 for i in choose_sample(10, 14, 4, rng))
    picked = choose_sample(10, 12, 5, rng)
    assert len(picked) == 5 and {10, 11} <= set(picked) and len(set(picked)) == 5
    assert choose_sample(0, 0, 5, rng) == ()


def test_run_watch_once_and_alarm(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vkey = tmp_path / "log.vkey"
    vkey.write_text(KEY.vkey())
    trust = TrustInputs(ca=world.ca_pem, log_key=str(vkey), origin=ORIGIN)
    state = tmp_path / "state.json"
    assert run_watch(trust, HubInputs(), state=state, once=True, log=honest(12)) == 0
    assert "OK: linkage.test/audit-log size 12" in capsys.readouterr().out
    assert run_watch(trust, HubInputs(), state=state, rounds=2, interval=0.01, log=honest(14)) == 0
    saved = state.read_bytes()
    assert run_watch(trust, HubInputs(), state=state, once=True, log=honest(5)) == 1
    out, err = capsys.readouterr()
    assert "ALARM (rollback)" in err and "ALARM rollback" in out and state.read_bytes() == saved


def test_run_watch_needs_log_key(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_watch(TrustInputs(ca=world.ca_pem), HubInputs(), state=None, once=True, log=honest(3)) == 2
    assert "verifier key and origin" in capsys.readouterr().err


def test_run_watch_without_hub(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = TrustInputs(ca=world.ca_pem, log_key=KEY.vkey(), origin=ORIGIN)
    assert run_watch(trust, HubInputs(home=tmp_path), state=None, once=True) == 2
    assert "not running (no endpoints.json)" in capsys.readouterr().err
