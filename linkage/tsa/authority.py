"""The time-stamping authority's answer to one RFC 3161 request: a TimeStampResp, granted or rejected.

pyHanko's ``DummyTimeStamper`` builds the TSTInfo and the SignedData (a TimeStampToken) but signs with RSA
only; ``_EcdsaStamper`` signs the same signed attributes with the sandbox's P-256 key (ecdsa-with-SHA256).
Every request is answered in RFC 3161's own words: a request that is not DER, not version 1, or asks for a
digest this TSA does not take is a ``rejection`` with its PKIFailureInfo (badDataFormat, badRequest, badAlg),
never an exception. The token always carries the TSA's certificate and the CA's (ESSCertIDv2 names it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar, Final

from asn1crypto import algos, cms, core, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from linkage.pki import CertPaths, load_private_key

__all__ = ["DIGESTS", "POLICY", "TimeStampAuthority"]

# The sandbox's TSA policy: an OID under the sandbox's own arc (nothing to do with any real TSA).
POLICY: Final = "1.3.6.1.4.1.57264.1.3161"
# Message imprints this TSA takes (the hash names asn1crypto gives them), and each digest's length.
DIGESTS: Final = {"sha256": 32, "sha384": 48, "sha512": 64}
_HASHES: Final[dict[str, hashes.HashAlgorithm]] = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                                                  "sha512": hashes.SHA512()}


class _EcdsaStamper(DummyTimeStamper):
    """pyHanko's token builder, signing with an EC key and stating the TSA's policy."""

    def __init__(self, cert: asn1_x509.Certificate, key: ec.EllipticCurvePrivateKey, chain: list[Any],
                 clock: Callable[[], dt.datetime]) -> None:
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        super().__init__(cert, keys.PrivateKeyInfo.load(der), certs_to_embed=chain)  # type: ignore[arg-type]
        self._key = key
        self._clock = clock
        # ESSCertIDv2 of the TSA's certificate, the same in every token: encoded once (asn1crypto re-encodes the
        # certificate's names each time it builds it, most of a token's cost).
        self._cert_id: bytes = _attribute("signing_certificate_v2",
                                          general.as_signing_certificate_v2(cert)).dump()

    def _build_tst_info(self, message_imprint: tsp.MessageImprint, when: dt.datetime,
                        req: tsp.TimeStampReq) -> tsp.TSTInfo:
        info = super()._build_tst_info(message_imprint, when, req)
        info["policy"] = tsp.ObjectIdentifier(POLICY)
        info["accuracy"] = tsp.Accuracy({"seconds": 1})
        return info

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str,
                       dt: dt.datetime) -> tuple[bytes, cms.CMSAttributes]:
        # The signed attributes as pyHanko's builder makes them (content type, signing time, ESSCertIDv2 of the
        # TSA's certificate, message digest); it signs with RSA only, so the signature is made here (ECDSA).
        digest = hashes.Hash(_HASHES[md_algorithm])
        digest.update(tst_info_data)
        attrs = cms.CMSAttributes([
            _attribute("content_type", "tst_info"),
            _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
            cms.CMSAttribute.load(self._cert_id),
            _attribute("message_digest", digest.finalize()),
        ])
        return self._key.sign(attrs.dump(), ec.ECDSA(_HASHES[md_algorithm])), attrs

    def _build_signed_data(self, tst_info_data: bytes, md_algorithm: str, signature: bytes,
                           signed_attrs: cms.CMSAttributes) -> dict[str, Any]:
        data: dict[str, Any] = super()._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
        info = data["signer_infos"][0]
        info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": f"{md_algorithm}_ecdsa"})
        return data

    def stamp(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        self.fixed_dt = self._clock()
        return self.request_tsa_response(req)


class TimeStampAuthority:
    """The sandbox's TSA: its certificate (timeStamping, critical) and key, issued by the linkage CA."""

    def __init__(self, own: CertPaths, ca_cert: x509.Certificate,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        """Load the TSA's PEM files. Raises OSError or ValueError (a key that is not its certificate's)."""
        cert = x509.load_pem_x509_certificate(own.cert.read_bytes())
        key = load_private_key(own.key)
        if cert.public_key() != key.public_key():
            raise ValueError(f"{own.key} does not belong to {own.cert}")
        self.cert = cert
        asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        asn1_ca = asn1_x509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))
        self._stamper = _EcdsaStamper(asn1_cert, key, [asn1_ca],
                                      clock or (lambda: dt.datetime.now(dt.UTC).replace(microsecond=0)))

    def answer(self, body: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq: granted with a token, or rejected saying why."""
        try:
            req = tsp.TimeStampReq.load(body)
            version = req["version"].native
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            req["nonce"].native  # noqa: B018 -- parses it: a bad nonce is a bad request, not a crash later
        except Exception:  # asn1crypto meets hostile bytes here; whatever it raises, the answer is the same
            return _rejection("badDataFormat", "the request is not a DER TimeStampReq (RFC 3161)")
        if version != "v1":
            return _rejection("badRequest", f"version {version}: RFC 3161 knows only v1")
        if algorithm not in DIGESTS:
            return _rejection("badAlg", f"message imprint {algorithm}: this TSA takes {', '.join(DIGESTS)}")
        if not isinstance(digest, bytes) or len(digest) != DIGESTS[algorithm]:
            return _rejection("badDataFormat", f"a {algorithm} message imprint is {DIGESTS[algorithm]} bytes")
        if req["extensions"].native:
            return _rejection("unacceptedExtension", "this TSA takes no request extensions")
        resp: bytes = self._stamper.stamp(req).dump()
        return resp


def _attribute(name: str, value: Any) -> Any:
    return simple_cms_attribute(name, value)  # type: ignore[no-untyped-call]


def _rejection(failure: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo({"status": "rejection", "status_string": [text],
                                "fail_info": tsp.PKIFailureInfo({_FAILURES[failure]})})
    out: bytes = _Rejection({"status": status}).dump()  # asn1crypto's TimeStampResp insists on a token
    return out


class _Rejection(core.Sequence):  # type: ignore[misc]
    """TimeStampResp without its optional timeStampToken (RFC 3161 2.4.2)."""

    _fields: ClassVar[list[tuple[str, type]]] = [("status", tsp.PKIStatusInfo)]


_FAILURES: Final = {"badAlg": "bad_alg", "badRequest": "bad_request", "badDataFormat": "bad_data_format",
                    "unacceptedExtension": "unaccepted_extension"}
