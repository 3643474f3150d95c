"""Verification of one printout in numbered checks, against trust and time given as inputs.

``verify_printout`` takes the trust inputs (``Trust``: the linkage CA certificate, the log's note verifier key
and origin, the card-issuer key), the time (``now``), the auditor's memory of checkpoints (``AuditorState``)
and, online, the log (``LogSource``), and checks in numbered steps, each a line in the ``Report``:

    1  certificate chain    x5c = [seal, ..., trust root]; signatures; the seal certificate
                            valid at issued_at; key usage of a seal, not of a TLS key; with a
                            pinned seal key set (DIR/pki/seal-keys.json), the seal key listed and
                            in force at issued_at: not retired before it (``linkage keys rotate``)
    2  hub's seal           header (alg ES256 only, typ, no crit, kid); ECDSA P-256 / SHA-256
                            over header.payload; every printout field, typed; kid is the
                            seal key's thumbprint
    3  officer's signature  the counter's PAdES certification of the PDF the printout was found in
                            (``consumers.auditor.pdf`` makes it; other forms skip it)
    4  log inclusion        the log leaf is this printout's (id, SHA-256 of the signing input,
                            document type, agency, ...) and the audit path leads from its leaf
                            hash to the checkpoint's root
    5  checkpoint           signed by the pinned log key, for the pinned origin; with a pinned key
                            set (DIR/pki/log-keys.json), by a key in force at its signed-at time
    6  consistency          the checkpoint and the newest one this auditor saw before are the
                            same tree or one extends the other (offline: only equal sizes)
    7  not revoked          the hub says it was not revoked (offline: its signed list kept, revocations.py;
                            skipped when known not to be in that hub's log: check 4 failed or a foreign CA)
    8  witnesses            a quorum of the pinned witnesses cosigned the checkpoint or, online, one
                            that extends it (skipped without witnesses; offline without the quorum)
    11 citizen present      a printout claiming presence: the card's proof (``consumers.auditor.presence``)

Checks 4-7 live in ``consumers.auditor.logcheck``, 8 in ``consumers.auditor.witnesses``, 10 (the officer
session's proof, in the log entry) in ``consumers.auditor.officercheck``. A printout that carries no log proof (a
bare JWS, a bundle without one, a PDF attachment) gets one from the hub when online (its entry, the newest
checkpoint and an inclusion proof, all checked as a bundle's would be); offline, 4-6 are skipped.

A check is passed (✓), failed (✗) or skipped (-, with the reason). The report is ``valid`` when nothing failed,
checks 1 and 2 passed, 3 passed when the printout came from a PDF and, when a log proof was carried or fetched, 4
and 5 passed too. A printout without a log proof can be valid offline, but its report says the log checks were
skipped.

A printout changed after sealing is invalid whatever the change broke: a part that no longer reads (not
base64url, not a JSON object) fails checks 1 and 2, the seal having been checked over the raw header.payload
first, while the rest is still recognisably a printout (a header naming its ``alg``, or a payload with a
``printout_id``).

Input that is not a printout at all raises ``UnreadableInput``; a log proof without a log key or origin to check
it against raises ``BadTrustRoot``; online, a hub that cannot be reached raises ``HubUnreachable``. Everything else
is a Report.

The seal certificate is judged at the printout's own ``issued_at``, which the hub asserts inside the signed
payload; a stolen seal key could backdate it, but not into a checkpoint that auditors already hold.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from consumers.auditor.bundle import ACCEPTED, LogProof, Printout, PrintoutForm
from consumers.auditor.chain import check_chain, check_seal_key, decode_x5c
from consumers.auditor.errors import BadTrustRoot, UnreadableInput
from consumers.auditor.log import LogSource
from consumers.auditor.logcheck import check_log, conclude, fetch_proof
from consumers.auditor.officercheck import check_officer
from consumers.auditor.presence import check_presence
from consumers.auditor.report import NAMES, Check, Report, failed, passed, skipped
from consumers.auditor.revocations import RevocationStatus
from consumers.auditor.state import AuditorState
from consumers.auditor.witnesses import WitnessTrust
from linkage.checkpoint import KeyWindow, NoteVerifier
from linkage.keyset import SealKey
from linkage.officers import OfficerKey
from linkage.seal import ALG, PRINTOUT_FIELDS, TYP, CompactJWS, b64url_decode, jwk_thumbprint, printout_digest

__all__ = ["CLOCK_SKEW", "NAMES", "Certification", "Check", "Report", "Trust", "load_trust_root", "verify_printout"]

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far ``issued_at`` may lie after the verifier's ``now`` (clocks differ)."""

