"""C2SP tlog-cosignature (Ed25519, cosignature/v1): known answers, the spec's own example, quorums, bad input."""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import BadKey, Checkpoint, CheckpointError, NoteSigner, parse_verifier_key, sign_checkpoint
from linkage.cosignature import (
    Cosigner,
    InvalidCosignature,
    NoQuorum,
    cosigned_message,
    majority,
    open_witnessed,
    parse_witness_key,
)

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS = Path(__file__).resolve().parent / "vectors" / "cosignature-v1.json"
NOW = dt.datetime(2023, 3, 21, tzinfo=dt.UTC)  # a day after the vectors' timestamp

# From https://c2sp.org/tlog-cosignature: the example checkpoint with a cosignature, and its example signed message.
SPEC_LINE = ("— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
             "qhf5nNo0xUe+mbIUBkBIfZ+qnA==")
SPEC_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_MESSAGE = "cosignature/v1\ntime 1679315147\n" + SPEC_CHECKPOINT


def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_cosignature_vectors",
                                                  ROOT / "scripts" / "gen_cosignature_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vectors_are_what_the_script_makes() -> None:
    assert _generator().build() == _vectors(), "run scripts/gen_cosignature_vectors.py"


@pytest.mark.parametrize("case", _vectors()["cases"], ids=lambda c: c["name"])
def test_known_answers(case: dict[str, str]) -> None:
    v = _vectors()
    log_key = parse_verifier_key(v["log_vkey"])
    witness = parse_witness_key(v["witness_vkey"])
    note = v["note"] + case["line"]
    if case["want"] == "valid":
        found = open_witnessed(note, [log_key], v["origin"], [witness], 1, now=NOW)
        assert [(c.witness, c.timestamp) for c in found.cosignatures] == [(witness, v["timestamp"])]
    else:
        with pytest.raises(CheckpointError) as info:
            open_witnessed(note, [log_key], v["origin"], [witness], 1, now=NOW)
        assert info.value.code == case["want"]


def test_the_valid_vector_is_the_seed_signing_the_specs_message() -> None:
    """The signed message is the spec's example byte for byte; the line is key ID, big-endian time, signature."""
    v = _vectors()
    assert v["signed_message"] == SPEC_MESSAGE == cosigned_message(SPEC_CHECKPOINT, 1679315147).decode()
    seed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["witness_seed"]))
    blob = base64.b64decode(v["cases"][0]["line"].split()[-1])
    assert blob[:4] == parse_witness_key(v["witness_vkey"]).key_id
    assert int.from_bytes(blob[4:12], "big") == v["timestamp"]
    assert blob[12:] == seed.sign(SPEC_MESSAGE.encode())


def test_the_specs_example_line_has_the_layout_parsed_here() -> None:
    """The spec's example cosignature (its key is not published): 4-byte key ID, then the 8-byte big-endian time
    its example message states, then 64 signature bytes."""
    blob = base64.b64decode(SPEC_LINE.split()[-1])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4].hex() == "8d66cf3f"
    assert int.from_bytes(blob[4:12], "big") == 1679315147


def test_a_witness_key_is_type_4_and_a_note_key_is_not_one() -> None:
    cosigner = Cosigner("witness.test/w", Ed25519PrivateKey.generate())
    vkey = cosigner.vkey()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04  # base64 may hold "+" too
    assert parse_witness_key(vkey) == cosigner.witness_key()
    note_key = NoteSigner("witness.test/w", cosigner.private_key).vkey()  # the same key as a log key: type 1
    with pytest.raises(BadKey):
        parse_witness_key(note_key)
    with pytest.raises(BadKey):
        parse_verifier_key(vkey)
    # The two key IDs differ: a witness's cosignature never passes for the log's signature, nor the reverse.
    assert parse_verifier_key(note_key).key_id != cosigner.witness_key().key_id


