"""Signed checkpoints: happy and mutated notes side by side, each with the error code it must raise."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import (
    BadKey,
    Checkpoint,
    CheckpointError,
    MalformedCheckpoint,
    MalformedNote,
    NoteSigner,
    open_checkpoint,
    open_note,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
)
from linkage.merkle import leaf_hash, root


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


ORIGIN = "audit.linkage.go.th/log"
LOG = NoteSigner(ORIGIN, _key("log key"))
WITNESS = NoteSigner("witness.example/w1", _key("witness key"))
IMPOSTOR = NoteSigner(ORIGIN, _key("impostor key"))  # same name, another key: another key ID
ROOT = root([leaf_hash(b"printout %d" % i) for i in range(5)])
CP = Checkpoint(ORIGIN, 5, ROOT)
NOTE = sign_checkpoint(CP, LOG)
ROOT_B64 = base64.b64encode(ROOT).decode()
SHORT_ROOT_B64 = base64.b64encode(ROOT[:31]).decode()
TRUSTED = [LOG.verifier()]


def _signed(text: str, *signers: NoteSigner) -> str:
    return sign_note(text, list(signers or (LOG,)))


def _sig_line(note: str) -> str:
    return note[note.rindex("\n\n") + 2 :]


CP_EXT = Checkpoint(ORIGIN, 5, ROOT, ("ext one",))
CP_EMPTY = Checkpoint(ORIGIN, 0, root([]))

# (id, note, the checkpoint it opens to or the code of the error it must raise)
CASES: list[tuple[str, Callable[[], str | bytes], Checkpoint | str]] = [
    ("happy", lambda: NOTE, CP),
    ("happy-with-extension", lambda: sign_checkpoint(CP_EXT, LOG), CP_EXT),
    ("happy-empty-tree", lambda: sign_checkpoint(CP_EMPTY, LOG), CP_EMPTY),
    ("happy-plus-unknown-signature", lambda: _signed(CP.text(), LOG, WITNESS), CP),
    ("happy-unknown-signature-first", lambda: _signed(CP.text(), WITNESS, LOG), CP),
    ("happy-repeated-signature", lambda: NOTE + _sig_line(NOTE), CP),
    ("happy-as-bytes", lambda: NOTE.encode(), CP),
    ("tampered-size", lambda: NOTE.replace("\n5\n", "\n6\n", 1), "invalid_signature"),
    ("tampered-root", lambda: NOTE.replace(ROOT_B64, base64.b64encode(bytes(32)).decode()), "invalid_signature"),
    ("tampered-origin", lambda: NOTE.replace(ORIGIN, ORIGIN + "2", 1), "invalid_signature"),
    ("truncated-signature", lambda: NOTE.replace(_sig_line(NOTE), _truncated_sig(NOTE)), "invalid_signature"),
    ("wrong-origin", lambda: sign_checkpoint(Checkpoint("other.example/log", 5, ROOT), LOG), "unknown_origin"),
    ("signed-by-another-key", lambda: sign_checkpoint(CP, WITNESS), "no_valid_signature"),
    ("signed-by-same-name-other-key", lambda: sign_checkpoint(CP, IMPOSTOR), "no_valid_signature"),
    ("missing-blank-line", lambda: NOTE.replace("\n\n", "\n"), "malformed_note"),
    ("no-signature-lines", lambda: CP.text() + "\n", "malformed_note"),
    ("no-trailing-newline", lambda: NOTE[:-1], "malformed_note"),
    ("bad-base64-signature", lambda: NOTE.replace(_sig_line(NOTE), f"— {ORIGIN} not*base64!\n"), "malformed_note"),
    ("signature-too-short", lambda: NOTE.replace(_sig_line(NOTE), f"— {ORIGIN} AAAA\n"), "malformed_note"),
    ("ascii-dashes", lambda: NOTE.replace("\u2014 ", "-- "), "malformed_note"),
    ("name-with-space", lambda: NOTE.replace(f"— {ORIGIN} ", "— bad name "), "malformed_note"),
    ("line-after-signatures", lambda: NOTE + "Unexpected line.\n", "malformed_note"),
    ("crlf-line-endings", lambda: NOTE.replace("\n", "\r\n"), "malformed_note"),
    ("control-character", lambda: "\x01" + NOTE, "malformed_note"),
    ("invalid-utf8", lambda: b"\xff" + NOTE.encode(), "malformed_note"),
    ("empty-note", lambda: "", "malformed_note"),
    ("too-many-signatures", lambda: NOTE + _sig_line(_signed(CP.text(), WITNESS)) * 100, "malformed_note"),
    ("root-not-base64", lambda: _signed(f"{ORIGIN}\n5\nnot*base64\n"), "malformed_checkpoint"),
    ("root-31-bytes", lambda: _signed(f"{ORIGIN}\n5\n{SHORT_ROOT_B64}\n"), "malformed_checkpoint"),
    ("root-not-canonical-base64", lambda: _signed(f"{ORIGIN}\n5\n{_noncanonical(ROOT_B64)}\n"), "malformed_checkpoint"),
    ("root-without-padding", lambda: _signed(f"{ORIGIN}\n5\n{ROOT_B64.rstrip('=')}\n"), "malformed_checkpoint"),
    ("size-leading-zero", lambda: _signed(f"{ORIGIN}\n05\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("size-with-plus", lambda: _signed(f"{ORIGIN}\n+5\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("size-with-space", lambda: _signed(f"{ORIGIN}\n 5\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("size-thai-digit", lambda: _signed(f"{ORIGIN}\n\u0e55\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("size-negative", lambda: _signed(f"{ORIGIN}\n-1\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("size-beyond-uint64", lambda: _signed(f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("only-two-lines", lambda: _signed(f"{ORIGIN}\n5\n"), "malformed_checkpoint"),
    ("empty-origin", lambda: _signed(f"\n5\n{ROOT_B64}\n"), "malformed_checkpoint"),
    ("empty-extension-line", lambda: _signed(f"{ORIGIN}\n5\n{ROOT_B64}\n\next\n"), "malformed_checkpoint"),
]


def _truncated_sig(note: str) -> str:
    blob = base64.b64decode(_sig_line(note).split(" ")[-1])
    return f"— {ORIGIN} {base64.b64encode(blob[:-1]).decode()}\n"


def _noncanonical(b64: str) -> str:
    # The last character before '=' carries 4 unused bits; setting one keeps the bytes but not the text.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = b64.rstrip("=")[-1]
    return b64.rstrip("=")[:-1] + alphabet[alphabet.index(last) | 1] + "="


@pytest.mark.parametrize(("note", "want"), [pytest.param(n, w, id=i) for i, n, w in CASES])
def test_open_checkpoint(note: Callable[[], str | bytes], want: Checkpoint | str) -> None:
    if isinstance(want, Checkpoint):
        assert open_checkpoint(note(), TRUSTED, ORIGIN) == want
        return
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(note(), TRUSTED, ORIGIN)
    assert caught.value.code == want, caught.value
    assert str(caught.value)


def test_round_trip_keeps_every_field() -> None:
    cp = Checkpoint(ORIGIN, 1234567, ROOT, ("a", "b c"))
    assert open_checkpoint(sign_checkpoint(cp, LOG), TRUSTED, ORIGIN) == cp
    assert NOTE == f"{ORIGIN}\n5\n{ROOT_B64}\n\n" + _sig_line(NOTE)
    assert _sig_line(NOTE).startswith(f"\u2014 {ORIGIN} ")


def test_every_single_character_change_is_rejected_with_a_checkpoint_error() -> None:
    for i in range(len(NOTE)):
        for replacement in ("A", "\n", "\u2014", "\x00"):
            if NOTE[i] == replacement:
                continue
            with pytest.raises(CheckpointError):
                open_checkpoint(NOTE[:i] + replacement + NOTE[i + 1 :], TRUSTED, ORIGIN)


def test_verifier_key_round_trip_and_format() -> None:
    vkey = LOG.vkey()
    name, key_id, key = vkey.split("+", 2)
    assert name == ORIGIN
    assert (
        bytes.fromhex(key_id)
        == LOG.key_id
        == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + base64.b64decode(key)[1:]).digest()[:4]
    )
    assert base64.b64decode(key)[0] == 0x01
    verifier = parse_verifier_key(vkey)
    assert verifier == LOG.verifier()
    assert verifier.vkey() == vkey


def test_manglings_of_a_verifier_key_are_bad_keys() -> None:
    vkey = LOG.vkey()
    for i in range(len(vkey)):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(BadKey):
                    parse_verifier_key(vkey[i:j])
        with pytest.raises(BadKey):
            parse_verifier_key(vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :])


def test_ambiguous_trusted_keys_are_refused_when_used() -> None:
    clash = parse_verifier_key(LOG.vkey())
    other = NoteSigner(ORIGIN, _key("another key")).verifier()
    forged = type(clash)(ORIGIN, LOG.key_id, other.public_key)
    with pytest.raises(BadKey):
        open_checkpoint(NOTE, [clash, forged], ORIGIN)
    assert open_checkpoint(NOTE, [clash, LOG.verifier()], ORIGIN) == CP  # the same key twice is fine


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Checkpoint("", 1, ROOT), id="empty-origin"),
        pytest.param(lambda: Checkpoint("a\nb", 1, ROOT), id="origin-with-newline"),
        pytest.param(lambda: Checkpoint(ORIGIN, -1, ROOT), id="negative-size"),
        pytest.param(lambda: Checkpoint(ORIGIN, 2**64, ROOT), id="size-beyond-uint64"),
        pytest.param(lambda: Checkpoint(ORIGIN, 1, ROOT[:31]), id="root-31-bytes"),
        pytest.param(lambda: Checkpoint(ORIGIN, 1, ROOT, ("",)), id="empty-extension"),
        pytest.param(lambda: Checkpoint(ORIGIN, 1, ROOT, ("x\ny",)), id="extension-with-newline"),
    ],
)
def test_checkpoint_refuses_values_it_cannot_carry(make: Callable[[], Checkpoint]) -> None:
    with pytest.raises(MalformedCheckpoint):
        make()


def test_signer_name_and_note_text_are_checked() -> None:
    for name in ("", "a b", "a+b", "a\u00a0b"):
        with pytest.raises(BadKey):
            NoteSigner(name, _key("k"))
    for text in ("", "no newline", "bad\x07char\n"):
        with pytest.raises(MalformedNote):
            sign_note(text, [LOG])
    with pytest.raises(MalformedNote):
        sign_note("text\n", [])
    assert repr(LOG) == f"NoteSigner(name='{ORIGIN}')"  # the private key stays out of logs


# The example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)


def test_matches_the_go_reference_byte_for_byte() -> None:
    signer = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(GO_SEED))
    assert signer.vkey() == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_TEXT + "\n" + GO_SIG
    opened = open_note(GO_TEXT + "\n" + GO_SIG + GO_ENOCH_SIG, [parse_verifier_key(GO_VKEY)])
    assert opened.text == GO_TEXT
    assert [v.name for v in opened.signed_by] == ["PeterNeumann"]


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_SIG,
        b"\xff" + (GO_TEXT + "\n" + GO_SIG).encode(),
        GO_TEXT + "\n" + GO_SIG.replace("PeterNeumann", "Bad Name")[:-1],
        GO_TEXT + "\n" + GO_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + GO_SIG * 101,
    ],
)
def test_go_reference_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(MalformedNote):
        open_note(note, [parse_verifier_key(GO_VKEY)])


def test_go_reference_invalid_signature() -> None:
    with pytest.raises(CheckpointError) as caught:
        open_note(GO_TEXT + "\n" + GO_SIG[:60] + "ABCD" + GO_SIG[60:], [parse_verifier_key(GO_VKEY)])
    assert caught.value.code == "invalid_signature"
