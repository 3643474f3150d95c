"""A certified printout as a PDF: check (3), the officer's certification, then checks 1-7 on every printout inside.

The counter (``consumers.counter.printout``) makes one A4 PDF per case, PAdES-signed
with the counter agency's certificate in the officer's name, with every printout's
sealed JWS attached as an embedded file. ``verify_pdf`` reads it with pyHanko and
reports per document:

    3  officer's signature  the PDF's one signature, validated by pyHanko against the linkage CA only:
                            a. there is exactly one signature (none: never certified, or stripped)
                            b. integrity: the signed bytes' digest matches, and the CMS signature
                               verifies with the signer's key
                            c. coverage: the signature covers the whole file (nothing added after), or
                               all that follows the signed revision is validation data (a DSS: pyHanko's
                               difference analysis says LTA_UPDATES), as a B-LT copy has
                            d. chain: the signer's certificate chains to the linkage CA, judged at the
                               signing time the signature states (not after ``now``)
                            e. the signer is an agency: its certificate has clientAuth (an agency's TLS
                               identity), not serverAuth, and is no CA; the hub's seal has no clientAuth
                            and, per printout: the signer is the agency the printout was issued to, and
                            it was not certified before the hub issued it
    1, 2, 4-7               each attached JWS as ``verify_printout`` checks any printout. Since 2026-12 the
                            counter attaches each printout's log proof beside it (``<printout_id>.log.json``:
                            the leaf, the inclusion proof and the checkpoint the hub answered with), so 4
                            and 5 run offline too, against the pinned log key (and 6 against the auditor's
                            state). A PDF without them (printed before): online the hub's proof is fetched
                            and checked, offline 4-6 are skipped and say so

The report is a ``PaperReport``: the PDF-wide check 3, problems that make the
PDF invalid whatever its printouts say (no printout attached, an attachment
that is not a printout, a log proof that cannot be read or has no printout
beside it), and one ``Report`` per attached printout. A proof attached beside
another printout than its own fails check 4 (the leaf is another printout's).

    12                      long-term validity (consumers.auditor.longterm): the RFC 3161 timestamp, the
                            validation data embedded, the agency's certificate at the timestamp's time

Check 3's signing time is the signer's own claim: a stolen agency key could
backdate a certification, but no earlier than the printouts it certifies,
which the log dates; since 2026-12 check 12 holds it to the timestamp.

Raises UnreadableInput when pyHanko cannot read the file as a PDF at all;
BadTrustRoot and HubUnreachable as ``verify_printout``. A PDF that can be read
but is wrong is an invalid report. pyHanko is imported on first use (it takes
~0.4 s); its validation is blocking and runs its own event loop, so call
``verify_pdf`` from a worker thread in event-loop code.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consumers.auditor.bundle import LOG_PROOF_SUFFIX, PdfFile, Printout, with_proof
from consumers.auditor.errors import UnreadableInput
from consumers.auditor.log import LogSource
from consumers.auditor.longterm import long_term_check
from consumers.auditor.report import Check, DocumentReport, PaperReport, failed, passed
from consumers.auditor.state import AuditorState
from consumers.auditor.verify import CLOCK_SKEW, Trust, verify_printout
from linkage.seal import CompactJWS

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["MAX_ATTACHMENTS", "verify_pdf"]

MAX_ATTACHMENTS: Final = 64
_MAX_DEPTH: Final = 8  # of the EmbeddedFiles name tree


@dataclass(frozen=True)
class _Certification:
    """What check 3 found about the PDF as a whole; ``for_printout`` is check 3 for one printout in it."""

    check: Check
    signer: str | None = None  # the agency certificate's common name, when the certification holds
    officer: str = ""
    signed_at: dt.datetime | None = None

    def for_printout(self, payload: dict[str, Any]) -> Check:
        if self.check.ok is not True or self.signer is None:
            return failed(3, "the PDF's certification does not hold (see the PDF's check 3)")
        agency = payload.get("agency")
        if agency != self.signer:
            return failed(3, f"the PDF is certified by {self.signer}, but this printout was issued to {agency!r}")
        issued = _issued_at(payload.get("issued_at"))
        if self.signed_at is not None and issued is not None and self.signed_at < issued - CLOCK_SKEW:
            return failed(3, f"certified at {_utc(self.signed_at)}, before the hub issued this printout "
                             f"at {_utc(issued)}")
        return passed(3, f"certified by {self.signer}, the agency it was issued to"
                         + (f", officer {self.officer}" if self.officer else ""))


def verify_pdf(pdf: PdfFile, trust: Trust, *, now: dt.datetime | None = None, state: AuditorState | None = None,
               log: LogSource | None = None) -> PaperReport:
    """Check the signed PDF ``pdf``: its certification (3), then every printout attached (1-7), as of ``now``.

    Raises UnreadableInput if the file is not a PDF pyHanko can read;
    otherwise as ``verify_printout``. ``state`` learns the checkpoints of
    valid printouts (in memory; the caller saves it).
    """
    now = now or dt.datetime.now(dt.UTC)
    reader = _open(pdf)
    certification = _certify(reader, len(pdf.data), trust.ca, now)
    long_term = _long_term(reader, trust, now, certification.signed_at)
    attachments, problems = _attachments(reader)
    proofs = {name.removesuffix(LOG_PROOF_SUFFIX): data for name, data in attachments
              if name.endswith(LOG_PROOF_SUFFIX)}
    documents: list[DocumentReport] = []
    for name, data in attachments:
        if name.endswith(LOG_PROOF_SUFFIX):
            jws_name = name.removesuffix(LOG_PROOF_SUFFIX) + ".jws"
            if jws_name not in {n for n, _ in attachments}:
                problems.append(f"attachment {name!r} is a log proof with no printout ({jws_name}) beside it")
            continue
        try:
            text = data.decode("ascii").strip()
            printout = _printout(CompactJWS(text), proofs.get(name.removesuffix(".jws")), name, trust)
            report = verify_printout(printout, trust, now=now, state=state, log=log,
                                     certification=certification.for_printout)
        except (UnicodeDecodeError, UnreadableInput) as exc:
            why = exc.message if isinstance(exc, UnreadableInput) else "not ASCII text"
            problems.append(f"attachment {name!r} is not a sealed printout (compact JWS) with a readable log proof: "
                            f"{why}")
            continue
        documents.append(DocumentReport(f"attachment {name}", report))
    if not attachments and not problems:
        problems.append("the PDF has no attachment: a certified printout carries each sealed printout (.jws) "
                        "inside it, and without one nothing it shows can be checked")
    checks = (certification.check,) if long_term is None else (certification.check, long_term)
    return PaperReport("pdf", pdf.name, checks, tuple(problems), tuple(documents))


def _long_term(reader: PdfFileReader, trust: Trust, now: dt.datetime, signed_at: dt.datetime | None) -> Check | None:
    """Check 12 (consumers.auditor.longterm) of the PDF's one signature; None for a copy with no timestamp (B-B),
    or when check 3 found no one signature to read."""
    try:
        signatures = reader.embedded_signatures
    except Exception:
        return None
    if len(signatures) != 1:
        return None
    return long_term_check(reader, signatures[0], trust.ca, trust.crls, now, signed_at)


def _printout(jws: CompactJWS, proof: bytes | None, name: str, trust: Trust) -> Printout:
    """The attached printout, with the log proof attached beside it when there is one and the log's key and origin
    are given to check it (without them, checks 4-6 say the proof is there but cannot be checked)."""
    if proof is None or trust.log_key is None or not trust.origin:
        return Printout("pdf", jws)
    return with_proof(jws, proof, name.removesuffix(".jws") + LOG_PROOF_SUFFIX)


def _open(pdf: PdfFile) -> PdfFileReader:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf.data), strict=False)
        reader.root  # noqa: B018 -- resolves the catalog: a PDF without one is no PDF
    except Exception as exc:
        # pyHanko's parser meets hostile bytes here; whatever it raises, the answer is the same.
        raise UnreadableInput(f"{pdf.name}: not a readable PDF ({type(exc).__name__}: {exc})",
                              "ไฟล์ PDF นี้อ่านไม่ได้ (เสียหายหรือไม่ครบ)") from exc
    return reader


def _attachments(reader: PdfFileReader) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The embedded files (name, bytes) of the EmbeddedFiles name tree, and what could not be read."""
    found: list[tuple[str, bytes]] = []
    problems: list[str] = []
    try:
        names = reader.root.get("/Names")
        tree = names.get("/EmbeddedFiles") if names is not None else None
        if tree is not None:
            _walk(tree, found, problems, 0)
    except Exception as exc:
        problems.append(f"the attachments cannot be read ({type(exc).__name__}: {exc})")
    return found, problems