@pytest.mark.parametrize(("witnesses", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_majority_is_the_smallest_quorum_two_of_which_always_share_a_witness(witnesses: int, quorum: int) -> None:
    assert majority(witnesses) == quorum
    assert 2 * majority(witnesses) > witnesses


class _Log:
    def __init__(self) -> None:
        self.signer = NoteSigner("log.test/one", Ed25519PrivateKey.generate())
        self.witnesses = [Cosigner(f"witness.test/w{i}", Ed25519PrivateKey.generate()) for i in range(3)]

    def note(self, size: int = 5) -> tuple[str, str]:
        cp = Checkpoint("log.test/one", size, bytes([size]) * 32)
        return sign_checkpoint(cp, self.signer), cp.text()

    def open(self, note: str | bytes, quorum: int, **kw: Any) -> Any:
        return open_witnessed(note, [self.signer.verifier()], "log.test/one",
                              [w.witness_key() for w in self.witnesses], quorum, **kw)


def test_a_quorum_counts_distinct_known_witnesses_only() -> None:
    log = _Log()
    note, text = log.note()
    w0, w1, _ = log.witnesses
    stranger = Cosigner("witness.test/stranger", Ed25519PrivateKey.generate())
    cosigned = note + w0.cosign(text, 100) + w0.cosign(text, 101) + stranger.cosign(text, 100)
    assert [c.witness.name for c in log.open(cosigned, 1).cosignatures] == ["witness.test/w0"]
    with pytest.raises(NoQuorum, match=r"cosigned by 1 of the 3 known witnesses .*2 needed.*w1, witness\.test/w2"):
        log.open(cosigned, 2)
    assert len(log.open(cosigned + w1.cosign(text, 102), 2).cosignatures) == 2


def test_a_cosignature_of_another_checkpoint_or_from_the_future_is_refused() -> None:
    log = _Log()
    note, _ = log.note(5)
    _, other_text = log.note(6)
    w0 = log.witnesses[0]
    with pytest.raises(InvalidCosignature, match="does not verify"):
        log.open(note + w0.cosign(other_text, 100), 1)
    _, text = log.note(5)
    future = int((NOW + dt.timedelta(hours=1)).timestamp())
    with pytest.raises(InvalidCosignature, match="in the future"):
        log.open(note + w0.cosign(text, future), 1, now=NOW)
    assert log.open(note + w0.cosign(text, future), 1, now=NOW + dt.timedelta(minutes=56)).cosignatures


def test_trust_that_cannot_be_met_or_counts_one_key_twice_is_refused() -> None:
    log = _Log()
    note, text = log.note()
    w0 = log.witnesses[0]
    with pytest.raises(BadKey, match="quorum of 4"):
        log.open(note + w0.cosign(text, 1), 4)
    with pytest.raises(BadKey, match="quorum of 0"):
        log.open(note + w0.cosign(text, 1), 0)
    twin = Cosigner("witness.test/twin", w0.private_key)  # one key under two names: the message has no name
    with pytest.raises(BadKey, match="share one public key"):
        open_witnessed(note + w0.cosign(text, 1) + twin.cosign(text, 1), [log.signer.verifier()], "log.test/one",
                       [w0.witness_key(), twin.witness_key()], 2)


def test_the_log_signature_is_checked_first() -> None:
    log = _Log()
    note, text = log.note()
    other = NoteSigner("log.test/one", Ed25519PrivateKey.generate())
    forged = sign_checkpoint(Checkpoint("log.test/one", 5, bytes([5]) * 32), other)
    with pytest.raises(CheckpointError) as info:
        log.open(forged + log.witnesses[0].cosign(text, 1), 1)
    assert info.value.code == "no_valid_signature"
    assert log.open(note + log.witnesses[0].cosign(text, 1), 1)


@pytest.mark.parametrize("bad", [
    b"", b"\xff\xfe", "no blank line\n", "log.test/one\n5\nAA==\n\n— w x\n", "x\n\n" + "— a AAAAAAA=\n" * 101,
])
def test_malformed_input_raises_only_checkpoint_errors(bad: str | bytes) -> None:
    log = _Log()
    with pytest.raises(CheckpointError):
        log.open(bad, 1)


def test_a_timestamp_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        Cosigner("w", Ed25519PrivateKey.generate()).cosign("a\n", 0)
