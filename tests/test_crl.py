"""The linkage CA's CRL (linkage/crl.py): `linkage init` publishes it empty, `linkage agency renew` lists the
certificate it replaces (superseded), `linkage agency revoke` the agency's certificate (cessationOfOperation);
each publication is signed by the CA, numbered one higher, and keeps every earlier entry with its first date."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509

from linkage.cli.main import main as linkage_main
from linkage.config import Home
from linkage.crl import crl_path, load_crl, publish_crl

AGENCY = "phrae-municipality"


@pytest.fixture
def home(sandbox_home: Home, tmp_path: Path) -> Home:
    root = tmp_path / "home"
    shutil.copytree(sandbox_home.root, root, ignore=shutil.ignore_patterns("endpoints.json"))
    return Home(root.resolve())


def _crl(home: Home) -> x509.CertificateRevocationList:
    crl = load_crl(crl_path(home.ca))
    ca = x509.load_pem_x509_certificate(home.ca.cert.read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    return crl


def _number(crl: x509.CertificateRevocationList) -> int:
    return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


def _reason(crl: x509.CertificateRevocationList, serial: int) -> str:
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None, f"serial {serial} is not on the CRL"
    return str(entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name)


def test_renew_then_revoke_reach_the_crl(home: Home) -> None:
    first = _crl(home)
    assert list(first) == []  # linkage init publishes it empty
    old = x509.load_pem_x509_certificate(home.client_cert(AGENCY).cert.read_bytes())
    assert linkage_main(["agency", "renew", AGENCY, "--home", str(home.root)]) == 0
    renewed = _crl(home)
    assert _reason(renewed, old.serial_number) == "superseded" and _number(renewed) == _number(first) + 1
    new = x509.load_pem_x509_certificate(home.client_cert(AGENCY).cert.read_bytes())
    assert new.serial_number != old.serial_number and renewed.get_revoked_certificate_by_serial_number(
        new.serial_number) is None
    assert linkage_main(["agency", "revoke", AGENCY, "--home", str(home.root)]) == 0
    revoked = _crl(home)
    assert _reason(revoked, new.serial_number) == "cessation_of_operation"
    # The earlier entry stays, with its first date.
    kept = revoked.get_revoked_certificate_by_serial_number(old.serial_number)
    before = renewed.get_revoked_certificate_by_serial_number(old.serial_number)
    assert kept is not None and before is not None and kept.revocation_date_utc == before.revocation_date_utc


def test_a_crl_not_signed_by_the_ca_is_not_extended(home: Home, tmp_path: Path) -> None:
    from linkage import pki

    other = pki.create_ca(tmp_path / "other")
    publish_crl(other)
    crl_path(home.ca).write_bytes(crl_path(other).read_bytes())
    with pytest.raises(ValueError, match="not signed by the linkage CA"):
        publish_crl(home.ca)
