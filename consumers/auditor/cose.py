"""COSE_Sign1 with ES256 (RFC 9052 s4.2, RFC 9053 s2.1) and Base45 (RFC 9285): the envelope of the paper's QR code.

Built on cbor2 (RFC 8949) and cryptography, not on a COSE library: the one message type and the one
algorithm used here are about forty lines, while pycose, the COSE library for Python, has had no
release since 2023-12 (and its last one cannot decode a COSE_Sign1 under cbor2 6). python-cwt, a
maintained COSE library, verifies what ``sign1`` makes (tests/auditor/test_papercode.py). cbor2 is
maintained (6.x released 2026-11), pure-Python-compatible with a C speed-up, MIT. Base45 is a dozen
lines of RFC 9285; the PyPI ``base45`` package has had no release since 2022, so it is written here and
tested against the RFC's own examples.

    sign1(payload, key, kid)   the COSE_Sign1 message (CBOR tag 18): protected {1: -7 (ES256), 4: kid},
                               empty unprotected map, the payload, the 64-byte r||s signature over the
                               Sig_structure ["Signature1", protected, h'', payload]
    open_sign1(message)        the message's parts (``Sign1``), structure checked, signature not yet
    Sign1.verify(public_key)   raises CoseError(bad_signature) unless the signature holds
    b45encode / b45decode      RFC 9285; b45decode raises CoseError(bad_base45)

The Sig_structure's context string "Signature1" keeps a COSE signature from ever being a valid JWS
or CMS signature by the same key (the counter agency's key signs all three), and the reverse.

Error (the only exception raised here)::

    CoseError      code: bad_base45 | not_cose | bad_header | bad_signature
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = ["ALG_ES256", "COSE_SIGN1_TAG", "CoseError", "Sign1", "b45decode", "b45encode", "loads", "open_sign1",
           "sign1"]

COSE_SIGN1_TAG: Final = 18
ALG_ES256: Final = -7
_HDR_ALG: Final = 1
_HDR_KID: Final = 4
_P256: Final = 32
_B45: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE: Final = {c: i for i, c in enumerate(_B45)}


class CoseError(Exception):
    """A Base45 text or COSE_Sign1 message that cannot be used; ``code`` says which step refused it."""

    code: ClassVar[str] = "cose_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # per instance: one class, four stable codes
        self.message = message


# --- Base45 (RFC 9285) ---------------------------------------------------------------------------------------------

def b45encode(data: bytes) -> str:
    """RFC 9285 s4: two bytes become three characters, a last odd byte two."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += (_B45[c], _B45[d], _B45[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (_B45[c], _B45[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """RFC 9285 s4.2; raises CoseError(bad_base45) for a character outside the alphabet, a length of 3k+1, or a
    group whose value does not fit its bytes (over 65535 for three characters, over 255 for two)."""
    if len(text) % 3 == 1:
        raise CoseError("bad_base45", f"Base45 text of {len(text)} characters: a length of 3k+1 is never valid")
    try:
        values = [_B45_VALUE[c] for c in text]
    except KeyError as exc:
        raise CoseError("bad_base45", f"{exc.args[0]!r} is not a Base45 character") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i:i + 3]
        n = sum(v * 45 ** k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 0xFFFF:
                raise CoseError("bad_base45", f"Base45 group at {i} is {n}, more than two bytes hold")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise CoseError("bad_base45", f"the last Base45 pair is {n}, more than one byte holds")
            out.append(n)
    return bytes(out)


# --- COSE_Sign1 (RFC 9052 s4.2, s4.4) ------------------------------------------------------------------------------

def loads(data: bytes, what: str) -> Any:
    """CBOR-decode ``data``; raises CoseError(not_cose) for anything cbor2 refuses (hostile input included)."""
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises its own errors, ValueError, RecursionError, ... on hostile bytes
        raise CoseError("not_cose", f"the {what} is not CBOR ({type(exc).__name__}: {exc})") from exc


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign1(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """The tagged COSE_Sign1 of ``payload``, ES256 with ``key`` (P-256), naming the key by ``kid``."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"ES256 needs a P-256 key, not {key.curve.name}")
    protected = cbor2.dumps({_HDR_ALG: ALG_ES256, _HDR_KID: kid}, canonical=True)
    r, s = decode_dss_signature(key.sign(_to_be_signed(protected, payload), ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(_P256, "big") + s.to_bytes(_P256, "big")
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


@dataclass(frozen=True)
class Sign1:
    """A COSE_Sign1 message taken apart; nothing in it is trusted until ``verify`` passes."""

    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes

    def verify(self, key: ec.EllipticCurvePublicKey) -> None:
        """Raises CoseError(bad_signature) unless ``signature`` is ES256 by ``key`` over the Sig_structure."""
        r = int.from_bytes(self.signature[:_P256], "big")
        s = int.from_bytes(self.signature[_P256:], "big")
        try:
            key.verify(encode_dss_signature(r, s), _to_be_signed(self.protected, self.payload),
                       ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise CoseError("bad_signature", "the COSE signature does not verify with the named key") from None


def open_sign1(message: bytes) -> Sign1:
    """The parts of a COSE_Sign1 (tagged or not); raises CoseError(not_cose) for another structure and
    CoseError(bad_header) for an algorithm other than ES256, a critical header, or no kid."""
    item = loads(message, "QR code's content")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise CoseError("not_cose", f"CBOR tag {item.tag} is not COSE_Sign1 ({COSE_SIGN1_TAG})")
        item = item.value
    # cbor2 decodes what a tag holds as immutable (tuple, frozendict): either shape is the same message.
    if not (isinstance(item, list | tuple) and len(item) == 4):
        raise CoseError("not_cose", "a COSE_Sign1 is an array of four: protected, unprotected, payload, signature")
    protected, unprotected, payload, signature = item
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping) and isinstance(payload, bytes)
            and isinstance(signature, bytes)):
        raise CoseError("not_cose", "COSE_Sign1 parts must be bstr, map, bstr, bstr (no detached payload)")
    header = loads(protected, "protected header") if protected else {}
    if not isinstance(header, dict):
        raise CoseError("not_cose", "the protected header is not a CBOR map")
    # Nothing in the unprotected bucket is used: an algorithm or key named there could be changed by anyone.
    if header.get(_HDR_ALG) != ALG_ES256:
        raise CoseError("bad_header", f"alg must be ES256 (-7) in the protected header, not {header.get(_HDR_ALG)!r}")
    if 2 in header or 2 in unprotected:
        raise CoseError("bad_header", "the header has crit parameters this verifier does not understand")
    kid = header.get(_HDR_KID)
    if not isinstance(kid, bytes) or not kid:
        raise CoseError("bad_header", "the protected header names no key (kid)")
    if len(signature) != 2 * _P256:
        raise CoseError("not_cose", f"an ES256 signature is {2 * _P256} bytes, not {len(signature)}")
    return Sign1(protected, kid, payload, signature)
