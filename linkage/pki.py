"""The sandbox's public-key infrastructure: the linkage CA and the certificates it issues.

Pure file and crypto work, no network. Every key is ECDSA P-256 (ES256 for
seals; TLS 1.3 for gRPC). ``linkage init`` calls ``create_ca`` once and
``issue`` for the hub, the hub's sealing key, every provider and every agency.

The subject common name of a client certificate is the agency's name; the hub
takes the caller's identity from it and from nothing else.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    import grpc  # imported where credentials are made: the command line reads configs without it

__all__ = [
    "HUB_CLIENT",
    "CertPaths",
    "Role",
    "channel_credentials",
    "create_ca",
    "issue",
    "load_private_key",
    "server_credentials",
]

# The hub's client certificate to call providers is issued under this name.
HUB_CLIENT = "linkage-hub"
_ORG = "Linkage Sandbox"
# id-kp-documentSigning (RFC 9336): the seal signs documents, never TLS.
_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
CA_DAYS = 3650
LEAF_DAYS = 825


class Role(enum.Enum):
    SERVER = "server"  # gRPC server (hub, registries): serverAuth
    CLIENT = "client"  # agency or hub calling a registry: clientAuth
    SEAL = "seal"  # signs printouts: digitalSignature + nonRepudiation, no TLS use
    TSA = "tsa"  # the time-stamping authority (RFC 3161): timeStamping only, critical (RFC 3161 2.3)


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an EC private key")
    return key


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def create_ca(directory: Path, *, now: dt.datetime | None = None) -> CertPaths:
    """Make the linkage CA (self-signed) as directory/ca.pem and directory/ca.key."""
    now = now or dt.datetime.now(dt.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Linkage Sandbox Root CA", "linkage-ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = CertPaths(directory / "ca.pem", directory / "ca.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.key, key)
    return paths


def issue(ca: CertPaths, common_name: str, role: Role, out_dir: Path, *,
          unit: str = "", hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
          now: dt.datetime | None = None, days: int = LEAF_DAYS) -> CertPaths:
    """Issue a leaf certificate for common_name, signed by the CA, as out_dir/<cn>.pem and .key."""
    now = now or dt.datetime.now(dt.UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = load_private_key(ca.key)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = {
        Role.SERVER: [ExtendedKeyUsageOID.SERVER_AUTH],
        # An agency also signs what its officers certify (the counter's PAdES printouts): NSS, and so poppler's
        # pdfsig, trusts a PDF signature only from a certificate fit for emailProtection. Never documentSigning:
        # that marks the hub's seal, and a verifier must not take an agency's printout for the hub's.
        Role.CLIENT: [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION],
        Role.SEAL: [_DOCUMENT_SIGNING],
        Role.TSA: [ExtendedKeyUsageOID.TIME_STAMPING],
    }[role]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, unit or role.value))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=role is not Role.SERVER,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     key_cert_sign=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=role is Role.TSA)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if role in (Role.SERVER, Role.CLIENT):
        sans: list[x509.GeneralName] = [x509.DNSName(common_name)]
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = CertPaths(out_dir / f"{common_name}.pem", out_dir / f"{common_name}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.key, key)
    return paths


def server_credentials(ca_cert: Path, own: CertPaths) -> grpc.ServerCredentials:
    """TLS for a server that demands a client certificate from the linkage CA."""
    import grpc

    return grpc.ssl_server_credentials(
        [(own.key.read_bytes(), own.cert.read_bytes())],
        root_certificates=ca_cert.read_bytes(),
        require_client_auth=True,
    )


def channel_credentials(ca_cert: Path, own: CertPaths | None) -> grpc.ChannelCredentials:
    """TLS for a client that trusts only the linkage CA and shows its own certificate."""
    import grpc

    if own is None:
        return grpc.ssl_channel_credentials(root_certificates=ca_cert.read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=ca_cert.read_bytes(),
        private_key=own.key.read_bytes(),
        certificate_chain=own.cert.read_bytes(),
    )