def _walk(node: Any, found: list[tuple[str, bytes]], problems: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        problems.append("the attachment list nests too deep")
        return
    pairs = node.get("/Names")
    if pairs is not None:
        for i in range(0, len(pairs) - 1, 2):
            if len(found) >= MAX_ATTACHMENTS:
                problems.append(f"more than {MAX_ATTACHMENTS} attachments")
                return
            key = str(pairs[i])
            spec = pairs[i + 1].get_object()
            name = str(spec.get("/UF") or spec.get("/F") or key)
            stream = spec.get("/EF", {}).get("/F")
            if stream is None:
                problems.append(f"attachment {name!r} has no embedded file")
                continue
            found.append((name, bytes(stream.get_object().data)))
    for kid in node.get("/Kids") or ():
        _walk(kid.get_object(), found, problems, depth + 1)


def _certify(reader: PdfFileReader, size: int, ca: x509.Certificate, now: dt.datetime) -> _Certification:
    """Check 3 for the PDF as a whole."""
    try:
        signatures = reader.embedded_signatures
    except Exception as exc:
        return _unreadable(exc)
    # a. One signature, the counter's.
    if not signatures:
        return _Certification(failed(3, "the PDF carries no signature: it was never certified, or its signature "
                                        "was stripped"))
    if len(signatures) > 1:
        return _Certification(failed(3, f"the PDF carries {len(signatures)} signatures; a certified printout "
                                        "has exactly one"))
    sig = signatures[0]
    try:
        signer = x509.load_der_x509_certificate(sig.signer_cert.dump())
        signed_at = sig.self_reported_timestamp
    except Exception as exc:
        return _unreadable(exc)
    if signed_at is None or signed_at.tzinfo is None:
        return _Certification(failed(3, "the signature states no signing time"))
    if signed_at > now + CLOCK_SKEW:
        return _Certification(failed(3, f"the signature says it was made at {_utc(signed_at)}, after now "
                                        f"({_utc(now)})"))
    try:
        status = _validate(sig, ca, signed_at)
    except Exception as exc:
        return _Certification(failed(3, f"the signature cannot be validated ({type(exc).__name__}: {exc})"))
    problems: list[str] = []
    # b. Integrity: the bytes signed are the bytes here, and the key in the certificate signed them.
    if not status.intact:
        problems.append("the document was changed after it was signed: the digest of the signed bytes does not "
                        "match the signature's")
    elif not status.valid:
        problems.append("the signature value does not verify with the signer's certificate")
    # c. The whole file: an incremental update after signing could change what is shown or attached.
    coverage = getattr(status.coverage, "name", str(status.coverage))
    level = getattr(status.modification_level, "name", None)
    covered = "covering the whole file"
    if coverage == "ENTIRE_REVISION" and level == "LTA_UPDATES":
        # Only validation data (the DSS: check 12) was added after the signed revision, as PAdES B-LT does.
        covered = "covering the whole file but the validation data added after it (DSS)"
    elif coverage != "ENTIRE_FILE":
        end = _signed_end(sig)
        added = f": {size - end} byte(s) after the signed revision" if end is not None and end < size else ""
        problems.append(f"the signature does not cover the whole file ({coverage}){added}")
    # d. The chain, to the linkage CA only, at the signing time (pyHanko judges it only for a sound signature).
    if status.intact and status.valid and not status.trusted:
        why = status.trust_problem_indic
        problems.append(f"the signer's certificate {signer.subject.rfc4514_string()} (issued by "
                        f"{signer.issuer.rfc4514_string()}) does not chain to the linkage CA "
                        f"{_describe(ca)} at {_utc(signed_at)}" + (f" ({getattr(why, 'name', why)})" if why else ""))
    # e. An agency's certificate, not another kind the same CA issues.
    problems += _not_an_agency(signer)
    if problems:
        return _Certification(failed(3, "; ".join(problems)))
    cn = signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    agency = str(cn[0].value) if cn else signer.subject.rfc4514_string()
    officer = _text(sig.sig_object, "/Name")
    reason = _text(sig.sig_object, "/Reason")
    return _Certification(
        passed(3, f"PAdES signature by {agency} (issued by the linkage CA) at {_utc(signed_at)}, {covered}"
                  + (f"; {reason}" if reason else "")),
        agency, officer, signed_at)


def _unreadable(exc: Exception) -> _Certification:
    # pyHanko parses the signature dictionary and the CMS lazily: hostile bytes surface as any exception.
    return _Certification(failed(3, f"the signature is unreadable, damaged or stripped ({type(exc).__name__}: "
                                    f"{exc})"))


def _validate(sig: Any, ca: x509.Certificate, moment: dt.datetime) -> Any:
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko_certvalidator import ValidationContext

    roots = list(load_certs_from_pemder_data(ca.public_bytes(Encoding.DER)))
    context = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False, revocation_mode="soft-fail")
    # digitalSignature is what every agency certificate has (nonRepudiation only those issued since 687c028).
    usage = KeyUsageConstraints(key_usage={"digital_signature"})
    # The difference analysis runs only when something follows the signed revision (a B-LT copy's DSS).
    whole = getattr(sig.evaluate_signature_coverage(), "name", "") == "ENTIRE_FILE"
    return validate_pdf_signature(sig, context, key_usage_settings=usage, skip_diff=whole)


def _not_an_agency(cert: x509.Certificate) -> list[str]:
    who = cert.subject.rfc4514_string()
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if basic.ca:
            return [f"the signer {who} is a CA, not an agency"]
    except x509.ExtensionNotFound:
        pass
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = set()
    # An agency's certificate is its TLS client identity (and may sign documents too); the hub's seal has no
    # clientAuth, the servers have serverAuth.
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages or ExtendedKeyUsageOID.SERVER_AUTH in usages:
        names = sorted(u._name if u._name != "Unknown OID" else u.dotted_string for u in usages)
        return [f"the signer {who} is not an agency's certificate (extended key usage clientAuth, not serverAuth; "
                f"this has {', '.join(names) or 'none'})"]
    return []


def _signed_end(sig: Any) -> int | None:
    try:
        start, length = int(sig.byte_range[2]), int(sig.byte_range[3])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return start + length


def _text(obj: Any, key: str) -> str:
    try:
        value = obj.get(key)
    except Exception:
        return ""
    return str(value) if value is not None else ""


def _issued_at(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _utc(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (sha256 {cert.fingerprint(hashes.SHA256()).hex()[:16]}…)"