Certification = Callable[[dict[str, Any]], Check]
"""Check 3 for one printout of a signed PDF, given its (unverified) payload: see ``consumers.auditor.pdf``."""

_ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_REQUEST_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_SUBJECT_ID = re.compile(r"\d{13}")
_MAY_BE_EMPTY: Final = frozenset({"case_ref"})
_P256_BYTES = 32
_NO_PROOF: Final[dict[PrintoutForm, str]] = {
    "jws": "a bare JWS carries no log proof", "bundle": "the bundle carries no log proof",
    "pdf": "the PDF attaches the sealed JWS only, not its log proof (or the log's key and origin to check it are "
           "not given)",
}


@dataclass(frozen=True)
class Trust:
    """What the auditor trusts: the linkage CA, the audit log's note key and origin, and (for QR summaries,
    which name their signer by fingerprint only) the agency certificates. ``officer_keys``: check 10's.

    ``log_keys`` and ``seal_keys`` are pinned key sets with windows (``linkage.keys``): when given, a
    checkpoint must be signed by a log key in force when it was signed (``log_key`` is then the newest),
    and a printout sealed by a seal key of the set in force at its ``issued_at``. ``witnesses``: check 8's."""

    ca: x509.Certificate
    log_key: NoteVerifier | None = None
    origin: str | None = None
    agencies: tuple[x509.Certificate, ...] = ()
    log_keys: tuple[KeyWindow, ...] = ()
    seal_keys: tuple[SealKey, ...] = ()
    witnesses: WitnessTrust | None = None
    officer_keys: tuple[OfficerKey, ...] | None = None
    crls: tuple[bytes, ...] = ()  # the linkage CA's CRLs (DER) held beside a PDF's own: check 12 (`--crl`)
    revocations: RevocationStatus | None = None  # the hub's revocation list kept, for check 7 offline
    card_issuer: Ed25519PublicKey | None = None  # check 11's: the civil registry's card-issuer key

    @property
    def log_trust(self) -> NoteVerifier | tuple[KeyWindow, ...] | None:
        """What checkpoints are opened with: the pinned key set if any, else the one pinned key."""
        return self.log_keys or self.log_key


