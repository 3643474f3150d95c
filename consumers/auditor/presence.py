"""Check 11, the citizen present: a printout that says its subject was at the desk carries their card's proof,
and the auditor checks it with nothing but the civil registry's published card-issuer key
(``DIR/pki/card-issuer.pub``; linkage/cards.py says what the card, its certificate and its signature are).

For a printout (``check_presence``): the card certificate is the registry's (the pinned issuer key) and names
the printout's subject; the card had not expired when the printout was issued; the challenge was the hub's
within ``CHALLENGE_TTL_S`` before it; the printout's document type is among those the card signed for; the
chip signed that challenge and the presence hash of this very request (agency, subject, purpose, officer,
case reference, document types); and the log entry, when the proof of inclusion carries it, holds the same
proof.

For a log entry alone (``check_presence_entry``, what ``linkage audit watch`` sees): the log keeps no personal
ID, so the card's certificate cannot be put back together there; the watch checks what the entry proves by
itself: the chip key signed the logged challenge and presence hash, the challenge was fresh, the card unexpired
at issue, the document type among those signed. Presence is not claimed: the check is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consumers.auditor.bundle import LogProof
from consumers.auditor.errors import Alarm
from consumers.auditor.report import Check, failed, passed, skipped
from linkage.cards import CHALLENGE_TTL_S, CardCertificate, CardError, be_today, presence_hash, presence_message
from linkage.limits import CONSENT_APPROVED_S as APPROVED_S
from linkage.seal import b64url_decode

__all__ = ["FIRST_ROUND", "PRESENCE", "check_presence", "check_presence_entry", "entry_alarm"]

PRESENCE = 11
# The entries a watch's first round reads (every later round reads all that are new).
FIRST_ROUND = 10_000
# Clocks of the hub's processes may differ a little from the second the challenge names.
_SLACK_S = 5


def _issued(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _common(proof: Mapping[str, Any], doc_type: str, issued_at: object, expiry: str) -> list[str]:
    """What a proof must satisfy whether read from the printout or from the log entry alone."""
    problems = []
    issued = _issued(issued_at)
    try:
        asked = int(str(proof.get("challenge", "")).split(".", 1)[0])
    except ValueError:
        asked = None
    if issued is None or asked is None:
        problems.append("the challenge or issued_at does not say when")
    elif not -_SLACK_S <= issued.timestamp() - asked <= CHALLENGE_TTL_S + _SLACK_S:
        problems.append(f"the challenge was {issued.timestamp() - asked:.0f} s old at issue (at most"
                        f" {CHALLENGE_TTL_S} s)")
    if issued is not None and expiry < be_today(issued):
        problems.append(f"the card had expired ({expiry}, Buddhist era) when the printout was issued")
    if doc_type not in (proof.get("doc_types") or []):
        problems.append(f"the card did not sign for {doc_type}")
    return problems


def check_presence(payload: Mapping[str, Any], issuer: Ed25519PublicKey | None, log_proof: LogProof | None,
                   ) -> tuple[Check, ...]:
    """Check 11 for a sealed printout's payload (and its log leaf, when a log proof is at hand); none for a
    printout that claims neither presence nor consent (its report stays as it was)."""
    if "presence" in payload:
        return (_check_presence(payload, issuer, log_proof),)
    if "consent" in payload:
        return (_check_consent(payload),)
    return ()


def _check_consent(payload: Mapping[str, Any]) -> Check:
    """A consent is the hub's word that the citizen approved on their own page (after the registry checked their
    card details): what can be checked is that it covers this printout, approved before and within its life."""
    consent = payload.get("consent")
    if not isinstance(consent, Mapping):
        return failed(PRESENCE, "the printout's consent is not a consent")
    problems = []
    approved, issued = _issued(consent.get("approved_at")), _issued(payload.get("issued_at"))
    if approved is None or issued is None:
        problems.append("the consent does not say when it was approved")
    elif not approved <= issued <= approved + dt.timedelta(seconds=APPROVED_S):
        problems.append(f"the printout was issued {(issued - approved).total_seconds():.0f} s after the consent's"
                        f" approval (0 to {APPROVED_S:.0f} s)")
    if payload.get("doc_type") not in (consent.get("doc_types") or []):
        problems.append(f"the consent does not cover {payload.get('doc_type')}")
    if problems:
        return failed(PRESENCE, "; ".join(problems))
    return passed(PRESENCE, f"the citizen's consent {consent.get('consent_id')} (approved"
                            f" {consent.get('approved_at')}) covers this printout, on the hub's word")


def _check_presence(payload: Mapping[str, Any], issuer: Ed25519PublicKey | None, log_proof: LogProof | None,
                    ) -> Check:
    try:
        leaf = json.loads(log_proof.leaf) if log_proof is not None else None
    except (ValueError, RecursionError):
        leaf = None  # check 4 says what is wrong with the leaf
    if not isinstance(leaf, Mapping) or leaf.get("printout_id") != payload.get("printout_id"):
        leaf = None  # another printout's leaf: check 4's failure, not compared here
    proof = payload.get("presence")
    if not isinstance(proof, Mapping):
        return failed(PRESENCE, "the printout's presence is not a proof")
    if issuer is None:
        return skipped(PRESENCE, "no card-issuer key pinned (--card-issuer-key, or DIR/pki/card-issuer.pub)")
    try:
        cert = CardCertificate.parse(str(proof.get("card_certificate", "")), issuer)
        signature = b64url_decode(str(proof.get("signature", "")))
    except (CardError, ValueError) as exc:
        return failed(PRESENCE, str(exc))
    problems = _common(proof, str(payload.get("doc_type")), payload.get("issued_at"), cert.expiry_date)
    if cert.subject_id != payload.get("subject_id"):
        problems.append("the card is another person's, not the printout's subject's")
    hash_hex = presence_hash(str(payload.get("agency")), str(payload.get("subject_id")), str(payload.get("purpose")),
                             str(payload.get("officer_id")), str(payload.get("case_ref")),
                             [str(t) for t in proof.get("doc_types") or []])
    try:
        cert.chip.verify(signature, presence_message(str(proof.get("challenge")), hash_hex))
    except InvalidSignature:
        problems.append("the card's signature is not over this challenge and this request")
    logged = leaf.get("presence") if isinstance(leaf, Mapping) else None
    same = isinstance(logged, Mapping) and logged.get("signature") == proof.get("signature") \
        and logged.get("card_certificate_signature") == cert.text.split(".")[1]
    if isinstance(leaf, Mapping) and not same:
        problems.append("the log entry does not hold this printout's presence proof")
    if problems:
        return failed(PRESENCE, "; ".join(problems))
    return passed(PRESENCE, f"the subject's own card (issued by {cert.issuer}, valid until {cert.expiry_date})"
                            " signed the hub's challenge and this request")


def check_presence_entry(entry: Mapping[str, Any]) -> Check:
    """Check 11 as far as a log entry alone allows (no personal ID in the log: no certificate to rebuild)."""
    proof = entry.get("presence")
    if proof is None and "consent" in entry:
        return _check_consent(entry)
    if proof is None:
        return skipped(PRESENCE, "the entry claims neither the citizen's presence nor their consent")
    if not isinstance(proof, Mapping):
        return failed(PRESENCE, "the entry's presence is not a proof")
    try:
        chip = Ed25519PublicKey.from_public_bytes(b64url_decode(str(proof.get("card_key", ""))))
        chip.verify(b64url_decode(str(proof.get("signature", ""))),
                    presence_message(str(proof.get("challenge", "")), str(proof.get("presence_hash", ""))))
    except (ValueError, InvalidSignature):
        return failed(PRESENCE, "the card key did not sign the logged challenge and presence hash")
    problems = _common(proof, str(entry.get("doc_type")), entry.get("issued_at"), str(proof.get("card_expiry", "")))
    if problems:
        return failed(PRESENCE, "; ".join(problems))
    return passed(PRESENCE, "the card's signature over the hub's challenge holds (its certificate is checked with"
                            " the printout, which names the subject)")


def entry_alarm(index: int, entry: dict[str, Any]) -> None:
    """For the log monitor: raise Alarm ``bad_presence`` when a (parsed) entry that claims the citizen's presence
    or consent carries a proof that fails check 11. (The entry's inclusion is the monitor's step 6.)"""
    if "presence" not in entry and "consent" not in entry:
        return
    check = check_presence_entry(entry)
    if check.ok is False:
        raise Alarm("bad_presence", f"entry {index} says the citizen was present or consented, but"
                                    f" its proof fails: {check.detail}")