"""Verification of a printout in seven numbered checks, against trust and time given as inputs.

``verify_printout`` takes the trust inputs (``Trust``: the linkage CA
certificate, the log's note verifier key and origin), the time (``now``), the
auditor's memory of checkpoints (``AuditorState``) and, online, the log
(``LogSource``), and checks in numbered steps, each a line in the ``Report``:

    1  certificate chain    x5c = [seal, ..., trust root]; signatures; the seal certificate
                            valid at issued_at; key usage of a seal, not of a TLS key
    2  hub's seal           header (alg ES256 only, typ, no crit, kid); ECDSA P-256 / SHA-256
                            over header.payload; every printout field, typed; kid is the
                            seal key's thumbprint
    3  officer's signature  the counter officer's PAdES certification (PDF only)
    4  log inclusion        the log leaf is this printout's (id, SHA-256 of the signing input,
                            document type, agency, ...) and the audit path leads from its leaf
                            hash to the checkpoint's root
    5  checkpoint           signed by the pinned log key, for the pinned origin
    6  consistency          the checkpoint and the newest one this auditor saw before are the
                            same tree or one extends the other (offline: only equal sizes)
    7  not revoked          the hub says the printout was not revoked (online only)

A check is passed (✓), failed (✗) or skipped (-, with the reason). The report
is ``valid`` when nothing failed, checks 1 and 2 passed and, when the printout
carries a log proof, 4 and 5 passed too. A bare JWS (or a bundle without a
log proof) can be valid, but its report says the log checks were skipped.

Input that is not a printout at all raises ``UnreadableInput``; a log proof
without a log key or origin to check it against raises ``BadTrustRoot``;
online, a hub that cannot be reached raises ``HubUnreachable``. Everything
else is a Report.

The seal certificate is judged at the printout's own ``issued_at``, which the
hub asserts inside the signed payload; a stolen seal key could backdate it,
but not into a checkpoint that auditors already hold.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID

from consumers.auditor.bundle import LogProof, Printout
from consumers.auditor.errors import BadTrustRoot, HubRefused, UnreadableInput
from consumers.auditor.log import LogSource
from consumers.auditor.state import AuditorState
from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint
from linkage.seal import ALG, PRINTOUT_FIELDS, TYP, CompactJWS, b64url_decode, jwk_thumbprint, printout_digest

__all__ = ["CLOCK_SKEW", "NAMES", "Check", "Report", "Trust", "load_trust_root", "verify_printout"]

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far ``issued_at`` may lie after the verifier's ``now`` (clocks differ)."""

NAMES: Final = {
    1: "certificate chain",
    2: "hub's seal",
    3: "officer's signature",
    4: "log inclusion",
    5: "checkpoint signature",
    6: "log consistency",
    7: "not revoked",
}
_ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_REQUEST_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_SUBJECT_ID = re.compile(r"\d{13}")
_MAY_BE_EMPTY: Final = frozenset({"case_ref"})
_TLS_USAGES: Final = frozenset({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH})
_P256_BYTES = 32
# Leaf fields that must equal the payload's; the first four must be present.
_LEAF_REQUIRED: Final = ("printout_id", "doc_type", "agency")
_LEAF_OPTIONAL: Final = ("provider", "officer_id", "purpose", "case_ref", "issued_at")


@dataclass(frozen=True)
class Trust:
    """What the auditor trusts: the linkage CA, and the audit log's note key and origin."""

    ca: x509.Certificate
    log_key: NoteVerifier | None = None
    origin: str | None = None


@dataclass(frozen=True)
class Check:
    """One numbered step: ``ok`` is True (passed), False (failed) or None (skipped)."""

    number: int
    name: str
    ok: bool | None
    detail: str

    def render(self) -> str:
        mark = {True: "✓", False: "✗", None: "-"}[self.ok]
        return f"[{self.number}] {mark} {self.name}: {self.detail}"


def _check(number: int, ok: bool | None, detail: str) -> Check:
    return Check(number, NAMES[number], ok, detail)


def _skip(number: int, why: str) -> Check:
    return Check(number, NAMES[number], None, f"skipped: {why}")