def load_trust_root(path: Path) -> x509.Certificate:
    """The CA certificate in ``path`` (PEM or DER); raises BadTrustRoot."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadTrustRoot(f"{path}: cannot read the CA certificate ({exc.strerror or exc})") from exc
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise BadTrustRoot(f"{path}: not an X.509 certificate (PEM or DER)") from exc


def verify_printout(printout: Printout | str, trust: Trust | x509.Certificate, *, now: dt.datetime | None = None,
                    state: AuditorState | None = None, log: LogSource | None = None,
                    certification: Certification | None = None) -> Report:
    """Check ``printout`` against ``trust`` as of ``now`` (default: the clock), in numbered checks (1-8, 10).

    ``state`` is what this auditor saw of the log before (check 6); a valid
    printout's checkpoint is remembered in it (in memory: the caller saves
    it). ``log`` is the hub's audit log for the online checks (4 and 5 for a
    printout without a log proof, 6 for other sizes, 7); None means offline.
    ``certification`` is check 3 for a printout found in a signed PDF; it
    must then pass too.

    Raises UnreadableInput if the JWS is not three base64url parts whose header
    and payload are JSON objects; BadTrustRoot if the printout carries a log
    proof and ``trust`` has no log key or origin; HubUnreachable if ``log``
    cannot be asked; ValueError if ``now`` is naive. Everything else is
    reported in the returned Report.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(printout, str):
        printout = Printout("jws", CompactJWS(printout))
    if isinstance(trust, x509.Certificate):
        trust = Trust(trust)
    proof = printout.proof
    if proof is not None and (trust.log_key is None or not trust.origin):
        raise BadTrustRoot("this printout carries a log proof: the log's verifier key and origin are needed "
                           "to check it (--log-key/--origin, or --home DIR with DIR/pki/log-note.vkey)")
    token = _parse(printout.jws)
    if token.damage:
        return _damaged(token, trust, printout.form, certification)
    header, payload, signature = token.header or {}, token.payload or {}, token.signature or b""
    signing_input = token.signing_input
    issued_at = _parse_issued_at(payload.get("issued_at"))
    certs, x5c_problems = decode_x5c(header.get("x5c"))

    # (1) The chain ends at the trust root and the seal certificate was a seal's, valid at issued_at.
    check1 = check_seal_key(check_chain(certs, x5c_problems, trust.ca, issued_at), certs, trust.seal_keys,
                             issued_at)
    # (2) The header asks for what we verify, the seal key signed header.payload, the payload is whole.
    check2 = _check_seal(header, payload, certs, signing_input, signature, issued_at, now)
    # (3) The officer's certification lives in the PDF; other forms have none.
    check3 = certification(payload) if certification else skipped(3, f"not a PDF (a {printout.form})")
    # No proof carried: online, ask the hub for one (and check it as if carried); offline, say what is missing.
    no_proof, fetched = None, False
    if proof is None:
        proof, no_proof = _proof_online(printout.form, payload, trust, log)
        fetched = proof is not None
    # (4)-(8) The log holds it, the log is one history, the hub has not revoked it, witnesses cosigned it.
    logged = check_log(proof, no_proof, payload, printout_digest(printout.jws), key=trust.log_trust,
                       origin=trust.origin, state=state, log=log, log_index=printout.log_index, fetched=fetched,
                       issued_here=check1.ok is True, witnesses=trust.witnesses, now=now,
                       revocations=trust.revocations)
    # (10) Only for a printout that names an officer session: there is then a claim to check. (11) Likewise for
    # one that claims the citizen's presence or consent.
    checks = (check1, check2, check3, *logged.checks, *check_officer(payload, proof, trust.officer_keys),
              *check_presence(payload, trust.card_issuer, proof))
    required = [check1, check2, *([check3] if certification is not None else [])]
    valid = conclude(checks, required, logged, state)
    return Report(valid=valid, checks=checks, printout=payload if valid else None)


def _proof_online(form: PrintoutForm, payload: dict[str, Any], trust: Trust,
                  log: LogSource | None) -> tuple[LogProof | None, Check | None]:
    """A printout without a log proof: the hub's, fetched (to be checked), or check 4 skipped/failed saying why."""
    why = _NO_PROOF.get(form, f"a {form} carries no log proof")
    if log is None:
        return None, skipped(4, f"{why}; online, it is fetched from the hub")
    if trust.log_key is None or not trust.origin:
        return None, skipped(4, f"{why}, and the log's verifier key and origin to check one from the hub are not "
                                "given (--log-key and --origin, or --home DIR)")
    printout_id, subject_id = payload.get("printout_id"), payload.get("subject_id")
    if not isinstance(printout_id, str) or not isinstance(subject_id, str):
        return None, skipped(4, f"{why}, and it has no printout_id and subject_id to find it in the log by "
                                "(see check 2)")
    return fetch_proof(log, printout_id, subject_id)


@dataclass(frozen=True)
class _Token:
    """A compact JWS taken apart. ``damage``: each part (header, payload, signature) that cannot be read, and why;
    the raw signing input is kept, so that a damaged printout's seal is still checked over what it says."""

    signing_input: bytes
    header: dict[str, Any] | None
    payload: dict[str, Any] | None
    signature: bytes | None
    damage: dict[str, str]


