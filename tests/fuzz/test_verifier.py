"""Property-based fuzzing of every parser in the verifier: only its own error family may escape.

Inputs are random bytes and mutations of real, valid inputs the live hub and counter made
(tests/fuzz/corpus.py): bit flips, truncation, base64 segments swapped, JSON fields of
another type, contents signed again with the real keys so that the checks behind the
signature see them too. ``linkage verify`` itself, on a handful of damaged files, exits 1
or 2 with a message and no traceback.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from consumers.auditor.bundle import parse_input
from consumers.auditor.dispatch import verify_input
from consumers.auditor.summary import verify_summary
from linkage import checkpoint as cp
from linkage.seal import b64url_decode, b64url_encode
from tests.fuzz.corpus import DEEP_JSON, Corpus, Target, targets
from tests.fuzz.surface import Surface

EXAMPLES = {"audit:file": 150, "audit:paper": 25, "checkpoint": 150, "summary": 150, "papercode": 150, "keys": 100,
            "state": 100}
_SETTINGS = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.filter_too_much, HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def corpus(surface: Surface) -> Corpus:
    return Corpus.build(surface)


def _target(corpus: Corpus, name: str) -> Target:
    return next(t for t in targets(corpus) if t.name == name)


def test_the_corpus_is_valid(corpus: Corpus) -> None:
    """Mutations start from inputs that verify: a mutant's refusal is the mutation's doing."""
    for doc in corpus.docs:
        assert verify_input(parse_input(json.dumps(doc).encode()), corpus.trust).valid
    assert verify_input(parse_input(corpus.jws.encode()), corpus.trust).valid
    assert verify_input(parse_input(corpus.summary.encode()), corpus.trust).valid
    assert verify_input(parse_input(corpus.pdf), corpus.trust).valid
    assert verify_input(parse_input(corpus.picture), corpus.trust).valid
    assert verify_input(parse_input(corpus.paper_picture), corpus.trust).valid
    assert verify_input(parse_input("\n".join(corpus.paper_parts).encode()), corpus.trust).valid
    assert verify_summary(corpus.summary, corpus.summary_trust).documents
    signer = corpus.note_signer
    assert cp.open_checkpoint(corpus.note, [signer.verifier()], signer.name).size >= 3


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_parsers_raise_only_their_own_errors(corpus: Corpus, name: str) -> None:
    target = _target(corpus, name)

    @settings(_SETTINGS, max_examples=EXAMPLES[name])
    @given(target.inputs)
    def run(value: object) -> None:
        _, problem = target.run(value)
        assert problem is None, f"{name}: {value!r:.300}: {problem}"

    run()


def test_deeply_nested_json_is_unreadable_input(corpus: Corpus) -> None:
    """Nesting past Python's recursion limit makes json.loads raise RecursionError, which is no ValueError."""
    run = _target(corpus, "audit:file").run
    header = corpus.jws.split(".")[0]
    deep_b64 = base64.urlsafe_b64encode(DEEP_JSON.encode()).decode().rstrip("=")
    for raw in (DEEP_JSON.encode(), b'{"jws": ' + DEEP_JSON.encode() + b"}"):
        assert run(raw) == ("UnreadableInput", None)
    # A printout's header with such a payload is a damaged printout: invalid, check 2 says the payload is unreadable.
    for raw in (f"{header}.{deep_b64}.AAAA".encode(), corpus.sealed(DEEP_JSON).encode()):
        assert run(raw) == ("invalid", None)
    # The leaf is examined inside check 4: an invalid report, not an error.
    assert run(json.dumps({**corpus.bundle, "log_leaf": DEEP_JSON}).encode()) == ("invalid", None)
    assert _target(corpus, "summary").run(corpus.summary_signed(DEEP_JSON, "{}")) == ("UnreadableSummary", None)
    assert _target(corpus, "keys").run(("log", DEEP_JSON.encode())) == ("KeySetError", None)
    assert _target(corpus, "keys").run(("seal", DEEP_JSON.encode())) == ("KeySetError", None)
    assert _target(corpus, "state").run(DEEP_JSON.encode()) == ("BadState", None)
    assert _target(corpus, "checkpoint").run(("note", corpus.note_signed(DEEP_JSON + "\n") or ""))[1] is None


def _with_cert(jws: str, index: int, edit: Callable[[bytearray], None]) -> bytes:
    """``jws`` with the DER of its ``x5c[index]`` changed by ``edit`` (payload and signature as they were)."""
    header_b64, payload, signature = jws.split(".")
    header = json.loads(b64url_decode(header_b64))
    der = bytearray(base64.b64decode(header["x5c"][index]))
    edit(der)
    header["x5c"][index] = base64.b64encode(bytes(der)).decode()
    return f"{b64url_encode(json.dumps(header).encode())}.{payload}.{signature}".encode()


