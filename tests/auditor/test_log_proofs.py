"""Checks 4-7 of ``verify_printout`` on bundles, as data: each case a bundle, what the auditor saw before,
offline or online, and the failed check numbers (empty = valid).

The log is real: leaves of printouts sealed over a throwaway PKI, RFC 9162
proofs from ``linkage.merkle``, checkpoints signed with ``linkage.checkpoint``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.auditor import (
    AuditorState,
    BadState,
    BadTrustRoot,
    Printout,
    Revocation,
    Trust,
    TrustInputs,
    UnreadableInput,
    parse_printout,
    run_verify,
    verify_printout,
)
from linkage import merkle, seal
from linkage.checkpoint import Checkpoint, NoteSigner
from tests.auditor.conftest import NOW, World, printout
from tests.auditor.fake_log import ORIGIN, FakeLog

OURS = 5  # our printout's index in the log


@dataclass(frozen=True)
class Logs:
    """The honest log of 12 printouts, its key, another key, and the sealed tokens."""

    world: World
    tokens: list[seal.CompactJWS]
    honest: FakeLog
    other_key: NoteSigner

    @property
    def trust(self) -> Trust:
        return Trust(self.world.root, self.honest.signer.verifier(), ORIGIN)


def pid(i: int) -> str:
    return str(uuid.UUID(int=100 + i))


def leaf_of(token: str, **changes: Any) -> bytes:
    p = seal.unverified_payload(token)
    entry = {"kind": "printout", **{k: p[k] for k in ("printout_id", "doc_type", "provider", "agency", "officer_id",
                                                      "purpose", "case_ref", "issued_at")},
             "subject_hash": "hmac:" + "ab" * 32, "printout_sha256": seal.printout_digest(token)}
    entry.update(changes)
    return seal.canonical_json(entry)


@pytest.fixture(scope="module")
def logs(world: World) -> Logs:
    tokens = [world.sealer.seal(printout(printout_id=pid(i), officer_id=f"RD-{i:04d}")) for i in range(12)]
    signer = NoteSigner("linkage.test", Ed25519PrivateKey.generate())
    other = NoteSigner("linkage.test", Ed25519PrivateKey.generate())
    return Logs(world, tokens, FakeLog([leaf_of(t) for t in tokens], signer), other)


def bundle(logs: Logs, *, log: FakeLog | None = None, size: int = 8, index: int = OURS, leaf: bytes | None = None,
           proof: list[bytes] | None = None, proof_size: int | None = None, note: str | None = None,
           log_index: int | None = None) -> str:
    log = log or logs.honest
    token = logs.tokens[OURS]
    proof_size = size if proof_size is None else proof_size
    hashes = proof if proof is not None else merkle.inclusion_proof(log.hashes(), index, proof_size)
    return json.dumps({
        "printout_id": pid(OURS), "doc_type": "dopa.person", "issued_at": "x",
        "log_index": OURS if log_index is None else log_index, "jws": token,
        "log_leaf": (leaf if leaf is not None else log.leaves[index]).decode(),
        "inclusion_proof": {"leaf_index": index, "tree_size": proof_size,
                            "hashes": [base64.b64encode(h).decode() for h in hashes]},
        "checkpoint": note if note is not None else log.note(size),
    }, ensure_ascii=False)


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def forked(logs: Logs) -> FakeLog:
    """The log with entry 2 rewritten after the fact (another officer's name in it)."""
    return logs.honest.with_leaf(2, leaf_of(logs.tokens[2], officer_id="RD-9999"))


@dataclass(frozen=True)
class Case:
    name: str
    text: Callable[[Logs], str]
    expect: frozenset[int]
    why: str = ""
    seen: Callable[[Logs], list[tuple[FakeLog, int]]] = lambda logs: []  # checkpoints remembered before
    online: bool = False
    skipped: frozenset[int] | None = None  # when given, exactly these are skipped (8: no witnesses given)


VALID: frozenset[int] = frozenset()


def honest_seen(*sizes: int) -> Callable[[Logs], list[tuple[FakeLog, int]]]:
    return lambda logs: [(logs.honest, s) for s in sizes]


CASES = [
    # happy
    Case("good bundle, nothing seen before", lambda lg: bundle(lg), VALID, skipped=frozenset({3, 6, 7, 8})),
    Case("good bundle, same checkpoint seen before", lambda lg: bundle(lg), VALID, seen=honest_seen(8),
         skipped=frozenset({3, 7, 8})),
    Case("good bundle, newer seen, online", lambda lg: bundle(lg), VALID, seen=honest_seen(12), online=True,
         skipped=frozenset({3, 8})),
    Case("good bundle, older seen, online", lambda lg: bundle(lg), VALID, seen=honest_seen(6), online=True,
         skipped=frozenset({3, 8})),
    Case("good bundle, newer seen, offline", lambda lg: bundle(lg), VALID, seen=honest_seen(12),
         skipped=frozenset({3, 6, 7, 8})),
    Case("last leaf of the tree", lambda lg: bundle(lg, size=6), VALID),
    # (4) inclusion
    Case("tampered leaf", lambda lg: bundle(lg, leaf=leaf_of(lg.tokens[OURS], purpose="อื่น")), frozenset({4}),
         "the log leaf's purpose 'อื่น'"),
    Case("leaf of another printout", lambda lg: bundle(lg, index=3, log_index=OURS), frozenset({4}),
         "printout_sha256"),
    Case("leaf and index of another printout", lambda lg: bundle(lg, index=3, log_index=3), frozenset({4}),
         f"printout_id '{pid(3)}'"),
    Case("leaf of a revocation", lambda lg: bundle(lg, leaf=leaf_of(lg.tokens[OURS], kind="revocation")),
         frozenset({4}), "'revocation' entry"),
    Case("leaf not JSON", lambda lg: bundle(lg, leaf=b"nope"), frozenset({4}), "not UTF-8 JSON"),
    Case("wrong proof hash",
         lambda lg: bundle(lg, proof=[flip(h) if i == 1 else h
                                      for i, h in enumerate(merkle.inclusion_proof(lg.honest.hashes(), OURS, 8))]),
         frozenset({4}), "the audit path leads to root"),
    Case("proof one hash short",
         lambda lg: bundle(lg, proof=merkle.inclusion_proof(lg.honest.hashes(), OURS, 8)[:-1]),
         frozenset({4}), "wrong_proof_length"),
    Case("proof for another size", lambda lg: bundle(lg, proof=merkle.inclusion_proof(lg.honest.hashes(), OURS, 7)),
         frozenset({4}), "audit path"),
    Case("proof claims another size", lambda lg: bundle(lg, proof_size=7), frozenset({4}),
         "the proof is for tree size 7, the checkpoint is of size 8"),
    Case("log index is not the proof's", lambda lg: bundle(lg, log_index=6), frozenset({4}),
         "the bundle says log index 6"),
    # (5) checkpoint
    Case("checkpoint signed by another key", lambda lg: bundle(lg, note=lg.honest.note(8, signer=lg.other_key)),
         frozenset({5}), "no_valid_signature"),
    Case("checkpoint of another origin", lambda lg: bundle(lg, note=lg.honest.note(8, origin="other.example/log")),
         frozenset({5}), "unknown_origin"),
    Case("checkpoint edited after signing", lambda lg: bundle(lg, note=lg.honest.note(8).replace("\n8\n", "\n9\n")),
         frozenset({4, 5}), "invalid_signature"),
    Case("checkpoint not a note", lambda lg: bundle(lg, note="hello"), frozenset({4, 5}), "malformed_note"),
    # (6) consistency
    Case("forked root at equal size", lambda lg: bundle(lg, log=forked(lg)), frozenset({6}), "fork: at size 8",
         seen=honest_seen(8)),
    Case("rolled back and rewritten, size seen before", lambda lg: bundle(lg, log=forked(lg)), frozenset({6}),
         "fork: at size 8", seen=honest_seen(8, 12)),
    Case("rolled back and rewritten, online", lambda lg: bundle(lg, log=forked(lg)), frozenset({6}),
         "fork or rewritten log: size 8", seen=honest_seen(12), online=True),
    Case("rolled back and rewritten, offline: cannot tell", lambda lg: bundle(lg, log=forked(lg)), VALID,
         seen=honest_seen(12), skipped=frozenset({3, 6, 7, 8})),
    Case("rewritten history, newer, online", lambda lg: bundle(lg, log=forked(lg), size=12), frozenset({6}),
         "are not one history", seen=honest_seen(4), online=True),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_log_case(case: Case, logs: Logs) -> None:
    state = AuditorState()
    for log, size in case.seen(logs):
        state.remember(Checkpoint(ORIGIN, size, log.root(size)), log.note(size))
    before = state.newest(ORIGIN)
    report = verify_printout(parse_printout(case.text(logs).encode()), logs.trust, now=NOW, state=state,
                             log=logs.honest if case.online else None)
    assert {c.number for c in report.failed} == case.expect, report.render()
    assert report.valid is (case.expect == VALID)
    assert [c.number for c in report.checks] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert case.why in " ".join(c.detail for c in report.failed), report.render()
    if case.skipped is not None:
        assert {c.number for c in report.skipped} == case.skipped, report.render()
    if not report.valid:
        assert state.newest(ORIGIN) == before  # nothing learnt from an invalid printout


def revoking_log(logs: Logs) -> FakeLog:
    log = FakeLog(list(logs.honest.leaves), logs.honest.signer)
    log.revoked[pid(OURS)] = Revocation(True, "ส่งผิดคน", "2026-01-15T03:00:00Z", 12)
    return log


def test_revoked_printout_fails_check_7(logs: Logs) -> None:
    log = revoking_log(logs)
    report = verify_printout(parse_printout(bundle(logs).encode()), logs.trust, now=NOW, state=AuditorState(),
                             log=log)
    assert [c.number for c in report.failed] == [7] and not report.valid
    assert "REVOKED at 2026-01-15T03:00:00Z: ส่งผิดคน (log index 12)" in report.render()


def test_bare_jws_online_still_asks_about_revocation(logs: Logs) -> None:
    log = revoking_log(logs)
    report = verify_printout(logs.tokens[OURS], logs.trust, now=NOW, log=log)
    assert [c.number for c in report.failed] == [7]
    assert [c.number for c in report.skipped] == [3, 6, 8]  # 6: no state given; 8: no witnesses


def test_bare_jws_online_gets_its_proof_from_the_log(logs: Logs) -> None:
    state = AuditorState()
    report = verify_printout(logs.tokens[OURS], logs.trust, now=NOW, state=state, log=logs.honest)
    assert report.valid, report.render()
    assert [c.number for c in report.skipped] == [3, 6, 8]
    assert "leaf 5 of 12 is this printout's entry" in report.checks[3].detail
    assert "fetched from the hub" in report.checks[3].detail
    newest = state.newest(ORIGIN)
    assert newest is not None and newest.size == 12  # the fetched checkpoint is remembered


def test_bare_jws_online_a_log_that_never_logged_it(logs: Logs, world: World) -> None:
    unlogged = world.sealer.seal(printout(printout_id=pid(99)))
    report = verify_printout(unlogged, logs.trust, now=NOW, log=logs.honest)
    assert not report.valid and [c.number for c in report.failed] == [4]
    assert f"the log holds no entry for printout {pid(99)}" in report.checks[3].detail


def test_bare_jws_online_the_log_serves_another_entry(logs: Logs) -> None:
    # The hub points at entry 5, but what it serves there is another officer's version of it.
    log = logs.honest.with_leaf(OURS, leaf_of(logs.tokens[OURS], officer_id="RD-9999"))
    report = verify_printout(logs.tokens[OURS], logs.trust, now=NOW, log=log)
    assert [c.number for c in report.failed] == [4]
    assert "the log leaf's officer_id 'RD-9999'" in report.checks[3].detail


def test_bare_jws_online_not_an_auditor(logs: Logs) -> None:
    log = FakeLog(list(logs.honest.leaves), logs.honest.signer, refuse_locate=True)
    report = verify_printout(logs.tokens[OURS], logs.trust, now=NOW, log=log)
    assert report.valid and [c.number for c in report.skipped] == [3, 4, 5, 6, 8]
    assert "the hub will not say where printout" in report.checks[3].detail
    assert "--agency auditor" in report.checks[3].detail


def test_bare_jws_online_without_a_log_key(logs: Logs) -> None:
    report = verify_printout(logs.tokens[OURS], Trust(logs.world.root), now=NOW, log=logs.honest)
    assert report.valid and [c.number for c in report.skipped] == [3, 4, 5, 6, 8]
    assert "the log's verifier key and origin" in report.checks[3].detail


def test_a_log_proof_needs_a_log_key(logs: Logs) -> None:
    with pytest.raises(BadTrustRoot, match="log's verifier key and origin"):
        verify_printout(parse_printout(bundle(logs).encode()), Trust(logs.world.root), now=NOW)


@pytest.mark.parametrize(("change", "why"), [
    ({"log_leaf": None}, "partial log proof: log_leaf missing"),
    ({"inclusion_proof": {"leaf_index": 5, "tree_size": 8, "hashes": ["%%"]}}, "hashes[0] is not base64"),
    ({"inclusion_proof": {"leaf_index": -1, "tree_size": 8, "hashes": []}}, "leaf_index"),
    ({"inclusion_proof": {"leaf_index": 5, "tree_size": 8, "hashes": ["AA=="] * 65}}, "at most 64"),
    ({"checkpoint": 7}, "signed note as a string"),
    ({"log_leaf": {"kind": "printout"}}, "leaf's JSON as a string"),
])
def test_malformed_log_proof_is_unreadable(logs: Logs, change: dict[str, Any], why: str) -> None:
    doc = json.loads(bundle(logs))
    doc.update(change)
    with pytest.raises(UnreadableInput) as info:
        parse_printout(json.dumps({k: v for k, v in doc.items() if v is not None}).encode())
    assert why in info.value.message


def test_bundle_without_log_proof_reads_as_jws(logs: Logs) -> None:
    doc = {"printout_id": pid(OURS), "log_index": OURS, "jws": logs.tokens[OURS]}
    assert parse_printout(json.dumps(doc).encode()) == Printout("bundle", seal.CompactJWS(logs.tokens[OURS]), OURS)


# --- the state file, through the command's body --------------------------------------------------

@dataclass
class Files:
    root: Path
    vkey: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.vkey = self.root / "log-note.vkey"
        self.state = self.root / "auditor" / "state.json"


def _verify(logs: Logs, files: Files, text: str, *, log: FakeLog | None = None,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    files.vkey.write_text(logs.honest.signer.vkey() + "\n")
    path = files.root / "printout.json"
    path.write_text(text, encoding="utf-8")
    code = run_verify(path, TrustInputs(ca=logs.world.ca_pem, log_key=str(files.vkey), origin=ORIGIN),
                      state=files.state, now=NOW, log=log)
    out, _ = capsys.readouterr()
    return code, out


def test_state_file_is_written_only_when_valid(logs: Logs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = Files(tmp_path)
    code, out = _verify(logs, files, bundle(logs, size=6), capsys=capsys)
    assert code == 0 and "first checkpoint this auditor sees" in out
    assert AuditorState.load(files.state).newest(ORIGIN) is not None
    saved = files.state.read_bytes()
    # An invalid printout with a newer checkpoint teaches nothing.
    code, _ = _verify(logs, files, bundle(logs, size=12, note=logs.honest.note(12, signer=logs.other_key)),
                      capsys=capsys)
    assert code == 1 and files.state.read_bytes() == saved
    # A fork at the size remembered is caught from the file.
    code, out = _verify(logs, files, bundle(logs, log=forked(logs), size=6), capsys=capsys)
    assert code == 1 and "[6] ✗ log consistency: fork: at size 6" in out and files.state.read_bytes() == saved
    # A valid newer one, proved consistent online, becomes the newest.
    code, out = _verify(logs, files, bundle(logs, size=12), log=logs.honest, capsys=capsys)
    assert code == 0, out
    newest = AuditorState.load(files.state).newest(ORIGIN)
    assert newest is not None and (newest.size, newest.root_hash) == (12, logs.honest.root(12))
    assert AuditorState.load(files.state).root_at(ORIGIN, 6) == logs.honest.root(6)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"version": 1, "logs": {"x": {"size": 1}}}',
                                  '{"version": 1, "logs": {"x": {"size": 1, "note": "", "root_hash": "AA=="}}}'])
def test_bad_state_file(logs: Logs, tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    files = Files(tmp_path)
    files.state.parent.mkdir()
    files.state.write_text(text)
    with pytest.raises(BadState):
        AuditorState.load(files.state)
    code, _ = _verify(logs, files, bundle(logs), capsys=capsys)
    assert code == 2


def test_a_printout_of_another_sandbox_gets_no_revocation_answer_from_this_hub(logs: Logs) -> None:
    """This hub would say "not revoked" of anything it never issued: its answer counts for its own log only."""
    foreign = logs.world.foreign.seal(printout())
    report = verify_printout(foreign, logs.trust, now=NOW, log=logs.honest)
    assert not report.valid and report.checks[0].ok is False  # sealed under another CA
    revocation = report.checks[6]
    assert revocation.ok is None and "its own log" in revocation.detail, report.render()
    # A printout the log holds: asked, and answered.
    ours = verify_printout(logs.tokens[OURS], logs.trust, now=NOW, log=logs.honest)
    assert ours.valid and ours.checks[6].ok is True
