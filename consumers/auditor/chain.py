"""Check 1, the certificate chain: the seal certificate in a printout's x5c leads to the trust root, was valid
when the printout was issued, is a seal's (not a TLS certificate) and, with a pinned seal key set, its key was in
force then. Used by ``consumers.auditor.verify``."""

from __future__ import annotations

import binascii
import datetime as dt
import warnings
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID

from consumers.auditor.report import Check, failed, passed, skipped
from linkage.keyset import SealKey, seal_key_problem
from linkage.seal import jwk_thumbprint

__all__ = ["check_chain", "check_seal_key", "decode_x5c", "describe"]

_TLS_USAGES: Final = frozenset({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH})


def decode_x5c(x5c: object) -> tuple[list[x509.Certificate] | None, list[str]]:
    if x5c is None:
        return None, ["x5c missing"]
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        return None, ["x5c must be a non-empty list of base64 strings"]
    certs: list[x509.Certificate] = []
    for i, text in enumerate(x5c):
        try:
            with warnings.catch_warnings():
                # A certificate RFC 5280 forbids (a negative serial number) is damaged, not a warning to print.
                warnings.simplefilter("error", CryptographyDeprecationWarning)
                # x5c is standard base64 with padding (RFC 7515 s4.1.6), unlike the rest of the JWS.
                cert = x509.load_der_x509_certificate(binascii.a2b_base64(text, strict_mode=True))
                # DER is parsed lazily: reach the key and names checks 1 and 2 use, so a damaged one fails here.
                _ = (cert.public_key(), cert.subject, cert.issuer, cert.serial_number)
        except (binascii.Error, ValueError, UnsupportedAlgorithm, CryptographyDeprecationWarning) as exc:
            return None, [f"x5c[{i}] is not a base64 DER certificate ({exc})"]
        certs.append(cert)
    return certs, []


def _seal_key_usage(_policy: xv.Policy, _cert: x509.Certificate, ku: x509.KeyUsage) -> None:
    if not (ku.digital_signature and ku.content_commitment) or ku.key_cert_sign:
        raise ValueError("key usage is not a seal's (digitalSignature + nonRepudiation, no keyCertSign)")


def _seal_ext_key_usage(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    # Every agency and server certificate comes from the same CA: none of them may seal.
    if eku is not None and _TLS_USAGES & set(eku):
        raise ValueError("a TLS certificate (serverAuth/clientAuth) cannot seal printouts")


def check_chain(certs: list[x509.Certificate] | None, x5c_problems: list[str], root: x509.Certificate,
                 issued_at: dt.datetime | None) -> Check:
    if certs is None:
        return failed(1, "; ".join(x5c_problems))
    if issued_at is None:
        return skipped(1, "issued_at unreadable, no time to judge the chain at (see check 2)")
    seal = certs[0]
    if len(certs) < 2 or certs[-1] != root:
        # Sandbox CAs all share one name: tell them apart by fingerprint.
        return failed(1, f"x5c must end with the trust root ({describe(root)}), "
                                f"ends with {describe(certs[-1])}")
    if not seal.not_valid_before_utc <= issued_at <= seal.not_valid_after_utc:
        return failed(1,
                      f"seal certificate valid {seal.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                      f"{seal.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, printout issued {issued_at:%Y-%m-%dT%H:%M:%SZ}")
    ee_policy = (xv.ExtensionPolicy.permit_all()
                 .require_present(x509.KeyUsage, xv.Criticality.AGNOSTIC, _seal_key_usage)
                 .may_be_present(x509.ExtendedKeyUsage, xv.Criticality.AGNOSTIC, _seal_ext_key_usage))
    verifier = (xv.PolicyBuilder()
                .store(xv.Store([root]))
                .time(issued_at)
                .extension_policies(ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
                .build_client_verifier())
    try:
        verifier.verify(seal, certs[1:-1])
    except xv.VerificationError as exc:
        return failed(1, str(exc))
    return passed(1, f"{seal.subject.rfc4514_string()} issued by {root.subject.rfc4514_string()}, "
                           f"valid at issued_at")


def check_seal_key(check1: Check, certs: list[x509.Certificate] | None, keys: tuple[SealKey, ...],
                    issued_at: dt.datetime | None) -> Check:
    """(1, continued) With a pinned seal key set: the seal key is in it and was in force at issued_at."""
    if not keys or check1.ok is not True or not certs or issued_at is None:
        return check1
    key = certs[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return check1  # check 2 says the key is not a seal's
    kid = jwk_thumbprint(key)
    problem = seal_key_problem(keys, kid, issued_at)
    if problem is not None:
        return failed(1, problem)
    return passed(1, f"{check1.detail}; seal key {kid[:12]}… in force then (pinned seal key set)")


def describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()}, sha256 {cert.fingerprint(hashes.SHA256()).hex()[:16]}…"
