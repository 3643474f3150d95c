"""Reading a printout from a file: a bundle, a bare compact JWS, a signed PDF, or a QR summary (text or picture).

A bundle is what ``linkage fetch --out`` writes, a JSON object::

    {"printout_id": "...", "doc_type": "...", "log_index": N, "issued_at": "...",
     "jws": "<compact JWS>",
     "log_leaf": "<the log entry's canonical JSON, as a string>",
     "inclusion_proof": {"leaf_index": N, "tree_size": M, "hashes": ["<base64>", ...]},
     "checkpoint": "<signed note text>"}

The last three (the log proof) come together or not at all: a bundle without
them is examined like a bare JWS, and its verification says the log checks
were skipped (or, online, fetches them).

The paper forms: a signed PDF (``PdfFile``, opened by ``consumers.auditor.pdf``;
it may attach each printout's log proof as ``<printout_id>.log.json``, read by
``with_proof``), the paper code of a certified printout since 2026-11
(``PaperCode``: the "LP1" texts of ``consumers.auditor.papercode``, one per line,
or read from a picture of the paper, whose printed text can then be compared
with them) and the QR summary of copies printed before (``QrSummary``: a compact
JWS of type ``linkage-summary+jws``, as text or in a picture). Pictures are PNG,
JPEG or GIF; ``consumers.auditor.qr`` decodes their QR codes.

``load_input`` reads any form; ``load_printout`` only the single-printout forms
(bundle, JWS) and raises ``UnsupportedInput`` for a paper form. ``_detect``
names the form from the file's first bytes.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeGuard

from consumers.auditor.errors import UnreadableInput, UnsupportedInput
from consumers.auditor.summary import SUMMARY_TYP
from linkage.seal import CompactJWS, b64url_decode

__all__ = [
    "ACCEPTED",
    "LOG_PROOF_SUFFIX",
    "MAX_PRINTOUT_BYTES",
    "AuditInput",
    "LogProof",
    "PaperCode",
    "PdfFile",
    "Printout",
    "PrintoutForm",
    "QrSummary",
    "load_input",
    "load_printout",
    "parse_input",
    "parse_printout",
    "proof_json",
    "with_proof",
]

MAX_PRINTOUT_BYTES: Final = 16 * 1024 * 1024
ACCEPTED: Final = ("what can be checked: a printout bundle (.json, as linkage fetch --out writes it), a compact JWS"
                   " (three base64url parts joined by '.'), a certified PDF from the counter, or the QR summary of a"
                   " certified printout, as text or as a PNG, JPEG or GIF picture of the paper")
"""Every kind of file the verifier takes, said when it is given something else."""
LOG_PROOF_SUFFIX: Final = ".log.json"
"""A certified PDF attaches each printout's log proof as ``<printout_id>.log.json`` beside ``<printout_id>.jws``."""
# Three parts joined by '.': base64url when intact. Any other character is let through to the verifier, which
# reports a damaged part as a failed check (a changed printout is invalid, not unreadable). The signature may be
# empty (alg "none"): the verifier says why that is wrong too.
_COMPACT = re.compile(r"[^.\s]+\.[^.\s]+\.[^.\s]*")
_MAX_PROOF_HASHES: Final = 64  # a tree of 2**64 leaves needs no more
_PROOF_KEYS: Final = ("log_leaf", "inclusion_proof", "checkpoint")

PrintoutForm = Literal["bundle", "jws", "pdf"]
"""Where a single printout came from: a bundle, a bare JWS, or a signed PDF's attachment."""
_FileForm = Literal["bundle", "jws", "pdf", "image", "paper"]


@dataclass(frozen=True)
class LogProof:
    """What a bundle carries to prove its printout is in the log: the leaf, its audit path, the checkpoint."""

    leaf: bytes
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed note, not yet verified


@dataclass(frozen=True)
class Printout:
    """A printout as read from a file, shape-checked but not verified."""

    form: PrintoutForm
    jws: CompactJWS
    log_index: int | None = None  # as the bundle claims it; check 4 compares it with the proof
    proof: LogProof | None = None


@dataclass(frozen=True)
class PdfFile:
    """A file that says it is a PDF, not yet opened (pyHanko reads it in ``consumers.auditor.pdf``)."""

    data: bytes
    name: str


@dataclass(frozen=True)
class QrSummary:
    """The text of a certified printout's QR code, shape-checked as a summary JWS but not verified."""

    text: str
    source: Literal["text", "image"]
    name: str


@dataclass(frozen=True)
class PaperCode:
    """The texts of a certified paper's QR code(s) since 2026-11 (``consumers.auditor.papercode``: "LP1..."), one
    or the parts of a set, not yet joined or verified; ``picture`` is the photo they were read from, whose
    printed text can be compared with them."""

    texts: tuple[str, ...]
    source: Literal["text", "image"]
    name: str
    picture: bytes | None = None