def _replace(old: bytes, new: bytes, *, last: bool = False) -> Callable[[bytearray], None]:
    def edit(der: bytearray) -> None:
        at = der.rfind(old) if last else der.find(old)
        assert at >= 0 and len(new) == len(old), old
        der[at:at + len(old)] = new

    return edit


def _negative_serial(der: bytearray) -> None:
    """The serial number's first byte with its sign bit set: a negative serial, which RFC 5280 forbids."""
    at = der.find(b"\xa0\x03\x02\x01\x02\x02")  # [0] version v3, then the serial's INTEGER tag
    assert at >= 0
    der[at + 7] |= 0x80


P256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"  # OID 1.2.840.10045.3.1.7
POINT = b"\x03\x42\x00\x04"  # BIT STRING of an uncompressed P-256 point


@pytest.mark.parametrize(("index", "edit"), [
    (0, _replace(P256, P256[:-1] + b"\x2d")),  # the seal key on another curve: UnsupportedAlgorithm
    (0, _replace(POINT, POINT[:-1] + b"\x00")),  # no longer an uncompressed point: ValueError "Invalid key"
    (-1, _replace(b"\x13\x02TH", b"\x02\x02TH", last=True)),  # an INTEGER in the CA's name: ValueError on .subject
    (0, _negative_serial),  # cryptography warns (CryptographyDeprecationWarning) instead of raising
], ids=["curve", "point", "subject", "negative-serial"])
def test_damaged_certificate_is_an_invalid_report(corpus: Corpus, index: int,
                                                  edit: Callable[[bytearray], None]) -> None:
    """Found by scripts/fuzz.py: cryptography parses a certificate's DER lazily, so a damaged x5c certificate
    loaded, then raised ValueError or UnsupportedAlgorithm from inside checks 1 and 2."""
    raw = _with_cert(corpus.jws, index, edit)
    assert _target(corpus, "audit:file").run(raw) == ("invalid", None)
    report = verify_input(parse_input(raw), corpus.trust)
    assert "is not a base64 DER certificate" in report.render()


def _damaged(corpus: Corpus) -> dict[str, bytes]:
    """One file per form, each damaged so that it cannot be valid."""
    bundle = dict(corpus.bundle)
    flipped = bytearray(base64.b64decode(bundle["inclusion_proof"]["hashes"][0]))
    flipped[0] ^= 1
    header, payload, signature = corpus.jws.split(".")
    middle = len(signature) // 2
    bad_signature = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    pdf = bytearray(corpus.pdf)
    pdf[len(pdf) // 3] ^= 0x20
    summary = corpus.summary.split(".")
    return {
        "truncated.json": json.dumps(bundle).encode()[: len(json.dumps(bundle)) // 2],
        "swapped.json": json.dumps({**bundle, "jws": f"{payload}.{header}.{signature}"}).encode(),
        "leaf-number.json": json.dumps({**bundle, "log_leaf": 7}).encode(),
        "proof-flipped.json": json.dumps({**bundle, "inclusion_proof": {
            **bundle["inclusion_proof"], "hashes": [base64.b64encode(bytes(flipped)).decode(),
                                                    *bundle["inclusion_proof"]["hashes"][1:]]}}).encode(),
        "bad-signature.jws": f"{header}.{payload}.{bad_signature}".encode(),
        "deep.json": DEEP_JSON.encode(),
        "truncated.pdf": corpus.pdf[: 2 * len(corpus.pdf) // 3],
        "flipped.pdf": bytes(pdf),
        "summary.txt": f"{summary[1]}.{summary[0]}.{summary[2]}".encode(),
        "truncated.png": corpus.picture[: len(corpus.picture) // 2],
        "noise.bin": bytes(range(256)) * 3,
    }


def test_linkage_verify_exits_1_or_2_with_a_message(corpus: Corpus, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    runs = {}
    for name, data in _damaged(corpus).items():
        path = tmp_path / name
        path.write_bytes(data)
        runs[name] = subprocess.Popen(
            [sys.executable, "-m", "linkage.cli", "verify", str(path), "--home", str(corpus.home.root), "--offline",
             "--state", str(tmp_path / "state.json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (1, 2), (name, proc.returncode, out, err)
        assert "Traceback" not in out + err, (name, err)
        assert (out + err).strip(), name
    assert not (tmp_path / "state.json").exists()  # nothing invalid is remembered
