"""The paper's QR code since 2026-11: what the certified printout says, signed by the counter agency, the EU DCC way.

The counter makes it (``make_paper_code``) and draws it (consumers/counter/paper.py); auditors read it
(``join_parts``, ``verify_paper_code``). Unlike the JWS summary before it (consumers/auditor/summary.py,
still read for copies printed before), it holds every printed field, so a photo of the paper is enough to
know what the paper must say, and to notice a field someone changed.

    QR text   "LP1:" Base45(zlib(COSE_Sign1))                         the whole, in one QR code; zlib with
                                                                      the preset dictionary of paperdict.py
              "LP1/k/n/SETID:" chunk k of the Base45 text              one part of n (SETID: first 4 bytes of
                                                                      SHA-256 of the whole Base45 text, hex)
    COSE      Sign1, ES256 by the counter agency's certificate key; kid = first 8 bytes of SHA-256 of the
              certificate's DER (as the EU DCC names its signers): the certificate is not carried
    payload   a CBOR map (RFC 8949 core deterministic encoding), small integer keys:

        1  version         1
        2  subject_id      the 13-digit ID the paper is about
        3  subject_name    as printed
        4  printed_at      when the paper was printed (epoch seconds)
        5  officer_id      the certifying officer
        6  officer_name    as printed
        7  case_ref
        8  service         the service's name, as printed
        9  agency_title    the counter agency's name, as printed at the top
        10 documents       [ {1 doc_type, 2 printout_id (16-byte UUID), 3 digest (first 16 bytes of the
                              printout's SHA-256, ``linkage.seal.printout_digest``), 4 title as printed,
                              5 issued_at (epoch seconds), 6 rows [[label, value], ...] as printed}, ... ]
        11 still_to_bring  [text, ...] the documents the citizen must still bring, as printed

Everything alphanumeric: Base45 uses the 45 characters of the QR code's alphanumeric mode (5.5 bits a
character), so the code carries binary at 8.25 bits a byte where byte mode would take 8, and every QR
reader hands the text over unmangled. zlib (level 9) takes the Thai UTF-8 rows to about a third, and
about 28 % less again with a preset dictionary of the words every paper repeats (paperdict.py).

Why one set of QR codes for the whole paper rather than one per page: measured on the sandbox's
cases (docs/audit.md, scripts/bench_paper.py), a case of five documents compresses to ~1.26 kB, ~1 900
characters, more than one code holds at a size a 150-dpi photo still decodes (zxing-cpp decoded every
code of versions 10-31 at 2.5 px a module through blur and JPEG quality 70, about two thirds at 2 px);
one page of such a case alone can exceed it too, so a code per page would still need splitting, and a
page break can fall inside a document. So the whole paper is one signed payload, in one code when it
fits ``PART_CHARS`` characters (a version-27 code, 66.5 mm at 0.5 mm a module: 3 px at 150 dpi), else
cut into parts of nearly equal length, the whole set printed together on every page (consumers/counter/
pageband.py, which may ask for smaller parts), each naming its place (k of n) and the set it belongs to. One
photograph of any page holds all of it. A page carries at most ``MAX_PARTS``; a larger paper is refused.

``verify_paper_code`` checks in numbered steps (each a line of ``PaperCodeReport.steps``)::

    1  structure    Base45, zlib, a COSE_Sign1 of ES256 with a kid, a CBOR map
    2  signer       the kid names a trusted agency certificate (already chained to the CA)
    3  signature    ES256 over the Sig_structure with that certificate's key
    4  payload      every field present and typed; the certificate valid when the paper was printed

Errors: those of consumers.auditor.summary (UnreadableSummary, UnknownSigner, BadSignature,
SignerNotValid), and ``IncompleteSet`` (incomplete_set) from ``join_parts`` when parts are missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from consumers.auditor.cose import CoseError, b45decode, b45encode, loads, open_sign1, sign1
from consumers.auditor.paperdict import DICTIONARY_V1
from consumers.auditor.summary import (
    BadSignature,
    SignerNotValid,
    SummaryError,
    SummaryTrust,
    UnknownSigner,
    UnreadableSummary,
)
from linkage.seal import printout_digest, unverified_payload

__all__ = [
    "MAX_PARTS",
    "PART_CHARS",
    "PREFIX",
    "IncompleteSet",
    "PaperClaims",
    "PaperCodeReport",
    "PaperDoc",
    "be_datetime",
    "expected_fields",
    "header_rows",
    "is_paper_code",
    "join_parts",
    "kid_of",
    "make_paper_code",
    "paper_doc",
    "section_title",
    "verify_paper_code",
]

PREFIX: Final = "LP1"
VERSION: Final = 1
PART_CHARS: Final = 1620  # a version-27 code at error correction M holds 1637 alphanumeric characters
_KID_BYTES: Final = 8
_DIGEST_BYTES: Final = 16
MAX_PARTS: Final = 4  # what one page carries beside the certification: two rows of two version-27 codes
_READ_PARTS: Final = 16  # read more than are made today: a later layout may print more
_MAX_TEXT: Final = _READ_PARTS * 1700
_MAX_CBOR: Final = 256 * 1024  # decompressed: a bomb stops here
_PART = re.compile(r"LP1/(\d{1,2})/(\d{1,2})/([0-9A-F]{8})")
_BANGKOK: Final = dt.timezone(dt.timedelta(hours=7))
_THAI_MONTHS: Final = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
                       "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")


class IncompleteSet(SummaryError):
    """Parts of a multi-part QR set are missing, repeated inconsistently, or belong to different sets."""

    code = "incomplete_set"


# --- what the paper says ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaperDoc:
    """One document as printed: its heading and label/value rows, and the sealed printout it was printed from."""

    doc_type: str
    printout_id: str
    digest: bytes  # first 16 bytes of linkage.seal.printout_digest of the sealed JWS
    title: str
    issued_at: dt.datetime
    rows: tuple[tuple[str, str], ...]

    def matches(self, jws: str) -> bool:
        """True when ``jws`` is the sealed printout this document was printed from (id and digest)."""
        try:
            payload = unverified_payload(jws)
        except (ValueError, UnicodeDecodeError):
            return False
        return (payload.get("printout_id") == self.printout_id
                and bytes.fromhex(printout_digest(jws))[:_DIGEST_BYTES] == self.digest)


@dataclass(frozen=True)
class PaperClaims:
    """Everything the certified paper prints, as the counter agency signs it."""

    subject_id: str
    subject_name: str
    printed_at: dt.datetime
    officer_id: str
    officer_name: str
    case_ref: str
    service: str
    agency_title: str
    documents: tuple[PaperDoc, ...]
    still_to_bring: tuple[str, ...] = ()


def be_datetime(when: dt.datetime) -> str:
    """A time in Thailand (UTC+7) with the Buddhist-era year: "25 พฤศจิกายน 2569 เวลา 14:05 น."."""
    local = when.astimezone(_BANGKOK)
    return f"{local.day} {_THAI_MONTHS[local.month - 1]} {local.year + 543} เวลา {local:%H:%M} น."


def header_rows(claims: PaperClaims) -> list[tuple[str, str]]:
    """The rows at the top of the paper, made from the claims: the counter prints exactly these."""
    return [
        ("งานบริการ", claims.service),
        ("เลขที่เรื่อง", claims.case_ref),
        ("ผู้ยื่นคำขอ", claims.subject_name),
        ("เลขประจำตัวประชาชน", claims.subject_id),
        ("วันเวลาที่พิมพ์", be_datetime(claims.printed_at)),
        ("เจ้าหน้าที่ผู้รับรอง", f"{claims.officer_name} ({claims.officer_id})"),
    ]


def expected_fields(claims: PaperClaims) -> list[tuple[str, str, str]]:
    """(section, label, value) of every field the paper prints, in print order; section "" is the header, else
    the document's heading as printed ("1. ทะเบียนบ้าน")."""
    fields = [("", label, value) for label, value in header_rows(claims)]
    for n, doc in enumerate(claims.documents, 1):
        fields += [(section_title(n, doc), label, value) for label, value in doc.rows]
    return fields