AuditInput = Printout | PdfFile | QrSummary | PaperCode
"""Anything ``linkage audit verify`` accepts."""


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PRINTOUT_BYTES + 1)
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_PRINTOUT_BYTES:
        raise UnreadableInput(f"{path}: larger than {MAX_PRINTOUT_BYTES} bytes, not a printout")
    return raw


def load_input(path: Path) -> AuditInput:
    """What ``path`` holds: a printout (bundle or JWS), a PDF, or a QR summary (text, or decoded from a picture).

    Raises UnreadableInput when the file cannot be read, is empty or is none
    of these (a picture without a QR code, a QR code that is not a printout
    summary, a malformed bundle, ...). A PDF is not opened here.
    """
    return parse_input(_read(path), str(path))


def parse_input(raw: bytes, name: str = "printout") -> AuditInput:
    """What ``raw`` (a file's bytes) holds; raises as ``load_input`` does, naming it ``name``."""
    form = _detect(raw, name)
    if form == "pdf":
        return PdfFile(raw, name)
    if form == "image":
        from consumers.auditor.qr import decode_picture  # Pillow and zxing-cpp: only for pictures

        return _from_qr(decode_picture(raw, name), name, raw)
    if form == "paper":
        # A line's trailing spaces are data (a space is a Base45 character); join_parts takes the rest off.
        return PaperCode(tuple(line for line in _paper_text(raw, name).splitlines() if line.strip()), "text", name)
    if form == "jws":
        summary = _summary_text(raw, name)
        if summary is not None:
            return QrSummary(summary, "text", name)
    return _READERS[form](raw, name)


def _from_qr(texts: list[str], name: str, picture: bytes) -> AuditInput:
    from consumers.auditor.papercode import is_paper_code  # CBOR and COSE: only for pictures

    codes = tuple(t for t in texts if is_paper_code(t))  # as read: a part may end in a space (Base45)
    if codes:
        return PaperCode(codes, "image", name, picture)
    for text in texts:
        stripped = text.strip()
        if _COMPACT.fullmatch(stripped) and _is_summary(stripped):
            return QrSummary(stripped, "image", name)
    preview = texts[0].strip()[:60]
    raise UnreadableInput(f"{name}: the QR code in this picture is not a linkage printout summary "
                          f"(it holds {preview!r}); scan the QR code printed beside the officer's certification",
                          "คิวอาร์โค้ดในภาพไม่ใช่ของเอกสารรับรองจากระบบเชื่อมโยงข้อมูล")


def load_printout(path: Path) -> Printout:
    """The single printout held in ``path`` (a bundle or a JWS), shape-checked but not verified.

    Raises UnreadableInput when the file cannot be read or is no printout
    form at all, or the bundle is malformed (``jws`` string, ``log_index``
    integer >= 0, ``printout_id`` string, and the log proof complete and
    typed when present); UnsupportedInput for a paper form (a PDF, a picture,
    a QR summary), which ``load_input`` reads.
    """
    return parse_printout(_read(path), str(path))


def parse_printout(raw: bytes, name: str = "printout") -> Printout:
    """The printout in ``raw`` (a file's bytes); raises as ``load_printout`` does, naming it ``name``."""
    form = _detect(raw, name)
    if form in ("pdf", "image", "paper") or (form == "jws" and _summary_text(raw, name) is not None):
        what = {"pdf": "a PDF", "image": "a picture", "paper": "a paper's QR code"}.get(form, "a QR summary")
        raise UnsupportedInput(f"{name}: this is {what}, which holds more than one printout: read it with "
                               "load_input and verify it with verify_input (as linkage audit verify does)")
    return _READERS[form](raw, name)


def _summary_text(raw: bytes, name: str) -> str | None:
    """The text, if ``raw`` is a compact JWS whose header says it is a QR summary."""
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return None
    return text if _COMPACT.fullmatch(text) and _is_summary(text) else None


