"""A software passkey for tests that talk to the counter over HTTP, without a browser.

``SoftPasskey`` does what a platform authenticator and the browser do together: it answers the hub's creation
options with a registration (attestation "none", an ES256 key made with ``cryptography``, CBOR with cbor2) and
its request options with an assertion, writing the client data the browser would write on a page of
``origin``. The hub checks both with py_webauthn exactly as it checks a real browser's. Only a test can claim an
origin: a browser writes the page's own. The passkey belongs to the relying party (``rp_id``), not to one
origin: the same one answers on any counter origin the hub trusts.

``pkcs8`` hands the same credential to Chromium's virtual authenticator (``WebAuthn.addCredential``), so a
browser test signs in with the passkey enrolled here (tests/counter/passkeys.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SoftPasskey", "b64url"]

_UP, _UV, _AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftPasskey:
    """One officer's passkey: made by ``register``, used by ``assert_`` (on a page of ``origin``)."""

    rp_id: str = "localhost"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    user_handle: bytes = b""
    sign_count: int = 0

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
                          separators=(",", ":")).encode("utf-8")

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        self.sign_count += 1
        return hashlib.sha256(self.rp_id.encode("ascii")).digest() + bytes([flags]) + \
            struct.pack(">I", self.sign_count) + attested

    def register(self, options: dict[str, Any], origin: str) -> str:
        """The registration (PublicKeyCredential.toJSON()) answering the hub's creation options."""
        assert options["rp"]["id"] == self.rp_id, options["rp"]
        self.user_handle = _unb64url(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + cose
        auth_data = self._auth_data(_UP | _UV | _AT, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                           "type": "public-key", "clientExtensionResults": {}, "authenticatorAttachment": "platform",
                           "response": {"clientDataJSON": b64url(client_data),
                                        "attestationObject": b64url(attestation), "transports": ["internal"]}})

    def assert_(self, options: dict[str, Any], origin: str) -> str:
        """The assertion (PublicKeyCredential.toJSON()) answering the hub's request options."""
        allowed = [c["id"] for c in options.get("allowCredentials", [])]
        assert not allowed or b64url(self.credential_id) in allowed, "the hub did not ask for this passkey"
        auth_data = self._auth_data(_UP | _UV)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                           "type": "public-key", "clientExtensionResults": {}, "authenticatorAttachment": "platform",
                           "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                                        "signature": b64url(signature), "userHandle": b64url(self.user_handle)}})

    def pkcs8(self) -> str:
        """The private key as Chromium's WebAuthn.addCredential takes it (base64 PKCS#8 DER)."""
        return base64.b64encode(self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption())).decode("ascii")
