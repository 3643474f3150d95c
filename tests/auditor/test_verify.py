"""consumers.auditor: happy and mutated printouts side by side, as data.

Each case builds the text of a printout file from a throwaway PKI and names
what verification must conclude: the set of failed check numbers (empty =
valid) or the one exception type an unreadable input raises.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from consumers.auditor import (
    BadTrustRoot,
    UnreadableInput,
    UnsupportedInput,
    VerificationError,
    load_printout,
    load_trust_root,
    run_verify,
    verify_printout,
)
from linkage import seal
from tests.auditor.conftest import DAY, NOW, World, printout

# --- forging tools: what an attacker can do without the seal key ---------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der64(*certs: x509.Certificate) -> list[str]:
    return [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in certs]


def header(w: World, **changes: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"alg": "ES256", "typ": seal.TYP, "kid": w.sealer.kid, "x5c": _der64(w.seal_cert, w.root)}
    h.update(changes)
    return {k: v for k, v in h.items() if v is not None}


def es256(h: dict[str, Any], body: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A correctly signed token with any header and payload (the signer's own key)."""
    signing_input = f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(body).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def replace_payload(token: str, body: dict[str, Any]) -> str:
    h, _, sig = token.split(".")
    return f"{h}.{_b64(json.dumps(body).encode())}.{sig}"


def flip_signature_bit(token: str) -> str:
    h, p, sig = token.split(".")
    raw = bytearray(seal.b64url_decode(sig))
    raw[10] ^= 0x01
    return f"{h}.{p}.{_b64(bytes(raw))}"


