"""linkage.seal: canonical JSON, request hash, thumbprint, and the sealed JWS itself."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.jwk import ECKey

from linkage import pki, seal

NOW = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[pki.CertPaths, pki.CertPaths]:
    home = tmp_path_factory.mktemp("pki")
    ca = pki.create_ca(home / "ca", now=NOW - dt.timedelta(days=1))
    return ca, pki.issue(ca, "linkage-seal", pki.Role.SEAL, home / "seal", now=NOW - dt.timedelta(days=1))


@pytest.fixture(scope="module")
def sealer(paths: tuple[pki.CertPaths, pki.CertPaths]) -> seal.Sealer:
    ca, own = paths
    return seal.Sealer.from_files(own.cert, own.key, ca.cert)


def printout() -> dict[str, Any]:
    fields = {"agency": "TH/GOV/RD/tax", "doc_type": "dopa.person", "subject_id": "1101700230708",
              "purpose": "ตรวจสอบสิทธิ์ / eligibility check", "officer_id": "RD-0042", "case_ref": "",
              "citizen_present": True}
    return {
        "printout_id": str(uuid.UUID(int=7)),
        "doc_type": "dopa.person",
        "subject_id": "1101700230708",
        "data": {"first_name_th": "สมชาย", "last_name_th": "ใจดี", "birth_date": "2530-04-01"},
        "issuer": seal.HUB_ISSUER,
        "provider": "TH/GOV/DOPA/civil-registry",
        "agency": "TH/GOV/RD/tax",
        "officer_id": "RD-0042",
        "purpose": fields["purpose"],
        "case_ref": "",
        "issued_at": seal.format_issued_at(NOW),
        "request_hash": seal.request_hash(fields),
    }


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert seal.canonical_json({"b": 1, "a": ["ไทย", True, None]}) == '{"a":["ไทย",true,null],"b":1}'.encode()
    with pytest.raises(ValueError):
        seal.canonical_json({"x": float("nan")})


def test_request_hash_is_sha256_of_canonical_json() -> None:
    fields = {"purpose": "ภาษี", "agency": "TH/GOV/RD/tax", "citizen_present": False}
    expected = hashlib.sha256('{"agency":"TH/GOV/RD/tax","citizen_present":false,"purpose":"ภาษี"}'.encode())
    assert seal.request_hash(fields) == "sha256:" + expected.hexdigest()
    assert seal.request_hash(dict(reversed(fields.items()))) == seal.request_hash(fields)


def test_format_issued_at() -> None:
    bangkok = dt.timezone(dt.timedelta(hours=7))
    assert seal.format_issued_at(dt.datetime(2026, 1, 15, 10, 0, tzinfo=bangkok)) == "2026-01-15T03:00:00.000000Z"
    with pytest.raises(ValueError):
        seal.format_issued_at(dt.datetime(2026, 1, 15))


def test_b64url_decode_is_strict() -> None:
    assert seal.b64url_decode(seal.b64url_encode(b"\xfb\xff")) == b"\xfb\xff"
    for bad in ("ab+c", "ab/c", "abc=", "a", "ab c", "ก"):
        with pytest.raises(ValueError):
            seal.b64url_decode(bad)


def test_kid_is_the_rfc7638_thumbprint(sealer: seal.Sealer, paths: tuple[pki.CertPaths, pki.CertPaths]) -> None:
    pub = x509.load_pem_x509_certificate(paths[1].cert.read_bytes()).public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert sealer.kid == ECKey.import_key(pub).thumbprint()  # an independent implementation


def test_round_trip(sealer: seal.Sealer, paths: tuple[pki.CertPaths, pki.CertPaths]) -> None:
    ca, own = paths
    token = sealer.seal(printout())
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(_b64url(header_b64))
    assert header == {
        "alg": "ES256", "typ": "linkage-printout+jws", "kid": sealer.kid,
        "x5c": [base64.b64encode(x509.load_pem_x509_certificate(p.read_bytes()).public_bytes(Encoding.DER)).decode()
                for p in (own.cert, ca.cert)],
    }
    assert json.loads(_b64url(payload_b64)) == printout()
    assert "สมชาย".encode() in _b64url(payload_b64)  # UTF-8, not \u escapes
    raw = _b64url(sig_b64)
    assert len(raw) == 64
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    pub = x509.load_pem_x509_certificate(own.cert.read_bytes()).public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(encode_dss_signature(r, s), f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))


def test_joserfc_verifies_with_the_x5c_certificate(sealer: seal.Sealer) -> None:
    """The requirement: any JOSE library checks a printout with the certificate it carries."""
    token = sealer.seal(printout())
    header = json.loads(_b64url(token.split(".")[0]))
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)  # ES256
    key = ECKey.import_key(public)
    registry = jws.JWSRegistry(algorithms=["ES256"])
    # joserfc caps headers at 512 bytes against abuse; a two-certificate x5c is ~2 kB.
    registry.max_header_length = 8192
    result = jws.deserialize_compact(token, key, registry=registry)
    assert result.headers()["typ"] == seal.TYP
    assert json.loads(result.payload) == printout()
    forged = token.replace(token.split(".")[1], seal.b64url_encode(seal.canonical_json({**printout(), "purpose": "x"})))
    with pytest.raises(Exception, match="signature"):
        jws.deserialize_compact(forged, key, registry=registry)


def test_seal_refuses_an_incomplete_printout(sealer: seal.Sealer) -> None:
    body = printout()
    del body["request_hash"], body["purpose"]
    with pytest.raises(ValueError, match="purpose, request_hash"):
        sealer.seal(body)


def test_sealer_refuses_a_key_or_chain_that_does_not_fit(tmp_path: Path,
                                                        paths: tuple[pki.CertPaths, pki.CertPaths]) -> None:
    ca, own = paths
    other_ca = pki.create_ca(tmp_path / "other")
    other = pki.issue(other_ca, "other-seal", pki.Role.SEAL, tmp_path / "seal")
    with pytest.raises(ValueError, match="does not match"):
        seal.Sealer.from_files(own.cert, other.key, ca.cert)
    with pytest.raises(ValueError, match="not issued by"):
        seal.Sealer.from_files(own.cert, own.key, other_ca.cert)
    with pytest.raises(ValueError, match="P-256"):
        seal.Sealer(ec.generate_private_key(ec.SECP384R1()), [x509.load_pem_x509_certificate(own.cert.read_bytes())])