@dataclass(frozen=True)
class Report:
    """The outcome of ``verify_printout``; ``printout`` is the payload only when ``valid``."""

    valid: bool
    checks: tuple[Check, ...]
    printout: dict[str, Any] | None

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is False)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is None)

    def render(self) -> str:
        """Human form: one line per check, then the verdict (Thai first, English beside it)."""
        lines = [c.render() for c in self.checks]
        skipped = ", ".join(str(c.number) for c in self.skipped)
        if self.valid and self.printout is not None:
            lines.append(f"ถูกต้อง / VALID: printout {self.printout['printout_id']}"
                         + (f" (ข้าม / skipped: {skipped})" if skipped else ""))
        else:
            numbers = ", ".join(str(c.number) for c in self.failed) or f"none (skipped: {skipped})"
            lines.append(f"ไม่ถูกต้อง / INVALID: failed check(s) {numbers}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "valid": self.valid,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "failed": [c.number for c in self.failed],
            "skipped": [c.number for c in self.skipped],
            "printout": self.printout,
        }, ensure_ascii=False, indent=2)


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
                    state: AuditorState | None = None, log: LogSource | None = None) -> Report:
    """Check ``printout`` against ``trust`` as of ``now`` (default: the clock), in seven numbered checks.

    ``state`` is what this auditor saw of the log before (check 6); a valid
    printout's checkpoint is remembered in it (in memory: the caller saves
    it). ``log`` is the hub's audit log for the online checks (6 for other
    sizes, 7); None means offline.

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
    header_b64, payload_b64, header, payload, signature = _parse(printout.jws)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    issued_at = _parse_issued_at(payload.get("issued_at"))
    certs, x5c_problems = _decode_x5c(header.get("x5c"))

    # (1) The chain ends at the trust root and the seal certificate was a seal's, valid at issued_at.
    check1 = _check_chain(certs, x5c_problems, trust.ca, issued_at)
    # (2) The header asks for what we verify, the seal key signed header.payload, the payload is whole.
    check2 = _check_seal(header, payload, certs, signing_input, signature, issued_at, now)
    # (3) The officer's certification lives in the PDF; other forms have none.
    check3 = _skip(3, f"not a PDF (a {printout.form})")
    if proof is None:
        why = "a bare JWS carries no log proof" if printout.form == "jws" else "the bundle carries no log proof"
        check4, check5 = _skip(4, why), _skip(5, why)
        check6, checkpoint = _skip(6, why), None
    else:
        assert trust.log_key is not None and trust.origin is not None
        # (5) first in the code: check 4 needs the checkpoint's root, and says whether it was signed.
        check5, checkpoint = _check_checkpoint(proof, trust.log_key, trust.origin)
        # (4) The leaf is this printout's entry and the audit path leads from it to the checkpoint's root.
        check4 = _check_inclusion(proof, printout.log_index, printout.jws, payload, checkpoint)
        # (6) The checkpoint and the newest one seen before are one history.
        check6 = _check_consistency(checkpoint, state, log)
    # (7) The hub has not revoked it.
    check7 = _check_revocation(payload.get("printout_id"), log)

    checks = (check1, check2, check3, check4, check5, check6, check7)
    required = (check1, check2) if proof is None else (check1, check2, check4, check5)
    valid = all(c.ok is not False for c in checks) and all(c.ok is True for c in required)
    if valid and state is not None and checkpoint is not None:
        state.remember(checkpoint, proof.checkpoint if proof else "")
    return Report(valid=valid, checks=checks, printout=payload if valid else None)


def _parse(jws: str) -> tuple[str, str, dict[str, Any], dict[str, Any], bytes]:
    if not isinstance(jws, str):
        raise UnreadableInput(f"a printout is a string, not {type(jws).__name__}")
    parts = jws.split(".")
    if len(parts) != 3:
        raise UnreadableInput(f"a compact JWS has three parts joined by '.', this has {len(parts)}")
    decoded: list[bytes] = []
    for name, part in zip(("header", "payload", "signature"), parts, strict=True):
        if not part and name != "signature":  # an empty signature is an alg "none" token: check 1 says so
            raise UnreadableInput(f"the JWS {name} is empty")
        try:
            decoded.append(b64url_decode(part))
        except (ValueError, binascii.Error) as exc:
            raise UnreadableInput(f"the JWS {name} is not base64url") from exc
    header = _json_object("header", decoded[0])
    payload = _json_object("payload", decoded[1])
    return parts[0], parts[1], header, payload, decoded[2]


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
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
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


def _decode_x5c(x5c: object) -> tuple[list[x509.Certificate] | None, list[str]]:
    if x5c is None:
        return None, ["x5c missing"]
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        return None, ["x5c must be a non-empty list of base64 strings"]
    certs: list[x509.Certificate] = []
    for i, text in enumerate(x5c):
        try:
            # x5c is standard base64 with padding (RFC 7515 s4.1.6), unlike the rest of the JWS.
            certs.append(x509.load_der_x509_certificate(binascii.a2b_base64(text, strict_mode=True)))
        except (binascii.Error, ValueError) as exc:
            return None, [f"x5c[{i}] is not a base64 DER certificate ({exc})"]
    return certs, []


def _seal_key_usage(_policy: xv.Policy, _cert: x509.Certificate, ku: x509.KeyUsage) -> None:
    if not (ku.digital_signature and ku.content_commitment) or ku.key_cert_sign:
        raise ValueError("key usage is not a seal's (digitalSignature + nonRepudiation, no keyCertSign)")


def _seal_ext_key_usage(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    # Every agency and server certificate comes from the same CA: none of them may seal.
    if eku is not None and _TLS_USAGES & set(eku):
        raise ValueError("a TLS certificate (serverAuth/clientAuth) cannot seal printouts")


def _check_chain(certs: list[x509.Certificate] | None, x5c_problems: list[str], root: x509.Certificate,
                 issued_at: dt.datetime | None) -> Check:
    if certs is None:
        return _check(1, False, "; ".join(x5c_problems))
    if issued_at is None:
        return _skip(1, "issued_at unreadable, no time to judge the chain at (see check 2)")
    seal = certs[0]
    if len(certs) < 2 or certs[-1] != root:
        # Sandbox CAs all share one name: tell them apart by fingerprint.
        return _check(1, False, f"x5c must end with the trust root ({_describe(root)}), "
                                f"ends with {_describe(certs[-1])}")
    if not seal.not_valid_before_utc <= issued_at <= seal.not_valid_after_utc:
        return _check(1, False,
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
        return _check(1, False, str(exc))
    return _check(1, True, f"{seal.subject.rfc4514_string()} issued by {root.subject.rfc4514_string()}, "
                           f"valid at issued_at")


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()}, sha256 {cert.fingerprint(hashes.SHA256()).hex()[:16]}…"


def _check_seal(header: dict[str, Any], payload: dict[str, Any], certs: list[x509.Certificate] | None,
                signing_input: bytes, signature: bytes, issued_at: dt.datetime | None, now: dt.datetime) -> Check:
    problems = _header_problems(header)
    signed = _signature_problem(header, certs, signing_input, signature, problems)
    problems += _payload_problems(payload, header, certs, issued_at, now)
    if problems:
        return _check(2, False, "; ".join(problems))
    if not signed:
        return _skip(2, "no seal certificate to check the signature with (see check 1)")
    return _check(2, True, f"{ALG} by the seal certificate's key; {payload['doc_type']} "
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


def _short(h: bytes) -> str:
    return h.hex()[:16] + "…"


def _unsigned_checkpoint(note: str) -> Checkpoint | None:
    text, sep, _ = note.partition("\n\n")
    try:
        return Checkpoint.from_text(text + "\n") if sep else None
    except CheckpointError:
        return None


def _check_checkpoint(proof: LogProof, key: NoteVerifier, origin: str) -> tuple[Check, Checkpoint | None]:
    try:
        checkpoint = open_checkpoint(proof.checkpoint, [key], origin)
    except CheckpointError as exc:
        return _check(5, False, f"{exc} ({exc.code})"), None
    return _check(5, True, f"signed by {key.name} for {origin}: size {checkpoint.size}, "
                           f"root {_short(checkpoint.root_hash)}"), checkpoint


def _check_inclusion(proof: LogProof, log_index: int | None, jws: str, payload: dict[str, Any],
                     checkpoint: Checkpoint | None) -> Check:
    problems = _leaf_problems(proof.leaf, jws, payload)
    if log_index is not None and log_index != proof.leaf_index:
        problems.append(f"the bundle says log index {log_index}, the proof is for leaf {proof.leaf_index}")
    # Against the signed root if check 5 passed; else against the note's unsigned root, so both get reported.
    against = checkpoint or _unsigned_checkpoint(proof.checkpoint)
    unsigned = "" if checkpoint else " (unsigned, see check 5)"
    if against is None:
        problems.append("no checkpoint to prove against (see check 5)")
    elif proof.tree_size != against.size:
        problems.append(f"the proof is for tree size {proof.tree_size}, the checkpoint{unsigned} "
                        f"is of size {against.size}")
    else:
        try:
            merkle.verify_inclusion(merkle.leaf_hash(proof.leaf), proof.leaf_index, proof.tree_size,
                                    proof.hashes, against.root_hash)
        except merkle.RootMismatch as exc:
            problems.append(f"the audit path leads to root {_short(exc.calculated)}, not the checkpoint's"
                            f"{unsigned} {_short(exc.expected)}")
        except merkle.MerkleError as exc:
            problems.append(f"the audit path is malformed: {exc.message} ({exc.code})")
    if problems:
        return _check(4, False, "; ".join(problems))
    return _check(4, True, f"leaf {proof.leaf_index} of {proof.tree_size} is this printout's entry "
                           f"and chains to the checkpoint's root")


def _leaf_problems(leaf: bytes, jws: str, payload: dict[str, Any]) -> list[str]:
    try:
        entry = json.loads(leaf.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ["the log leaf is not UTF-8 JSON"]
    if not isinstance(entry, dict):
        return ["the log leaf is not a JSON object"]
    problems: list[str] = []
    if entry.get("kind") != "printout":
        problems.append(f"the log leaf is a {entry.get('kind')!r} entry, not a printout's")
    digest = printout_digest(jws)
    if entry.get("printout_sha256") != digest:
        problems.append(f"the log leaf's printout_sha256 {str(entry.get('printout_sha256'))[:16]}… is not "
                        f"the SHA-256 of this JWS's signing input {digest[:16]}…")
    for name in (*_LEAF_REQUIRED, *_LEAF_OPTIONAL):
        if name not in entry and name in _LEAF_OPTIONAL:
            continue
        if entry.get(name) != payload.get(name):
            problems.append(f"the log leaf's {name} {entry.get(name)!r} is not the printout's {payload.get(name)!r}")
    return problems


def _check_consistency(checkpoint: Checkpoint | None, state: AuditorState | None, log: LogSource | None) -> Check:
    if checkpoint is None:
        return _skip(6, "the checkpoint is not trusted (see check 5)")
    if state is None:
        return _skip(6, "no auditor state given")
    origin, size, root = checkpoint.origin, checkpoint.size, checkpoint.root_hash
    newest = state.newest(origin)
    if newest is None:
        return _skip(6, f"the first checkpoint this auditor sees of {origin} (size {size}): nothing to compare")
    known = state.root_at(origin, size)
    if known is not None:
        if known != root:
            return _check(6, False, f"fork: at size {size} the checkpoint's root is {root.hex()}, "
                                    f"this auditor saw {known.hex()} before")
        return _check(6, True, f"size {size}: the same root this auditor saw before")
    (old_size, old_root), (new_size, new_root) = sorted([(size, root), (newest.size, newest.root_hash)])
    if log is None:
        return _skip(6, f"offline: the checkpoint (size {size}) and the newest seen before (size {newest.size}) "
                        f"differ in size, and proving them one history needs the hub")
    if old_size == 0:
        return _check(6, True, f"the newest checkpoint seen before was of the empty tree; now size {size}")
    try:
        hashes = log.consistency_proof(old_size, new_size)
        merkle.verify_consistency(old_size, new_size, hashes, old_root, new_root)
    except HubRefused as exc:
        return _check(6, False, f"the hub cannot prove size {old_size} -> {new_size} consistent: {exc.message}")
    except merkle.MerkleError as exc:
        return _check(6, False, f"fork or rewritten log: size {old_size} (root {old_root.hex()}) and size "
                                f"{new_size} (root {new_root.hex()}) are not one history: {exc.message}")
    return _check(6, True, f"consistent with the newest checkpoint seen before (size {newest.size}); "
                           f"proof {old_size} -> {new_size} from the hub")


def _check_revocation(printout_id: object, log: LogSource | None) -> Check:
    if log is None:
        return _skip(7, "offline: only the hub knows revocations")
    if not isinstance(printout_id, str):
        return _skip(7, "no printout_id to ask about (see check 2)")
    try:
        revocation = log.revocation(printout_id)
    except HubRefused as exc:
        return _check(7, False, f"the hub has no revocation status for it: {exc.message}")
    if revocation.revoked:
        return _check(7, False, f"ถูกเพิกถอน / REVOKED at {revocation.revoked_at}: {revocation.reason} "
                                f"(log index {revocation.log_index})")
    return _check(7, True, "the hub says it is not revoked")