def _parse(jws: str) -> _Token:
    """The three parts of a printout, each read as far as it can be.

    A part that cannot be read (not base64url, not a UTF-8 JSON object) is damage, reported by checks 1 and 2,
    as long as the rest is still recognisably a printout: header and payload both read, or the one that reads is a
    printout's (a header naming its ``alg``, a payload with a ``printout_id``). Otherwise this is not a printout
    at all: UnreadableInput.
    """
    if not isinstance(jws, str):
        raise UnreadableInput(f"a printout is a string, not {type(jws).__name__}")
    parts = jws.split(".")
    if len(parts) != 3:
        raise UnreadableInput(f"a compact JWS has three parts joined by '.', this has {len(parts)}; {ACCEPTED}")
    damage: dict[str, str] = {}
    header = _json_part("header", parts[0], damage)
    payload = _json_part("payload", parts[1], damage)
    signature: bytes | None = None
    try:
        signature = b64url_decode(parts[2])  # empty: an alg "none" token, which check 2 refuses
    except (ValueError, binascii.Error):
        damage["signature"] = "the JWS signature is not base64url"
    ours = (header is not None and "alg" in header) or (payload is not None and "printout_id" in payload)
    if (header is None and payload is None) or ((header is None or payload is None) and not ours):
        raise UnreadableInput("not a printout (" + "; ".join(damage[k] for k in ("header", "payload") if k in damage)
                              + f"); {ACCEPTED}")
    # Bytes as they are (a damaged part may hold any character): ASCII when intact, as the signer saw them.
    signing_input = f"{parts[0]}.{parts[1]}".encode("utf-8", "surrogateescape")
    return _Token(signing_input, header, payload, signature, damage)


def _json_part(name: str, part: str, damage: dict[str, str]) -> dict[str, Any] | None:
    """The header or payload as a JSON object, or None with the reason in damage."""
    if not part:
        damage[name] = f"the JWS {name} is empty"
        return None
    try:
        return _json_object(name, b64url_decode(part))
    except (ValueError, binascii.Error):
        damage[name] = f"the JWS {name} is not base64url"
    except UnreadableInput as exc:
        damage[name] = exc.message
    return None


def _damaged(token: _Token, trust: Trust, form: PrintoutForm, certification: Certification | None) -> Report:
    """A printout with a part that cannot be read: invalid, checks 1 and 2 saying what is wrong with it.

    The seal is checked over the raw header.payload first, when the header still names the certificate: a
    printout changed after sealing then fails check 2 for that, whatever the change broke.
    """
    header = token.header or {}
    certs, x5c_problems = decode_x5c(header.get("x5c")) if token.header is not None else (None, [])
    if token.header is None:
        check1 = failed(1, f"{token.damage['header']}: the seal certificate (x5c) cannot be read")
    elif certs is None:
        check1 = failed(1, "; ".join(x5c_problems))
    else:
        check1 = skipped(1, "no issued_at to judge the chain at: the payload cannot be read (see check 2)") \
            if token.payload is None else check_chain(certs, [], trust.ca, _parse_issued_at(
                token.payload.get("issued_at")))
    problems: list[str] = []
    if token.header is not None and token.signature is not None:
        _signature_problem(header, certs, token.signing_input, token.signature, problems)
        if problems == ["the signature does not match the header and payload"]:
            problems = ["the seal does not match the header and payload: the printout was changed after sealing"]
    problems += token.damage.values()
    check2 = failed(2, "; ".join(problems))
    after = "the printout is damaged (see checks 1 and 2)"
    check3 = skipped(3, after if certification else f"not a PDF (a {form})")
    return Report(valid=False, checks=(check1, check2, check3, *(skipped(n, after) for n in (4, 5, 6, 7, 8))),
                  printout=None)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # RFC 7515 s4: a parser may take either value; refusing both avoids disagreeing with one.
            raise ValueError(f"duplicate member {key!r}")
        obj[key] = value
    return obj