def alg_hs256(w: World) -> str:
    # The classic confusion attack: HMAC keyed with the (public) certificate.
    signing_input = f"{_b64(json.dumps(header(w, alg='HS256')).encode())}.{_b64(json.dumps(printout()).encode())}"
    mac = hmac.new(w.seal_cert.public_bytes(Encoding.PEM), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _break_payload(token: str) -> str:
    """The sealed token with the payload's opening brace changed: its JSON no longer parses."""
    h, p, sig = token.split(".")
    return f"{h}.{_b64(b'[' + seal.b64url_decode(p)[1:])}.{sig}"


def bundle(token: str, **changes: Any) -> str:
    b: dict[str, Any] = {"jws": token, "log_index": 7, "printout_id": str(uuid.UUID(int=42))}
    b.update(changes)
    return json.dumps({k: v for k, v in b.items() if v is not None})


# --- the table -----------------------------------------------------------------------------------

DUPLICATE_ALG = b'{"alg":"ES256","alg":"none"}'
Expect = frozenset[int] | type[VerificationError]
VALID: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Case:
    name: str
    file_text: Callable[[World], str]
    expect: Expect  # failed check numbers (empty: valid), or the exception type
    why: str = ""  # in the detail of the failed check, or in the exception message
    now: dt.datetime = NOW


def _signed(mutate_header: dict[str, Any] | None = None, **payload: Any) -> Callable[[World], str]:
    """A token properly signed by our seal key, with a changed header or payload."""
    return lambda w: es256(header(w, **(mutate_header or {})), printout(**payload), w.seal_key)


CASES = [
    # happy
    Case("bare JWS", lambda w: w.sealer.seal(printout()), VALID),
    Case("bundle", lambda w: bundle(w.sealer.seal(printout())), VALID),
    Case("bare JWS with newline and BOM", lambda w: "\ufeff" + w.sealer.seal(printout()) + "\n", VALID),
    Case("case_ref given", lambda w: w.sealer.seal(printout(case_ref="กค 0702/123")), VALID),
    Case("forged by hand, same key", _signed(), VALID),
    # (1) header
    Case("alg none", lambda w: _signed({"alg": "none"})(w).rsplit(".", 1)[0] + ".", frozenset({2}), "got 'none'"),
    Case("alg HS256", alg_hs256, frozenset({2}), "got 'HS256'"),
    Case("typ JWT", _signed({"typ": "JWT"}), frozenset({2}), "typ must be"),
    Case("crit header", _signed({"crit": ["b64"], "b64": False}), frozenset({2}), "crit"),
    Case("kid missing", _signed({"kid": None}), frozenset({2}), "kid missing"),
    Case("x5c missing", _signed({"x5c": None}), frozenset({1}), "x5c missing"),
    Case("x5c not base64", _signed({"x5c": ["%%%"]}), frozenset({1}), "x5c[0] is not a base64 DER"),
    # (2) chain
    Case("x5c from another CA", lambda w: w.foreign.seal(printout()), frozenset({1}), "must end with the trust root"),
    Case("foreign seal, our root appended",
         lambda w: es256(header(w, kid=w.foreign.kid, x5c=_der64(w.foreign_cert, w.root)), printout(), w.foreign_key),
         frozenset({1}), "signature does not match"),
    Case("x5c chain without the CA", lambda w: es256(header(w, x5c=_der64(w.seal_cert)), printout(), w.seal_key),
         frozenset({1}), "ends with CN=linkage-seal"),
    Case("expired seal cert at issued_at", lambda w: w.expired.seal(printout()), frozenset({1}),
         "printout issued 2026-01-15T02:59:00Z"),
    Case("agency TLS certificate as seal",
         lambda w: es256(header(w, kid=seal.jwk_thumbprint(w.agency_key.public_key()),
                                x5c=_der64(w.agency_cert, w.root)), printout(), w.agency_key),
         # cryptography >= 50 runs the EKU validator before the key usage one: either refusal is right.
         frozenset({1}), "a TLS certificate (serverAuth/clientAuth) cannot seal printouts"),
    # (3) signature
    Case("flipped payload byte",
         lambda w: replace_payload(w.sealer.seal(printout()), printout(purpose="ตรวจสอบสิทธิ")),
         frozenset({2}), "does not match"),
    Case("flipped signature bit", lambda w: flip_signature_bit(w.sealer.seal(printout())), frozenset({2}),
         "does not match"),
    Case("signature truncated", lambda w: w.sealer.seal(printout())[:-4], frozenset({2}), "64 bytes"),
    Case("signed by another key", lambda w: es256(header(w), printout(), w.foreign_key), frozenset({2})),
    # (4) payload
    Case("wrong kid", _signed({"kid": "not-the-thumbprint"}), frozenset({2}), "kid 'not-the-thumbprint'"),
    Case("missing payload field", lambda w: es256(header(w), {k: v for k, v in printout().items() if k != "purpose"},
                                                  w.seal_key), frozenset({2}), "purpose missing"),
    Case("data not an object", _signed(data="x"), frozenset({2}), "data must be an object"),
    Case("officer_id empty", _signed(officer_id=""), frozenset({2}), "officer_id is empty"),
    Case("subject_id a number", _signed(subject_id=1101700230708), frozenset({2}), "subject_id must be a string"),
    Case("issued_at not RFC 3339", _signed(issued_at="15/01/2569"), frozenset({2}), "issued_at is not RFC 3339"),
    Case("issued_at with offset", _signed(issued_at="2026-01-15T10:00:00+07:00"), frozenset({2}), "RFC 3339 UTC"),
    Case("issued in the future", lambda w: w.sealer.seal(printout()), frozenset({2}), "is after now", NOW - DAY),
    Case("printout_id not a UUID", _signed(printout_id="42"), frozenset({2}), "not a UUID"),
    Case("request_hash not sha256", _signed(request_hash="md5:00"), frozenset({2}), "request_hash"),
    # damaged: a part cannot be read, but the rest is a printout's: invalid, checks 1 and 2 say what is wrong
    Case("payload not JSON", lambda w: f"{_b64(json.dumps(header(w)).encode())}.{_b64(b'{nope')}.AAAA",
         frozenset({2}), "payload is not UTF-8 JSON"),
    Case("payload a JSON array", lambda w: f"{_b64(json.dumps(header(w)).encode())}.{_b64(b'[1]')}.AAAA",
         frozenset({2}), "not an object"),
    Case("payload byte changed so that it is no JSON", lambda w: _break_payload(w.sealer.seal(printout())),
         frozenset({2}), "changed after sealing"),
    Case("header not JSON", lambda w: f"{_b64(b'{nope')}.{w.sealer.seal(printout()).split('.', 1)[1]}",
         frozenset({1, 2}), "header is not UTF-8 JSON"),
    Case("signature not base64url", lambda w: w.sealer.seal(printout()) + "!", frozenset({2}),
         "signature is not base64url"),
    Case("empty header, empty payload, bad signature", lambda w: "e30.e30.a", frozenset({1, 2}),
         "signature is not base64url"),
    # unreadable
    Case("truncated token", lambda w: w.sealer.seal(printout()).rsplit(".", 1)[0], UnreadableInput, "compact JWS"),
    Case("not base64", lambda w: "ab!c.def.ghi", UnreadableInput, "compact JWS"),
    Case("duplicate header member", lambda w: f"{_b64(DUPLICATE_ALG)}.{_b64(b'{}')}.AA", UnreadableInput,
         "duplicate member 'alg'"),
    Case("bundle JSON without jws", lambda w: bundle(w.sealer.seal(printout()), jws=None), UnreadableInput,
         'no "jws"'),
    Case("bundle without log_index", lambda w: bundle(w.sealer.seal(printout()), log_index=None), UnreadableInput,
         "log_index"),
    Case("bundle log_index negative", lambda w: bundle(w.sealer.seal(printout()), log_index=-1), UnreadableInput,
         "log_index"),
    Case("bundle jws not a JWS", lambda w: bundle("hello"), UnreadableInput, 'bundle "jws" is not'),
    Case("bundle not JSON", lambda w: "{jws: 1}", UnreadableInput, "not valid JSON"),
    Case("empty file", lambda w: "", UnreadableInput, "compact JWS"),
    Case("PDF to the single-printout reader", lambda w: "%PDF-1.7\n", UnsupportedInput, "this is a PDF"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, world: World, tmp_path: Path) -> None:
    path = tmp_path / "printout"
    path.write_text(case.file_text(world), encoding="utf-8")
    if isinstance(case.expect, frozenset):
        report = verify_printout(load_printout(path), world.root, now=case.now)
        assert {c.number for c in report.failed} == case.expect, report.render()
        assert report.valid is (case.expect == VALID)
        assert (report.printout is not None) is report.valid
        assert [c.number for c in report.checks] == [1, 2, 3, 4, 5, 6, 7, 8]
        assert case.why in " ".join(c.detail for c in report.failed), report.render()
    else:
        with pytest.raises(case.expect) as info:
            verify_printout(load_printout(path), world.root, now=case.now)
        assert type(info.value) is case.expect and case.why in info.value.message


UNREADABLE_TOKENS = [
    "",
    "eyJ9",
    "a.b",
    "a.b.c.d",
    ".e30.",
    "e30..",
    "e30.e30!.",
    "e30=.e30.",  # padding is not base64url
    "bnVsbA.e30.",  # header `null`
    "e30.WzFd.",  # payload `[1]`
    "_w.e30.",  # header not UTF-8
]


@pytest.mark.parametrize("token", UNREADABLE_TOKENS)
def test_unreadable_token(token: str, world: World) -> None:
    with pytest.raises(UnreadableInput):
        verify_printout(token, world.root, now=NOW)


def test_readable_but_empty_token_is_a_report(world: World) -> None:
    report = verify_printout("e30.e30.", world.root, now=NOW)  # {}.{}.
    assert [c.ok for c in report.checks] == [False, False, None, None, None, None, None, None]


def test_valid_report_renders_and_serialises(world: World) -> None:
    report = verify_printout(world.sealer.seal(printout()), world.root, now=NOW)
    assert report.printout == printout()
    text = report.render()
    assert text.splitlines()[0].startswith("[1] ✓ certificate chain")
    assert "VALID: printout 00000000-0000-0000-0000-00000000002a (ข้าม / skipped: 3, 4, 5, 6, 7, 8)" in text
    assert "[4] - log inclusion: skipped: a bare JWS carries no log proof" in text
    as_json = json.loads(report.to_json())
    assert as_json["valid"] is True and [c["ok"] for c in as_json["checks"]] == [True, True] + [None] * 6
    assert as_json["skipped"] == [3, 4, 5, 6, 7, 8] and as_json["failed"] == []


def test_skipped_checks_are_shown(world: World) -> None:
    report = verify_printout(es256(header(world, alg="none", x5c=None), printout(), world.seal_key), world.root,
                             now=NOW)
    assert [c.ok for c in report.checks] == [False, False, None, None, None, None, None, None]
    assert "[3] - officer's signature: skipped: not a PDF (a jws)" in report.render()


@pytest.mark.parametrize(("magic", "why"), [
    (b"\x89PNG\r\n\x1a\n", "not a readable picture"),
    (b"\xff\xd8\xff\xe0", "not a readable picture"),
    (b"%PDF-1.7\n%\xe2\xe3", "not a readable PDF"),
])
def test_damaged_paper_forms_are_unreadable(magic: bytes, why: str, world: World, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "paper"
    path.write_bytes(magic + b"\x00" * 64)
    with pytest.raises(UnsupportedInput, match="load_input"):
        load_printout(path)  # one printout only: a paper form goes to load_input
    assert run_verify(path, world.ca_pem) == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err


def test_now_must_be_aware(world: World) -> None:
    with pytest.raises(ValueError):
        verify_printout(world.sealer.seal(printout()), world.root, now=dt.datetime(2026, 1, 15))


def test_report_is_frozen(world: World) -> None:
    report = verify_printout(world.sealer.seal(printout()), world.root, now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.valid = False  # type: ignore[misc]


def test_load_trust_root(world: World, tmp_path: Path) -> None:
    (tmp_path / "ca.der").write_bytes(world.root.public_bytes(Encoding.DER))
    assert load_trust_root(tmp_path / "ca.der") == load_trust_root(world.ca_pem) == world.root
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    for bad in (tmp_path / "missing.pem", tmp_path / "junk.pem", tmp_path):
        with pytest.raises(BadTrustRoot):
            load_trust_root(bad)


# --- the command's body --------------------------------------------------------------------------

def _run(world: World, tmp_path: Path, text: str, *, ca: Path | None = None, as_json: bool = False,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "printout.json"
    path.write_text(text, encoding="utf-8")
    code = run_verify(path, ca or world.ca_pem, as_json=as_json)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_verify_valid(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(world, tmp_path, bundle(world.sealer.seal(printout())), capsys=capsys)
    assert (code, err) == (0, "")
    assert "[2] ✓ hub's seal" in out and "ถูกต้อง / VALID" in out


def test_run_verify_invalid_names_each_failed_check(world: World, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    token = es256(header(world, kid="wrong"), printout(purpose="x"), world.foreign_key)
    code, out, err = _run(world, tmp_path, token, capsys=capsys)
    assert (code, err) == (1, "")
    assert "[2] ✗ hub's seal: the signature does not match" in out and "kid 'wrong'" in out
    assert "INVALID: failed check(s) 2" in out


def test_run_verify_json(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(world, tmp_path, flip_signature_bit(world.sealer.seal(printout())), as_json=True,
                        capsys=capsys)
    report = json.loads(out)
    assert code == 1 and report["valid"] is False and report["printout"] is None
    assert [c["number"] for c in report["checks"] if c["ok"] is False] == [2] == report["failed"]


@pytest.mark.parametrize("as_json", [False, True])
def test_run_verify_unreadable(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               as_json: bool) -> None:
    code, out, err = _run(world, tmp_path, '{"log_index": 1}', as_json=as_json, capsys=capsys)
    assert code == 2 and 'no "jws" string' in err
    if as_json:
        assert json.loads(out)["error"] == "unreadable_input"


def test_run_verify_missing_ca(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(world, tmp_path, world.sealer.seal(printout()), ca=tmp_path / "nope.pem", capsys=capsys)
    assert code == 2 and "nope.pem" in err and "CA certificate" in err


def test_run_verify_missing_printout(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_verify(tmp_path / "absent.jws", world.ca_pem) == 2
    assert "absent.jws: cannot read" in capsys.readouterr().err


_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("form", ["jws", "bundle"])
def test_any_change_to_a_sealed_printout_is_invalid_not_unreadable(form: str, world: World, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A character of the sealed JWS changed, anywhere, into another base64url character, a character outside
    base64url, or a byte that is not UTF-8: exit 1 (invalid) naming a failed check, never 2 (unreadable)."""
    token = world.sealer.seal(printout())
    path = tmp_path / "printout"
    for at in range(0, len(token), 3):
        if token[at] == ".":
            continue
        other = _BASE64URL[(_BASE64URL.index(token[at]) + 17) % 64]
        for replacement in (other.encode(), b"!", "ก".encode(), b"\xff"):
            changed = token[:at].encode() + replacement + token[at + 1:].encode()
            if form == "bundle":
                changed = bundle("JWS").encode().replace(b"JWS", changed)
            path.write_bytes(changed)
            code = run_verify(path, world.ca_pem)
            out, err = capsys.readouterr()
            assert code == 1 and err == "", (at, replacement, out, err)
            # A change inside x5c leaves no certificate to check the seal with: check 1 fails, 2 is skipped.
            assert "INVALID: failed check(s) 1" in out or "INVALID: failed check(s) 2" in out, (at, out)


def test_run_verify_several_files(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {"valid.json": bundle(world.sealer.seal(printout())),
             "changed.jws": flip_signature_bit(world.sealer.seal(printout())),
             "notes.txt": "hello"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    paths = [tmp_path / name for name in files]
    # One line per file, the exit status of the worst.
    assert run_verify(paths, world.ca_pem) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and [line.split(": ", 1)[0] for line in lines] == [str(p) for p in paths]
    assert "VALID: printout" in lines[0] and "INVALID: failed check(s) 2" in lines[1]
    assert "cannot check" in lines[2]
    assert run_verify(paths[:2], world.ca_pem) == 1
    capsys.readouterr()
    # --json: a list, each report naming its file.
    assert run_verify(paths, world.ca_pem, as_json=True) == 2
    reports = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in reports] == [str(p) for p in paths]
    assert [r["valid"] for r in reports] == [True, False, False] and reports[2]["error"] == "unreadable_input"


@pytest.mark.parametrize("text", ["hello", "", "{}", "[1, 2]", "a.b.c"])
def test_an_unknown_file_is_told_every_kind_that_can_be_checked(text: str, world: World, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(world, tmp_path, text, capsys=capsys)
    assert code == 2
    for kind in ("bundle", "compact JWS", "PDF", "QR summary", "PNG", "JPEG"):
        assert kind in err, err
