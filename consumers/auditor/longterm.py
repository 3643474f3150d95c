"""Check 12, long-term validity, of a certified PDF: its RFC 3161 signature timestamp and the validation data
it carries (PAdES B-T and B-LT), so a copy still proves itself after the agency's certificate expires, is
renewed or is revoked.

    12  long-term validity  a. the signature carries one signature timestamp (none: a B-B copy, certified
                               before 2026-12 or by a counter run without a TSA: there is no check 12, and
                               the copy holds only while the agency's certificate is valid and not revoked)
                            b. the timestamp matches the signature and is signed by a time-stamping
                               authority the linkage CA issued for timeStamping (another: invalid, "unknown
                               authority"), valid now
                            c. the PDF carries a document security store (DSS) with the CA's CRL (none: the
                               validation data was removed; B-T is not B-LT)
                            d. at the timestamp's time the agency's certificate chained to the linkage CA,
                               was within its validity and was not revoked, by the CRLs in the DSS and any
                               newer CRL of the CA the auditor holds (``Trust.crls``; `linkage verify --crl`):
                               a revocation dated before the timestamp fails, one after it does not

pyHanko validates (``validate_pdf_signature``, revocation required, the time of 12d the timestamp's). The
signer's own claimed signing time (check 3) must not be after the timestamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from consumers.auditor.report import Check, failed, passed

__all__ = ["long_term_check"]

_SKEW = dt.timedelta(minutes=5)


def long_term_check(reader: Any, sig: Any, ca: x509.Certificate, known_crls: Sequence[bytes],
                    now: dt.datetime, signed_at: dt.datetime | None) -> Check | None:
    """Check 12 for the PDF's one signature ``sig`` (a pyHanko EmbeddedPdfSignature of ``reader``); None when it
    carries no timestamp (a B-B copy: nothing to check)."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    try:
        tokens = list(extract_tst_data_iter(sig.signer_info, signed=False))
        info = tokens[0]["encap_content_info"]["content"].parsed if tokens else None
        stamped_at: dt.datetime | None = info["gen_time"].native if info is not None else None
    except Exception as exc:  # hostile bytes in the CMS surface as any exception
        return failed(12, f"the signature timestamp is unreadable ({type(exc).__name__}: {exc})")
    # a. A timestamp at all.
    if not tokens or stamped_at is None:
        return None
    if len(tokens) > 1:
        return failed(12, f"the signature carries {len(tokens)} timestamps; the counter adds exactly one")
    try:
        dss_crls = _dss_crls(reader)
    except Exception as exc:
        return failed(12, f"the document security store (DSS) is unreadable ({type(exc).__name__}: {exc})")
    crls = [*(dss_crls or []), *known_crls]
    try:
        status = _validate(sig, ca, crls, stamped_at, now)
    except Exception as exc:
        return failed(12, f"the timestamp cannot be validated ({type(exc).__name__}: {exc})")
    # b. The timestamp: its imprint, its signature, its authority.
    stamp = status.timestamp_validity
    if stamp is None or not stamp.intact or not stamp.valid:
        return failed(12, "the timestamp does not match the signature, or its own signature does not verify")
    authority = _who(stamp.signing_cert)
    when = f"{stamped_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
    if not stamp.trusted:
        return failed(12, f"timestamp from an unknown authority: {authority} is not a time-stamping authority "
                          f"of the linkage CA {ca.subject.rfc4514_string()}")
    if signed_at is not None and signed_at > stamped_at + _SKEW:
        return failed(12, f"the signature claims it was made at {signed_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
                          f", after its timestamp {when}")
    # c. The validation data, embedded.
    if dss_crls is None:
        return failed(12, f"timestamp by {authority} at {when}, but the PDF carries no validation data (DSS): "
                          "it was removed, so nothing shows the agency's certificate was good then (B-T, not B-LT)")
    if not dss_crls:
        return failed(12, f"timestamp by {authority} at {when}, but the document security store holds no CRL of "
                          "the linkage CA (B-T, not B-LT)")
    # d. The agency's certificate at the timestamp's time.
    signer = x509.load_der_x509_certificate(sig.signer_cert.dump())
    revoked = _revocation(signer, crls, ca)
    if revoked is not None and revoked[0] <= stamped_at:
        return failed(12, f"the agency's certificate {_who_x509(signer)} was revoked at "
                          f"{revoked[0].astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ} ({revoked[1]}), before the timestamp "
                          f"{when}: a signature made after its certificate's revocation does not stand")
    if not status.trusted or status.revoked:
        why = status.trust_problem_indic
        return failed(12, f"the agency's certificate does not validate at the timestamp's time {when} with the "
                          f"embedded validation data ({getattr(why, 'name', why)})")
    later = f"; revoked later, at {revoked[0].astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ} ({revoked[1]}), which does " \
            "not touch this earlier signature" if revoked is not None else ""
    return passed(12, f"PAdES B-LT: timestamp by {authority} at {when}; the agency's certificate was valid and not "
                      f"revoked then, by the CA's CRLs ({len(dss_crls)} embedded, {len(known_crls)} held)"
                      f"{later}")


def _validate(sig: Any, ca: x509.Certificate, crls: list[bytes], stamped_at: dt.datetime, now: dt.datetime) -> Any:
    from asn1crypto import crl as asn1_crl
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko_certvalidator import ValidationContext

    roots = list(load_certs_from_pemder_data(ca.public_bytes(Encoding.DER)))
    parsed = [asn1_crl.CertificateList.load(c) for c in crls]
    # The agency at the timestamp's time, revocation information required; the TSA now (its certificate lasts
    # as long as the CA's).
    signer_context = ValidationContext(trust_roots=roots, crls=parsed, allow_fetching=False, moment=stamped_at,
                                       revocation_mode="require")
    stamp_context = ValidationContext(trust_roots=roots, crls=parsed, allow_fetching=False, moment=now,
                                      revocation_mode="soft-fail")
    return validate_pdf_signature(sig, signer_context, ts_validation_context=stamp_context, skip_diff=True,
                                  key_usage_settings=KeyUsageConstraints(key_usage={"digital_signature"}))


def _dss_crls(reader: Any) -> list[bytes] | None:
    """The CRLs (DER) in the PDF's DSS, or None when it has no DSS."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None
    return [bytes(ref.get_object().data) for ref in dss.crls]


def _revocation(cert: x509.Certificate, crls: list[bytes], ca: x509.Certificate) -> tuple[dt.datetime, str] | None:
    """The earliest revocation of cert in any of the CRLs the linkage CA signed (another's, or a forged one
    appended to the DSS, is not read)."""
    found: list[tuple[dt.datetime, str]] = []
    for data in crls:
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError:
            continue
        if crl.issuer != cert.issuer or not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
            except x509.ExtensionNotFound:
                reason = "unspecified"
            found.append((entry.revocation_date_utc, reason))
    return min(found) if found else None


def _who(cert: Any) -> str:
    try:
        return _who_x509(x509.load_der_x509_certificate(cert.dump()))
    except Exception:
        return "an authority whose certificate is not in the token"


def _who_x509(cert: x509.Certificate) -> str:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else cert.subject.rfc4514_string()