def _is_summary(compact: str) -> bool:
    try:
        header = json.loads(b64url_decode(compact.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
        return False
    return isinstance(header, dict) and header.get("typ") == SUMMARY_TYP


def _detect(raw: bytes, name: str) -> _FileForm:
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:8]
    if not head:
        raise UnreadableInput(f"{name}: the file is empty; {ACCEPTED}", "ไฟล์ว่างเปล่า")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "image"  # a photo of the paper: its QR code will be read here
    if head.startswith(b"{"):
        return "bundle"
    if head.startswith((b"LP1:", b"LP1/")):
        return "paper"  # the text of a paper's QR code(s), one per line
    return "jws"


def _text(raw: bytes) -> str:
    """The file as text; a byte that is not UTF-8 is kept as a lone surrogate, for the verifier to report."""
    return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape").strip()


def _paper_text(raw: bytes, name: str) -> str:
    """A paper code's text: Base45 is ASCII, so a byte that is not UTF-8 makes it unreadable, not a check."""
    try:
        return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8").lstrip().rstrip("\r\n")  # a space is Base45
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{name}: not UTF-8 text; {ACCEPTED}") from exc


def _read_jws(raw: bytes, name: str) -> Printout:
    text = _text(raw)
    if not _COMPACT.fullmatch(text):
        raise UnreadableInput(f"{name}: not a printout; {ACCEPTED}")
    return Printout("jws", CompactJWS(text))


def _read_bundle(raw: bytes, name: str) -> Printout:
    try:
        bundle = json.loads(_text(raw))
    except json.JSONDecodeError as exc:
        raise UnreadableInput(f"{name}: bundle is not valid JSON ({exc.msg}, line {exc.lineno}); {ACCEPTED}") from exc
    except RecursionError as exc:
        raise UnreadableInput(f"{name}: bundle is JSON nested too deeply to be a printout bundle") from exc
    if not isinstance(bundle, dict):
        raise UnreadableInput(f"{name}: bundle must be a JSON object; {ACCEPTED}")
    jws = bundle.get("jws")
    if not isinstance(jws, str):
        raise UnreadableInput(f"{name}: bundle has no \"jws\" string; {ACCEPTED}")
    log_index = bundle.get("log_index")
    if not _is_index(log_index):
        raise UnreadableInput(f"{name}: bundle has no \"log_index\" (an integer >= 0)")
    if not isinstance(bundle.get("printout_id"), str):
        raise UnreadableInput(f"{name}: bundle has no \"printout_id\" string")
    if not _COMPACT.fullmatch(jws):
        raise UnreadableInput(f"{name}: bundle \"jws\" is not a compact JWS (three base64url parts joined by '.')")
    present = [k for k in _PROOF_KEYS if bundle.get(k) is not None]
    if not present:
        return Printout("bundle", CompactJWS(jws), log_index)
    if len(present) != len(_PROOF_KEYS):
        missing = ", ".join(k for k in _PROOF_KEYS if k not in present)
        raise UnreadableInput(f"{name}: bundle has a partial log proof: {missing} missing")
    return Printout("bundle", CompactJWS(jws), log_index, _log_proof(bundle, name))


def _is_index(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _log_proof(bundle: dict[str, Any], name: str) -> LogProof:
    leaf, proof, note = bundle["log_leaf"], bundle["inclusion_proof"], bundle["checkpoint"]
    if not isinstance(leaf, str):
        raise UnreadableInput(f"{name}: bundle \"log_leaf\" must be the leaf's JSON as a string")
    if not isinstance(note, str):
        raise UnreadableInput(f"{name}: bundle \"checkpoint\" must be the signed note as a string")
    if not isinstance(proof, dict):
        raise UnreadableInput(f"{name}: bundle \"inclusion_proof\" must be an object")
    leaf_index, tree_size, hashes = proof.get("leaf_index"), proof.get("tree_size"), proof.get("hashes")
    if not _is_index(leaf_index) or not _is_index(tree_size):
        raise UnreadableInput(f"{name}: inclusion_proof needs \"leaf_index\" and \"tree_size\" (integers >= 0)")
    if not isinstance(hashes, list) or len(hashes) > _MAX_PROOF_HASHES or not all(isinstance(h, str) for h in hashes):
        raise UnreadableInput(f"{name}: inclusion_proof \"hashes\" must be a list of at most "
                              f"{_MAX_PROOF_HASHES} base64 strings")
    decoded: list[bytes] = []
    for i, h in enumerate(hashes):
        try:
            decoded.append(binascii.a2b_base64(h, strict_mode=True))
        except binascii.Error as exc:
            raise UnreadableInput(f"{name}: inclusion_proof hashes[{i}] is not base64") from exc
    return LogProof(leaf.encode("utf-8"), leaf_index, tree_size, tuple(decoded), note)


_READERS: Final[dict[str, Callable[[bytes, str], Printout]]] = {
    "bundle": _read_bundle,
    "jws": _read_jws,
}


def proof_json(bundle: dict[str, Any]) -> str:
    """The log proof of a bundle (as ``Printout.bundle()`` of the client makes it) without its JWS: what a
    certified PDF attaches as ``<printout_id>.log.json``; "" when the bundle carries no proof."""
    if not all(bundle.get(k) is not None for k in _PROOF_KEYS):
        return ""
    keep = ("printout_id", "log_index", *_PROOF_KEYS)
    return json.dumps({k: bundle[k] for k in keep if k in bundle}, ensure_ascii=False, sort_keys=True)


def with_proof(jws: CompactJWS, proof: bytes, name: str) -> Printout:
    """The printout ``jws`` of a PDF with the log proof attached beside it (``proof_json``'s bytes).

    Raises UnreadableInput when the attachment is not such a proof (as for a bundle's proof)."""
    try:
        found = json.loads(proof.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnreadableInput(f"{name}: not UTF-8 JSON") from exc
    if not isinstance(found, dict) or not all(found.get(k) is not None for k in _PROOF_KEYS):
        raise UnreadableInput(f"{name}: not a log proof (log_leaf, inclusion_proof and checkpoint)")
    log_index = found.get("log_index")
    if not _is_index(log_index):
        raise UnreadableInput(f"{name}: no \"log_index\" (an integer >= 0)")
    return Printout("pdf", jws, log_index, _log_proof(found, name))
