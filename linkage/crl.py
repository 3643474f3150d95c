"""The linkage CA's certificate revocation list (RFC 5280 CRL): which certificates it revoked, when, and why.

Pure file and crypto work, no network. ``linkage init`` publishes an empty list; ``linkage agency revoke``
adds the agency's certificate (reason keyCompromise is not claimed: cessationOfOperation), ``linkage agency
renew`` adds the certificate it replaces (superseded). Each publication re-signs the whole list with the CA key,
with a CRL number one higher than the last and a next update CRL_DAYS on; ``linkage serve-tsa`` serves the file
at GET /crl and publishes it again before it goes stale.

A revocation has a date: a verifier that knows when a signature was made (an RFC 3161 timestamp) keeps
signatures made before that date and refuses those made after (docs/keys.md "Revocation and long-term validity").
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from linkage.pki import CertPaths, load_private_key

__all__ = ["CRL_DAYS", "Revocation", "crl_path", "load_crl", "publish_crl", "stale"]

CRL_DAYS: Final = 30
"""How long a published list stays current (its nextUpdate); serve-tsa publishes again at half that age."""


@dataclass(frozen=True)
class Revocation:
    serial: int
    when: dt.datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.unspecified


def crl_path(ca: CertPaths) -> Path:
    """Where the CA's list lies: beside the CA certificate, ``ca.crl`` (DER)."""
    return ca.cert.with_name("ca.crl")


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """The list at path (DER or PEM). Raises OSError or ValueError."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def stale(crl: x509.CertificateRevocationList, now: dt.datetime | None = None) -> bool:
    """Past half its life: time to publish it again."""
    now = now or dt.datetime.now(dt.UTC)
    nxt = crl.next_update_utc
    return nxt is None or now >= crl.last_update_utc + (nxt - crl.last_update_utc) / 2


def publish_crl(ca: CertPaths, revoke: Iterable[Revocation] = (), *,
                now: dt.datetime | None = None) -> x509.CertificateRevocationList:
    """Re-sign the CA's list with every entry it had and those in ``revoke`` (a serial already listed keeps its
    first date), write it atomically as crl_path(ca), and return it. Raises OSError or ValueError."""
    now = now or dt.datetime.now(dt.UTC)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = load_private_key(ca.key)
    path = crl_path(ca)
    entries: dict[int, x509.RevokedCertificate] = {}
    number = 0
    if path.exists():
        old = load_crl(path)
        if not old.is_signature_valid(ca_key.public_key()):
            raise ValueError(f"{path} is not signed by the linkage CA {ca.cert}")
        entries = {entry.serial_number: entry for entry in old}
        try:
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            number = 0
    for item in revoke:
        if item.serial not in entries:
            entries[item.serial] = (
                x509.RevokedCertificateBuilder().serial_number(item.serial).revocation_date(item.when)
                .add_extension(x509.CRLReason(item.reason), critical=False).build())
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject)
               .last_update(now - dt.timedelta(minutes=5))
               .next_update(now + dt.timedelta(days=CRL_DAYS))
               .add_extension(x509.CRLNumber(number + 1), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    for entry in entries.values():
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, hashes.SHA256())
    fd, tmp = tempfile.mkstemp(prefix=".ca.crl.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(crl.public_bytes(serialization.Encoding.DER))
    os.replace(tmp, path)
    return crl
