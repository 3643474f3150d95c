"""The QR summary: made and verified with a throwaway PKI; every malformed or mutated input fails with our errors."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image

from consumers.auditor.summary import (
    BadSignature,
    BadSummaryTrust,
    SignerNotValid,
    SummaryError,
    SummaryTrust,
    UnknownSigner,
    UnreadableSummary,
    digest_prefix,
    make_summary,
    verify_summary,
)
from consumers.counter import paper
from linkage import pki
from linkage.seal import Sealer, b64url_decode, b64url_encode, canonical_json, printout_digest

NOW = dt.datetime(2026, 11, 25, 7, 30, tzinfo=dt.UTC)
SUBJECT = "3540478406304"


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = pki.create_ca(root / "ca", now=NOW - dt.timedelta(days=1))
        self.agency = pki.issue(self.ca, "phrae-municipality", pki.Role.CLIENT, root / "clients",
                                now=NOW - dt.timedelta(days=1))
        self.other = pki.issue(self.ca, "nan-municipality", pki.Role.CLIENT, root / "clients",
                               now=NOW - dt.timedelta(days=1))
        seal = pki.issue(self.ca, "hub-seal", pki.Role.SEAL, root / "seal", now=NOW - dt.timedelta(days=1))
        self.sealer = Sealer.from_files(seal.cert, seal.key, self.ca.cert)

    def cert(self, paths: pki.CertPaths) -> x509.Certificate:
        return x509.load_pem_x509_certificate(paths.cert.read_bytes())

    def trust(self) -> SummaryTrust:
        return SummaryTrust.load(self.ca.cert, [self.agency.cert, self.other.cert])

    def printout(self, doc_type: str, n: int, subject: str = SUBJECT) -> str:
        return self.sealer.seal({
            "printout_id": f"00000000-0000-4000-8000-00000000000{n}", "doc_type": doc_type, "subject_id": subject,
            "data": {"first_name_th": "พิชญา"}, "issuer": "TH/GOV/DOPA/linkage-hub", "provider": "dopa",
            "agency": "phrae-municipality", "officer_id": "3540723298335", "purpose": "ขึ้นทะเบียนผู้สูงอายุ",
            "case_ref": "PHR-2569-0001", "issued_at": "2026-11-25T07:29:00.000000Z",
            "request_hash": "sha256:" + "0" * 64})

    def summary(self, printouts: list[str], key: ec.EllipticCurvePrivateKey | None = None) -> str:
        return make_summary(printouts, "นางสาวพิชญา เจริญคำ", key or pki.load_private_key(self.agency.key),
                            self.cert(self.agency), at=NOW, officer_id="3540723298335", case_ref="PHR-2569-0001")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("paper-pki"))


@pytest.fixture(scope="module")
def printouts(keys: Pki) -> list[str]:
    return [keys.printout("dopa.person", 1), keys.printout("dopa.house", 2), keys.printout("edu.degree", 3)]


def test_summary_round_trip(keys: Pki, printouts: list[str]) -> None:
    text = keys.summary(printouts)
    report = verify_summary(text, keys.trust())
    assert report.subject_id == SUBJECT and report.subject_name == "นางสาวพิชญา เจริญคำ"
    assert report.printed_at == NOW and report.officer_id == "3540723298335" and report.case_ref == "PHR-2569-0001"
    assert [d.doc_type for d in report.documents] == ["dopa.person", "dopa.house", "edu.degree"]
    assert report.signer == "phrae-municipality"
    for jws, doc in zip(printouts, report.documents, strict=True):
        assert doc.digest == b64url_encode(bytes.fromhex(printout_digest(jws))[:16])
        assert doc.matches(jws) and report.matches(jws)
    assert not report.matches(keys.printout("dopa.person", 4))
    assert [s[:3] for s in report.steps] == ["[1]", "[2]", "[3]", "[4]", "[5]"]
    assert "VALID" in report.render()


def test_summary_fits_a_reliable_qr_code(keys: Pki, printouts: list[str], tmp_path: Path) -> None:
    text = keys.summary(printouts)
    # A three-document case stays under ~800 characters: QR version <= 23 at error correction M.
    assert len(text) < 800, len(text)
    assert paper.qr_code(text).version <= 23
    # The PNG helper decodes back to the same text, at a modest 3 pixels per module.
    png = tmp_path / "qr.png"
    png.write_bytes(paper.qr_png(text, scale=3))
    [found] = zxingcpp.read_barcodes(Image.open(png))
    assert found.text == text


def _resign(keys: Pki, header: dict[str, object], payload: dict[str, object]) -> str:
    """A summary with an arbitrary header/payload, validly signed by the trusted agency key."""
    key = pki.load_private_key(keys.agency.key)
    signing_input = b64url_encode(canonical_json(header)) + "." + b64url_encode(canonical_json(payload))
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _parts(text: str) -> tuple[dict[str, object], dict[str, object]]:
    h, p, _ = text.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


@pytest.mark.parametrize("mutation, error", [
    ("changed_digest", BadSignature),
    ("changed_name", BadSignature),
    ("other_key", UnknownSigner),
    ("other_key_same_x5t", BadSignature),
    ("truncated", UnreadableSummary),
    ("truncated_signature", UnreadableSummary),
    ("garbage", UnreadableSummary),
    ("empty", UnreadableSummary),
    ("two_parts", UnreadableSummary),
    ("not_json", UnreadableSummary),
    ("payload_array", UnreadableSummary),
    ("alg_none", UnreadableSummary),
    ("alg_hs256", UnreadableSummary),
    ("wrong_typ", UnreadableSummary),
    ("crit", UnreadableSummary),
    ("no_x5t", UnreadableSummary),
    ("duplicate_key", UnreadableSummary),
    ("signed_missing_docs", UnreadableSummary),
    ("signed_short_digest", UnreadableSummary),
    ("signed_bad_time", UnreadableSummary),
    ("signed_before_cert", SignerNotValid),
    ("deep_nesting", UnreadableSummary),
    ("non_ascii", UnreadableSummary),
])
def test_mutated_summaries_fail_with_our_errors(keys: Pki, printouts: list[str], mutation: str,
                                                error: type[SummaryError]) -> None:
    good = keys.summary(printouts)
    header, payload = _parts(good)
    h64, p64, s64 = good.split(".")
    docs = payload["docs"]
    assert isinstance(docs, list)
    if mutation == "changed_digest":
        docs[0][2] = digest_prefix(keys.printout("dopa.person", 7))
        bad = f"{h64}.{b64url_encode(canonical_json(payload))}.{s64}"
    elif mutation == "changed_name":
        payload["name"] = "นายคนอื่น ปลอมชื่อ"
        bad = f"{h64}.{b64url_encode(canonical_json(payload))}.{s64}"
    elif mutation == "other_key":
        bad = make_summary(printouts, "นางสาวพิชญา เจริญคำ", *_foreign_signer(), at=NOW)
    elif mutation == "other_key_same_x5t":
        other = make_summary(printouts, "นางสาวพิชญา เจริญคำ", pki.load_private_key(keys.other.key),
                             keys.cert(keys.other), at=NOW)
        bad = f"{h64}.{p64}.{other.split('.')[2]}"
    elif mutation == "truncated":
        bad = good[: len(good) // 2]
    elif mutation == "truncated_signature":
        bad = good[:-10]
    elif mutation == "garbage":
        bad = "\x00\xff not a summary at all \u0e01"
    elif mutation == "empty":
        bad = ""
    elif mutation == "two_parts":
        bad = f"{h64}.{p64}"
    elif mutation == "not_json":
        bad = f"{h64}.{b64url_encode(b'not json')}.{s64}"
    elif mutation == "payload_array":
        bad = f"{h64}.{b64url_encode(b'[1,2]')}.{s64}"
    elif mutation == "alg_none":
        bad = f"{b64url_encode(canonical_json({**header, 'alg': 'none'}))}.{p64}."
    elif mutation == "alg_hs256":
        bad = _resign(keys, {**header, "alg": "HS256"}, payload)
    elif mutation == "wrong_typ":
        bad = _resign(keys, {**header, "typ": "JWT"}, payload)
    elif mutation == "crit":
        bad = _resign(keys, {**header, "crit": ["exp"]}, payload)
    elif mutation == "no_x5t":
        bad = _resign(keys, {k: v for k, v in header.items() if k != "x5t#S256"}, payload)
    elif mutation == "duplicate_key":
        raw = canonical_json(payload)[:-1] + b',"sub":"1111111111111"}'
        bad = f"{h64}.{b64url_encode(raw)}.{s64}"
    elif mutation == "signed_missing_docs":
        bad = _resign(keys, header, {k: v for k, v in payload.items() if k != "docs"})
    elif mutation == "signed_short_digest":
        docs[0][2] = docs[0][2][:10]
        bad = _resign(keys, header, payload)
    elif mutation == "signed_bad_time":
        bad = _resign(keys, header, {**payload, "at": "yesterday"})
    elif mutation == "signed_before_cert":
        bad = _resign(keys, header, {**payload, "at": "2001-01-01T00:00:00Z"})
    elif mutation == "deep_nesting":
        bad = f"{h64}.{b64url_encode(b'[' * 2500)}.{s64}"
    elif mutation == "non_ascii":
        bad = f"{h64}.{p64}ก.{s64}"
    else:
        raise AssertionError(mutation)
    with pytest.raises(error) as info:
        verify_summary(bad, keys.trust())
    assert info.value.code == error.code and info.value.message


def _foreign_signer() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and certificate from another CA: its fingerprint is in no auditor's trust."""
    with tempfile.TemporaryDirectory() as d:
        ca = pki.create_ca(Path(d))
        return pki.load_private_key(ca.key), x509.load_pem_x509_certificate(ca.cert.read_bytes())


def test_make_summary_refuses_a_key_of_another_certificate(keys: Pki, printouts: list[str]) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        make_summary(printouts, "x", pki.load_private_key(keys.other.key), keys.cert(keys.agency))
    with pytest.raises(ValueError, match="same subject"):
        keys.summary([printouts[0], keys.printout("dopa.house", 5, subject="1540477440880")])


def test_trust_refuses_a_foreign_agency_certificate(keys: Pki, tmp_path: Path) -> None:
    foreign_ca = pki.create_ca(tmp_path / "foreign")
    foreign = pki.issue(foreign_ca, "phrae-municipality", pki.Role.CLIENT, tmp_path / "foreign-clients")
    with pytest.raises(BadSummaryTrust):
        SummaryTrust.load(keys.ca.cert, [keys.agency.cert, foreign.cert])
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(BadSummaryTrust):
        SummaryTrust.load(keys.ca.cert, [tmp_path / "junk.pem"])
    with pytest.raises(BadSummaryTrust):
        SummaryTrust.load(tmp_path / "missing.pem", [])