def _json_object(name: str, data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise UnreadableInput(f"the JWS {name} is not UTF-8 JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise UnreadableInput(f"the JWS {name} is JSON but not an object")
    return obj


def _parse_issued_at(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not _ISSUED_AT.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _check_seal(header: dict[str, Any], payload: dict[str, Any], certs: list[x509.Certificate] | None,
                signing_input: bytes, signature: bytes, issued_at: dt.datetime | None, now: dt.datetime) -> Check:
    problems = _header_problems(header)
    signed = _signature_problem(header, certs, signing_input, signature, problems)
    problems += _payload_problems(payload, header, certs, issued_at, now)
    if problems:
        return failed(2, "; ".join(problems))
    if not signed:
        return skipped(2, "no seal certificate to check the signature with (see check 1)")
    return passed(2, f"{ALG} by the seal certificate's key; {payload['doc_type']} "
                           f"{payload['printout_id']} issued {payload['issued_at']}")


def _header_problems(header: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if header.get("alg") != ALG:
        problems.append(f"alg must be {ALG}, got {header.get('alg')!r}")
    if header.get("typ") != TYP:
        problems.append(f"typ must be {TYP!r}, got {header.get('typ')!r}")
    if "crit" in header:
        problems.append("crit lists extensions this verifier does not understand")
    if not isinstance(header.get("kid"), str):
        problems.append("kid missing")
    return problems


def _signature_problem(header: dict[str, Any], certs: list[x509.Certificate] | None, signing_input: bytes,
                       signature: bytes, problems: list[str]) -> bool:
    """Append why the signature is bad to ``problems``; return whether it was checked at all."""
    if header.get("alg") != ALG or certs is None:
        return False  # the alg is fixed: nothing else is ever tried
    key = certs[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        problems.append("the seal certificate's key is not ECDSA P-256")
        return True
    if len(signature) != 2 * _P256_BYTES:
        problems.append(f"an ES256 signature is 64 bytes (r||s), this is {len(signature)}")
        return True
    r = int.from_bytes(signature[:_P256_BYTES], "big")
    s = int.from_bytes(signature[_P256_BYTES:], "big")
    try:
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        problems.append("the signature does not match the header and payload")
    return True


def _payload_problems(payload: dict[str, Any], header: dict[str, Any], certs: list[x509.Certificate] | None,
                      issued_at: dt.datetime | None, now: dt.datetime) -> list[str]:
    problems: list[str] = []
    for name in PRINTOUT_FIELDS:
        if name not in payload:
            problems.append(f"{name} missing")
            continue
        value = payload[name]
        if name == "data":
            if not isinstance(value, dict):
                problems.append("data must be an object")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string")
        elif not value and name not in _MAY_BE_EMPTY:
            problems.append(f"{name} is empty")
    if isinstance(payload.get("printout_id"), str):
        try:
            uuid.UUID(payload["printout_id"])
        except ValueError:
            problems.append("printout_id is not a UUID")
    if isinstance(payload.get("subject_id"), str) and not _SUBJECT_ID.fullmatch(payload["subject_id"]):
        problems.append("subject_id is not 13 digits")
    if isinstance(payload.get("request_hash"), str) and not _REQUEST_HASH.fullmatch(payload["request_hash"]):
        problems.append("request_hash is not sha256:<64 hex>")
    if "issued_at" in payload:
        if issued_at is None:
            problems.append("issued_at is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
        elif issued_at > now + CLOCK_SKEW:
            problems.append(f"issued_at {payload['issued_at']} is after now ({now:%Y-%m-%dT%H:%M:%SZ})")
    if certs is not None:
        key = certs[0].public_key()
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            thumbprint = jwk_thumbprint(key)
            if isinstance(header.get("kid"), str) and header["kid"] != thumbprint:
                problems.append(f"kid {header.get('kid')!r} is not the seal key's thumbprint {thumbprint}")
    return problems


