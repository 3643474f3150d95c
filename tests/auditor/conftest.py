"""Shared by the auditor's tests: a throwaway PKI at a frozen clock, and the printout it seals."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from linkage import pki, seal

__all__ = ["DAY", "NOW", "World", "printout"]

NOW = dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC)  # the frozen clock
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class World:
    """A throwaway PKI: the trust root and the keys that honest and dishonest parties hold."""

    root: x509.Certificate
    ca_pem: Path
    sealer: seal.Sealer
    seal_key: ec.EllipticCurvePrivateKey
    seal_cert: x509.Certificate
    foreign: seal.Sealer  # a seal from another CA
    foreign_cert: x509.Certificate
    foreign_key: ec.EllipticCurvePrivateKey
    expired: seal.Sealer  # our CA, but valid only long before NOW
    agency_key: ec.EllipticCurvePrivateKey  # a TLS client certificate from our CA
    agency_cert: x509.Certificate


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("pki")
    ca = pki.create_ca(home / "ca", now=NOW - 400 * DAY)
    own = pki.issue(ca, "linkage-seal", pki.Role.SEAL, home / "seal", now=NOW - DAY)
    old = pki.issue(ca, "old-seal", pki.Role.SEAL, home / "old", now=NOW - 300 * DAY, days=30)
    agency = pki.issue(ca, "TH-GOV-RD-tax", pki.Role.CLIENT, home / "agency", now=NOW - DAY)
    other_ca = pki.create_ca(home / "other-ca", now=NOW - DAY)
    other = pki.issue(other_ca, "linkage-seal", pki.Role.SEAL, home / "other", now=NOW - DAY)
    return World(
        root=_cert(ca.cert), ca_pem=ca.cert,
        sealer=seal.Sealer.from_files(own.cert, own.key, ca.cert),
        seal_key=pki.load_private_key(own.key), seal_cert=_cert(own.cert),
        foreign=seal.Sealer.from_files(other.cert, other.key, other_ca.cert),
        foreign_cert=_cert(other.cert), foreign_key=pki.load_private_key(other.key),
        expired=seal.Sealer.from_files(old.cert, old.key, ca.cert),
        agency_key=pki.load_private_key(agency.key), agency_cert=_cert(agency.cert),
    )


def printout(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "printout_id": str(uuid.UUID(int=42)),
        "doc_type": "dopa.person",
        "subject_id": "1101700230708",
        "data": {"first_name_th": "สมชาย", "last_name_th": "ใจดี"},
        "issuer": seal.HUB_ISSUER,
        "provider": "TH/GOV/DOPA/civil-registry",
        "agency": "TH/GOV/RD/tax",
        "officer_id": "RD-0042",
        "purpose": "ตรวจสอบสิทธิ์",
        "case_ref": "",
        "issued_at": seal.format_issued_at(NOW - dt.timedelta(minutes=1)),
        "request_hash": seal.request_hash({"agency": "TH/GOV/RD/tax"}),
    }
    body.update(changes)
    return body


