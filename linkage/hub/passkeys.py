"""Officers' passkeys (WebAuthn) at the hub: enrolment with a one-time code, and the check of a sign-in assertion.

The counter only relays: the browser's options come from here and its answers are checked here, with py_webauthn
(``webauthn`` on PyPI), for the relying party ``rp_id`` (``[hub] webauthn_rp_id``, "localhost" in the sandbox)
and the counter origins the hub trusts (``[hub] webauthn_origins``; default ``http://localhost:PORT`` of the
sandbox's counter). An assertion from any other origin is refused, so a look-alike site relaying the hub's
challenge gains nothing.

Enrolment: ``begin_enrolment`` checks the administrator's code (linkage/enrolments.py) and answers the creation
options (ES256 only, the officer's ID as the user); ``finish_enrolment`` checks the registration against the
challenge it issued to the same certificate (kept as a single-use item in the desks' store, linkage/hub/onetime.py,
so that the two steps may reach different replicas), publishes the passkey's public key in the officer key set
(kind "webauthn", ``kid`` its credential id) and uses the code up. Sign-in: ``request_options`` are the
request options whose challenge is the SHA-256 of the hub's statement; ``assertion_proof`` checks the answer
and returns the proof the log keeps.

Refusals: ``enrolment_code_invalid``, ``passkey_registration_invalid``, ``passkey_assertion_invalid``
(wrong signature, another challenge, a foreign origin), with Thai and English messages; nothing is published
or issued on any of them.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
)

from linkage.config import AgencyConfig, write_atomically
from linkage.enrolments import use_code
from linkage.errors import PermissionDenied, Unauthenticated
from linkage.hub.onetime import OneTime
from linkage.officers import (
    WEBAUTHN,
    OfficerKey,
    Proof,
    load_officer_keys,
    officer_key_set_json,
    public_key_entry,
    webauthn_challenge,
)

__all__ = ["Passkeys"]

_ENROL_WITHIN = dt.timedelta(minutes=5)
_PASSKEY_LIFE = dt.timedelta(days=730)


def _cose(key: OfficerKey) -> bytes:
    """The passkey's public key as COSE (what py_webauthn verifies with), from the key set's SPKI."""
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_der_public_key(base64.b64decode(key.public_key))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    numbers = public.public_numbers()
    return bytes(cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                              -3: numbers.y.to_bytes(32, "big")}))


class Passkeys:
    """Passkey enrolment and assertions, for one hub."""

    def __init__(self, keys_path: Path, enrolments_path: Path, rp_id: str, origins: tuple[str, ...],
                 pending: OneTime) -> None:
        self._keys_path, self._codes_path = keys_path, enrolments_path
        self.rp_id, self.origins = rp_id, list(origins)
        self._pending = pending  # enrolments under way: "agency/officer" -> (certificate, until, challenge)

    def _code(self, agency: AgencyConfig, officer_id: str, code: str, now: dt.datetime, *, consume: bool) -> None:
        if not use_code(self._codes_path, code, officer_id, agency.name, now, consume=consume):
            raise PermissionDenied("enrolment_code_invalid", "รหัสลงทะเบียนไม่ถูกต้อง ใช้ไปแล้ว หรือหมดอายุ ขอรหัสใหม่จากผู้ดูแลระบบ",
                                   "the enrolment code is wrong, used or expired; ask the administrator for a new one"
                                   " (`linkage agency officer-enrol`)", field="code")

    async def begin_enrolment(self, agency: AgencyConfig, cert_sha256: str, officer_id: str, code: str,
                              now: dt.datetime) -> str:
        """The creation options for the browser (JSON)."""
        self._code(agency, officer_id, code, now, consume=False)
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name="Linkage", user_name=officer_id, user_id=officer_id.encode("ascii"),
            user_display_name=f"{officer_id} ({agency.name})",
            supported_pub_key_algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256],
            authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.DISCOURAGED))
        await self._pending.issue(f"{agency.name}/{officer_id}", cert_sha256, (now + _ENROL_WITHIN).timestamp(),
                                  now.timestamp(), options.challenge)
        return options_to_json(options)

    async def finish_enrolment(self, agency: AgencyConfig, cert_sha256: str, officer_id: str, code: str,
                               credential: str, now: dt.datetime) -> OfficerKey:
        """Check the registration, publish the passkey and use the code up; returns the published key."""
        self._code(agency, officer_id, code, now, consume=False)
        pending = await self._pending.look(f"{agency.name}/{officer_id}")
        if pending is None or pending.owner != cert_sha256 or now.timestamp() > pending.until:
            raise Unauthenticated("passkey_registration_invalid", "ไม่พบการลงทะเบียนที่เริ่มไว้ หรือหมดเวลาแล้ว กรุณาเริ่มใหม่",
                                  "no enrolment was begun from this certificate, or it took too long: begin again",
                                  field="credential")
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=pending.value, expected_rp_id=self.rp_id,
                expected_origin=self.origins, supported_pub_key_algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
            public = decoded_public_key_to_cryptography(decode_credential_public_key(verified.credential_public_key))
        except Exception as exc:  # hostile input parsed by a third party: any failure of it is a refusal
            raise Unauthenticated("passkey_registration_invalid", "ลงทะเบียนกุญแจไม่สำเร็จ",
                                  f"the passkey's registration does not verify: {str(exc)[:200]}",
                                  field="credential") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise Unauthenticated("passkey_registration_invalid", "ลงทะเบียนกุญแจไม่สำเร็จ",
                                  "the passkey is not an ES256 key", field="credential")
        if await self._pending.spend(f"{agency.name}/{officer_id}") is None:  # another replica finished it
            raise Unauthenticated("passkey_registration_invalid", "การลงทะเบียนนี้เสร็จไปแล้ว", "this enrolment was"
                                  " already finished", field="credential")
        entry = public_key_entry(public, officer_id, agency.name, now, now + _PASSKEY_LIFE)
        key = OfficerKey(bytes_to_base64url(verified.credential_id), entry.officer_id, entry.agency,
                         entry.public_key, entry.not_before, entry.not_after, None, WEBAUTHN)
        write_atomically(self._keys_path, officer_key_set_json((*load_officer_keys(self._keys_path), key)))
        self._code(agency, officer_id, code, now, consume=True)
        return key

    def request_options(self, keys: list[OfficerKey], statement: bytes) -> str:
        """The request options for the officer's passkeys (JSON), or "" when they hold none."""
        mine = [k for k in keys if k.kind == WEBAUTHN]
        if not mine:
            return ""
        return options_to_json(generate_authentication_options(
            rp_id=self.rp_id, challenge=webauthn_challenge(statement),
            allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.kid)) for k in mine]))

    def assertion_proof(self, keys: tuple[OfficerKey, ...], statement: bytes, assertion: str) -> Proof:
        """Check the browser's assertion over the statement; the proof the log keeps. Raises Unauthenticated."""
        try:
            parsed = parse_authentication_credential_json(assertion)
            kid = bytes_to_base64url(parsed.raw_id)
            key = next(k for k in keys if k.kid == kid and k.kind == WEBAUTHN)
            verify_authentication_response(
                credential=parsed, expected_challenge=webauthn_challenge(statement), expected_rp_id=self.rp_id,
                expected_origin=self.origins, credential_public_key=_cose(key), credential_current_sign_count=0)
        except StopIteration:
            raise Unauthenticated("officer_key_unknown", "ไม่รู้จักกุญแจของเจ้าหน้าที่นี้",
                                  "this passkey is not one of the officer's published keys", field="kid") from None
        except Exception as exc:  # hostile input parsed by a third party: any failure of it is a refusal
            raise Unauthenticated("passkey_assertion_invalid", "ยืนยันตัวตนด้วยกุญแจไม่สำเร็จ",
                                  f"the passkey's answer does not verify: {str(exc)[:200]}",
                                  field="webauthn_assertion") from None
        response = parsed.response
        return Proof(kid, statement, response.signature, response.authenticator_data, response.client_data_json)