def section_title(n: int, doc: PaperDoc) -> str:
    """The heading of the paper's ``n``-th document, as printed: its Thai title, never its code (an officer reads
    the page; the code is in the signed claims and the attached JWS for an auditor)."""
    return f"{n}. {doc.title}"


def paper_doc(jws: str, title: str, rows: Sequence[tuple[str, str]]) -> PaperDoc:
    """The ``PaperDoc`` of sealed printout ``jws`` printed under ``title`` as ``rows``; ValueError if not a JWS."""
    payload = unverified_payload(jws)
    # Whole seconds, as the code holds it (the page shows minutes).
    issued = dt.datetime.fromisoformat(str(payload["issued_at"]).replace("Z", "+00:00")).replace(microsecond=0)
    return PaperDoc(str(payload["doc_type"]), str(payload["printout_id"]),
                    bytes.fromhex(printout_digest(jws))[:_DIGEST_BYTES], title, issued, tuple(rows))


def kid_of(cert: x509.Certificate) -> bytes:
    """The COSE kid naming ``cert``: the first 8 bytes of SHA-256 of its DER."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()[:_KID_BYTES]


# --- making ----------------------------------------------------------------------------------------------------

def _epoch(when: dt.datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("times on the paper must be timezone-aware")
    return int(when.timestamp())


def _payload(claims: PaperClaims) -> dict[int, Any]:
    docs = [{1: d.doc_type, 2: uuid.UUID(d.printout_id).bytes, 3: d.digest, 4: d.title, 5: _epoch(d.issued_at),
             6: [[label, value] for label, value in d.rows]} for d in claims.documents]
    return {1: VERSION, 2: claims.subject_id, 3: claims.subject_name, 4: _epoch(claims.printed_at),
            5: claims.officer_id, 6: claims.officer_name, 7: claims.case_ref, 8: claims.service,
            9: claims.agency_title, 10: docs, 11: list(claims.still_to_bring)}


def make_paper_code(claims: PaperClaims, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, *,
                    part_chars: int = PART_CHARS) -> list[str]:
    """The QR texts of ``claims`` signed with ``key`` (the counter agency's, belonging to ``cert``): one text
    when it fits ``part_chars``, else parts of nearly equal length. Raises ValueError for claims without a
    document, a wrong key, or a paper too large for ``MAX_PARTS`` codes (about 4.3 kB compressed: a house of some
    hundred members)."""
    if not claims.documents:
        raise ValueError("a paper code needs at least one document")
    if cert.public_key() != key.public_key():
        raise ValueError("the key does not belong to the signer certificate")
    message = sign1(cbor2.dumps(_payload(claims), canonical=True), key, kid_of(cert))
    deflate = zlib.compressobj(9, zdict=DICTIONARY_V1)
    whole = b45encode(deflate.compress(message) + deflate.flush())
    if len(whole) <= part_chars:
        return [f"{PREFIX}:{whole}"]
    n = math.ceil(len(whole) / part_chars)
    if n > MAX_PARTS:
        raise ValueError(f"the paper's data needs {n} QR codes, more than the {MAX_PARTS} a page carries")
    size = math.ceil(len(whole) / n)
    set_id = hashlib.sha256(whole.encode("utf-8")).hexdigest()[:8].upper()
    return [f"{PREFIX}/{k + 1}/{n}/{set_id}:{whole[k * size:(k + 1) * size]}" for k in range(n)]


# --- reading ---------------------------------------------------------------------------------------------------

def is_paper_code(text: str) -> bool:
    """True when ``text`` is (a part of) this QR code format, by its prefix."""
    head, sep, _ = text.strip().partition(":")
    return bool(sep) and (head == PREFIX or _PART.fullmatch(head) is not None)


def join_parts(texts: Iterable[str]) -> tuple[str, int]:
    """The whole Base45 text of one paper from the QR texts read (in any order, repeats allowed), and how many
    parts it came in. Raises IncompleteSet naming the missing parts, or parts of more than one set; and
    UnreadableSummary when a text is not this format."""
    whole: set[str] = set()
    parts: dict[str, dict[int, str]] = {}
    counts: dict[str, int] = {}
    for text in texts:
        # Only line ends come off: a space is one of Base45's 45 characters, and a part may end with one.
        head, sep, body = text.lstrip().rstrip("\r\n").partition(":")
        if not sep or len(body) > _MAX_TEXT:
            raise UnreadableSummary("not a paper QR code: no LP1 prefix, or far too long")
        if head == PREFIX:
            whole.add(body)
            continue
        found = _PART.fullmatch(head)
        if found is None:
            raise UnreadableSummary(f"not a paper QR code: unknown prefix {head[:20]!r}")
        k, n, set_id = int(found[1]), int(found[2]), found[3]
        if not 1 <= k <= n <= _READ_PARTS:
            raise UnreadableSummary(f"a QR part says it is {k} of {n}")
        if counts.setdefault(set_id, n) != n:
            raise IncompleteSet(f"the QR parts of set {set_id} disagree on how many there are")
        if parts.setdefault(set_id, {}).setdefault(k, body) != body:
            raise IncompleteSet(f"two different QR codes both say they are part {k} of set {set_id}")
    if len(whole) + len(parts) > 1:
        raise IncompleteSet("the picture holds the QR codes of more than one paper: photograph one paper at a time")
    if whole:
        return whole.pop(), 1
    if not parts:
        raise UnreadableSummary("no paper QR code given")
    [(set_id, got)] = parts.items()
    n = counts[set_id]
    missing = [k for k in range(1, n + 1) if k not in got]
    if missing:
        raise IncompleteSet(f"QR part(s) {', '.join(map(str, missing))} of {n} missing (set {set_id}): photograph "
                            f"all {n} QR codes beside the officer's certification together")
    joined = "".join(got[k] for k in range(1, n + 1))
    if hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:8].upper() != set_id:
        raise IncompleteSet(f"the {n} QR parts do not join into set {set_id}: one of them belongs to another paper")
    return joined, n


@dataclass(frozen=True)
class PaperCodeReport:
    """A verified paper code: what the paper says, who signed it, the steps checked."""

    claims: PaperClaims
    signer: str  # the agency certificate's common name
    signer_cert: x509.Certificate
    parts: int
    steps: tuple[str, ...]


def verify_paper_code(whole: str, trust: SummaryTrust, *, parts: int = 1) -> PaperCodeReport:
    """Check the Base45 text ``whole`` (from ``join_parts``) against the trusted agency certificates.

    Raises only SummaryError subclasses: UnreadableSummary, UnknownSigner, BadSignature, SignerNotValid.
    """
    steps: list[str] = []
    # 1. Structure: Base45, zlib (bounded), COSE_Sign1 with ES256 and a kid.
    try:
        compressed = b45decode(whole)
        inflater = zlib.decompressobj(zdict=DICTIONARY_V1)
        message = inflater.decompress(compressed, _MAX_CBOR)
        if inflater.unconsumed_tail or not inflater.eof:
            raise UnreadableSummary("the QR code's content is not one complete zlib stream of at most "
                                    f"{_MAX_CBOR} bytes")
        sign = open_sign1(message)
    except CoseError as exc:
        raise UnreadableSummary(f"{exc.message} ({exc.code})") from exc
    except zlib.error as exc:
        raise UnreadableSummary(f"the QR code's content is not zlib-compressed ({exc})") from exc
    steps.append(f"[1] ✓ structure: Base45, zlib, COSE_Sign1 ES256 ({parts} QR code(s))")
    # 2. Signer: one of the agency certificates the auditor trusts, named by kid.
    by_kid = {kid_of(c): c for c in trust.agencies.values()}
    cert = by_kid.get(sign.kid)
    if cert is None:
        raise UnknownSigner(f"kid {sign.kid.hex()} is none of the {len(by_kid)} trusted agency certificates "
                            "(a paper from another sandbox, or signed by a stranger)")
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    signer = str(cn[0].value) if cn else cert.subject.rfc4514_string()
    steps.append(f"[2] ✓ signer: {signer} (issued by {trust.ca.subject.rfc4514_string()})")
    # 3. Signature over the Sig_structure with the named certificate's key.
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # SummaryTrust.build admits only P-256 keys
    try:
        sign.verify(key)
    except CoseError as exc:
        raise BadSignature(f"the paper code's signature does not verify with {signer}'s key") from exc
    steps.append("[3] ✓ signature: COSE ES256 (ECDSA P-256 / SHA-256)")
    # 4. Payload: every field typed; the certificate valid when the paper was printed.
    try:
        body = loads(sign.payload, "signed payload")
    except CoseError as exc:
        raise UnreadableSummary(exc.message) from exc
    claims = _claims(body)
    if not cert.not_valid_before_utc <= claims.printed_at <= cert.not_valid_after_utc:
        raise SignerNotValid(f"{signer}'s certificate was not valid at {claims.printed_at:%Y-%m-%dT%H:%M:%SZ}, "
                             "when the paper says it was printed")
    steps.append(f"[4] ✓ payload: {len(claims.documents)} document(s); certificate valid at "
                 f"{claims.printed_at:%Y-%m-%dT%H:%M:%SZ}")
    return PaperCodeReport(claims, signer, cert, parts, tuple(steps))


def _get(body: Mapping[Any, Any], key: int, kind: type, what: str) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UnreadableSummary(f"the paper code's {what} (key {key}) is missing or not {kind.__name__}")
    return value


def _time(body: Mapping[Any, Any], key: int, what: str) -> dt.datetime:
    seconds = _get(body, key, int, what)
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise UnreadableSummary(f"the paper code's {what} is not a time") from exc


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UnreadableSummary(f"the paper code's {what} is not a list of texts")
    return tuple(value)


def _claims(body: Any) -> PaperClaims:
    if not isinstance(body, dict):
        raise UnreadableSummary("the signed payload is not a CBOR map")
    if body.get(1) != VERSION:
        raise UnreadableSummary(f"unknown paper code version {body.get(1)!r}")
    raw_docs = _get(body, 10, list, "documents")
    if not raw_docs:
        raise UnreadableSummary("the paper code lists no document")
    docs = []
    for n, raw in enumerate(raw_docs, 1):
        if not isinstance(raw, dict):
            raise UnreadableSummary(f"document {n} of the paper code is not a map")
        pid, digest = _get(raw, 2, bytes, f"document {n}'s printout_id"), _get(raw, 3, bytes, f"document {n}'s digest")
        if len(pid) != 16 or len(digest) != _DIGEST_BYTES:
            raise UnreadableSummary(f"document {n}'s printout_id or digest is not 16 bytes")
        rows = _get(raw, 6, list, f"document {n}'s rows")
        if not all(isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in rows):
            raise UnreadableSummary(f"document {n}'s rows are not [label, value] texts")
        docs.append(PaperDoc(_get(raw, 1, str, f"document {n}'s type"), str(uuid.UUID(bytes=pid)), digest,
                             _get(raw, 4, str, f"document {n}'s title"), _time(raw, 5, f"document {n}'s issue time"),
                             tuple((r[0], r[1]) for r in rows)))
    return PaperClaims(
        subject_id=_get(body, 2, str, "subject_id"), subject_name=_get(body, 3, str, "subject_name"),
        printed_at=_time(body, 4, "print time"), officer_id=_get(body, 5, str, "officer_id"),
        officer_name=_get(body, 6, str, "officer_name"), case_ref=_get(body, 7, str, "case_ref"),
        service=_get(body, 8, str, "service"), agency_title=_get(body, 9, str, "agency_title"),
        documents=tuple(docs), still_to_bring=_texts(body.get(11, []), "documents still to bring"))
