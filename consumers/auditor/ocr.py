"""Reading a photographed paper's printed text, and comparing it field by field with what its QR code signs.

The QR code (consumers/auditor/papercode.py) says what the paper must print. ``read_page`` reads what
it does print, with Tesseract and Debian's Thai model (``tesseract-ocr-tha``, plus ``eng`` for the
Latin fields), through tesserocr: a maintained binding (2.13, released 2026-11; MIT) that runs
Tesseract in process on a Pillow image, where pytesseract (last release 2024-08) starts a process and
writes the picture to a file for every page. tesserocr's wheel carries its own libtesseract (5.5);
the language data is Debian's, found in ``TESSDATA`` (or ``LINKAGE_TESSDATA``).

``compare`` lines the read text up with the signed text and judges every field:

    matches     the value printed next to its label reads as the signed value (OCR slips allowed:
                tone marks, some letters: 60 % alike is alike)
    differs     the label is legible but the text beside it is not the signed value: a digit
                differs, or the letters do (less than 60 % alike)
    unreadable  the label was not found: that part of the paper is not in the photo, or not legible;
                or a value of three letters or fewer read otherwise (OCR misreads "Mr." as often as
                anyone changes it); or a Thai value read as Latin letters only (Tesseract's other model)

Both texts are compared after normalising what OCR gets wrong without changing the meaning: NFC,
SARA AM written as NIKHAHIT + SARA AA, tone marks and THANTHAKHAT dropped, spaces and punctuation
dropped, Latin lower-cased. The alignment is difflib's over the whole page (labels, values and the
section headings, in print order), so a field is found by its place among its neighbours, not by its
label alone (the same label is printed in several documents).

Raises ``OcrUnavailable`` when Tesseract or its Thai model cannot be loaded; never anything about the
picture (a picture with no legible text compares as every field unreadable).
"""

from __future__ import annotations

import difflib
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from consumers.auditor.errors import VerificationError
from consumers.auditor.papercode import PaperClaims, header_rows, section_title

__all__ = ["TESSDATA", "FieldReading", "OcrUnavailable", "PrintedText", "compare", "engine", "read_page"]

TESSDATA: Final = Path(os.environ.get("LINKAGE_TESSDATA", "/usr/share/tesseract-ocr/5/tessdata"))
_LANG: Final = "tha+eng"
_MAX_SIDE: Final = 2400  # an A4 page at ~200 dpi; a larger photo is scaled down (Tesseract's time grows with it)
_MIN_SIDE: Final = 1500  # under ~130 dpi, Thai marks merge: scaled up
_SIMILAR: Final = 0.6
_FOUND: Final = 0.8  # of a label's characters read, close together: "เลขประจำตัว" in a sentence is no label
_SHORT: Final = 3
_DROP: Final = re.compile("[\u0e47-\u0e4c\u0e4e]")  # MAITAIKHU, tone marks, THANTHAKHAT, YAMAKKAN
_KEEP: Final = re.compile(r"[^0-9a-z\u0e01-\u0e46\u0e50-\u0e59]")
_DIGITS: Final = re.compile(r"[0-9\u0e50-\u0e59]")
_THAI: Final = re.compile("[\u0e01-\u0e46]")
_LATIN: Final = re.compile("[a-z]")
_LOCK = threading.Lock()  # one Tesseract at a time: it is CPU-bound and takes ~100 MB while reading

Status = Literal["matches", "differs", "unreadable"]


class OcrUnavailable(VerificationError):
    """Tesseract, tesserocr or the Thai model (``apt-get install tesseract-ocr-tha``) is not installed."""

    code = "ocr_unavailable"


@dataclass(frozen=True)
class FieldReading:
    """One printed field: where it is (``section``: "" for the paper's header, else the document's heading),
    its label, the signed value, and what the photo shows there."""

    section: str
    label: str
    value: str
    status: Status
    printed: str  # the normalised text read where the value is printed ("" when unreadable)


@dataclass(frozen=True)
class PrintedText:
    """The comparison of a photo's printed text with the signed fields."""

    readings: tuple[FieldReading, ...]
    engine: str

    @property
    def differing(self) -> tuple[FieldReading, ...]:
        return tuple(r for r in self.readings if r.status == "differs")

    @property
    def legible(self) -> int:
        return sum(1 for r in self.readings if r.status != "unreadable")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u0e4d\u0e32", "\u0e33").lower()
    return _KEEP.sub("", _DROP.sub("", text))


def read_page(image: Any) -> str:
    """The text Tesseract reads on ``image`` (a Pillow image), line by line in reading order.

    Raises OcrUnavailable when tesserocr or the Thai model cannot be loaded."""
    try:
        import tesserocr
    except ImportError as exc:
        raise OcrUnavailable("reading the printed text needs tesserocr (pip install tesserocr)") from exc
    if not (TESSDATA / "tha.traineddata").is_file():
        raise OcrUnavailable(f"no Thai model in {TESSDATA}: apt-get install tesseract-ocr-tha (or set "
                             "LINKAGE_TESSDATA to a folder holding tha.traineddata and eng.traineddata)")
    gray = image.convert("L")
    side = max(gray.size)
    if side > _MAX_SIDE or side < _MIN_SIDE:
        from PIL import Image

        factor = (_MAX_SIDE if side > _MAX_SIDE else _MIN_SIDE) / side
        gray = gray.resize((round(gray.width * factor), round(gray.height * factor)), Image.Resampling.LANCZOS)
    with _LOCK:
        try:
            # One uniform block: a row's label and value, and the two pairs of a line, come out in print order.
            with tesserocr.PyTessBaseAPI(path=str(TESSDATA), lang=_LANG, psm=tesserocr.PSM.SINGLE_BLOCK) as api:
                api.SetImage(gray)
                return str(api.GetUTF8Text())
        except RuntimeError as exc:  # tesserocr's way of saying the model would not load
            raise OcrUnavailable(f"Tesseract could not start with {_LANG} from {TESSDATA}: {exc}") from exc


def engine() -> str:
    """Which OCR engine ``read_page`` uses, for the report."""
    try:
        import tesserocr

        version = str(tesserocr.tesseract_version()).split()[1]
    except Exception:
        version = "?"
    return f"Tesseract {version} ({_LANG}, {TESSDATA})"


@dataclass(frozen=True)
class _Item:
    section: str
    label: str
    value: str  # "" for a heading, which only anchors the alignment


def _items(claims: PaperClaims) -> list[_Item]:
    items = [_Item("", label, value) for label, value in header_rows(claims)]
    for n, doc in enumerate(claims.documents, 1):
        section = section_title(n, doc)
        items.append(_Item(section, section, ""))
        items += [_Item(section, label, value) for label, value in doc.rows]
    items.append(_Item("", "เอกสารที่ผู้ยื่นคำขอยังต้องนำมาแสดง", ""))
    items += [_Item("", item, "") for item in claims.still_to_bring]
    items.append(_Item("", "คำรับรองของเจ้าหน้าที่", ""))
    return items


class _Alignment:
    """Where each character of the expected text was found in the read text (-1: not found)."""

    def __init__(self, read: str, expected: str) -> None:
        self.at = [-1] * len(expected)
        matcher = difflib.SequenceMatcher(None, read, expected, autojunk=False)
        for i, j, size in matcher.get_matching_blocks():
            for k in range(size):
                self.at[j + k] = i + k

    def found(self, start: int, end: int) -> float:
        """How much of [start, end) was read, as one piece: 0 when its characters are scattered (the read span is
        more than half as long again as the expected text)."""
        hits = [self.at[p] for p in range(start, end) if self.at[p] >= 0]
        if not hits or hits[-1] - hits[0] + 1 > 1.5 * (end - start) + 2:
            return 0.0
        return len(hits) / max(1, end - start)

    def last(self, start: int, end: int) -> int:
        """The read position just after the last found character of [start, end), or -1."""
        hits = [self.at[p] for p in range(start, end) if self.at[p] >= 0]
        return hits[-1] + 1 if hits else -1

    def first(self, start: int, end: int) -> int:
        hits = [self.at[p] for p in range(start, end) if self.at[p] >= 0]
        return hits[0] if hits else -1


def compare(claims: PaperClaims, page_text: str) -> PrintedText:
    """Judge every field of ``claims`` against ``page_text`` (what ``read_page`` read)."""
    items = _items(claims)
    spans: list[tuple[int, int, int]] = []  # label start, value start, value end in the expected text
    parts: list[str] = []
    at = 0
    for item in items:
        label, value = _normalise(item.label), _normalise(item.value)
        spans.append((at, at + len(label), at + len(label) + len(value)))
        parts += (label, value)
        at += len(label) + len(value)
    read = _normalise(page_text)
    align = _Alignment(read, "".join(parts))
    readings: list[FieldReading] = []
    for n, item in enumerate(items):
        if not item.value:
            continue  # a heading: an anchor only
        label_start, value_start, _ = spans[n]
        expected = _normalise(item.value)
        if not expected:  # "—" and the like: nothing to read
            readings.append(FieldReading(item.section, item.label, item.value, "matches", ""))
            continue
        # The value is what lies between its label and the next item's label, as far as both were found.
        begin = align.last(label_start, value_start)
        # The next item any character of which was read (a garbled label still marks where the value ends).
        end = next((p for m in range(n + 1, len(items)) if (p := align.first(spans[m][0], spans[m][2])) >= 0), -1)
        if align.found(label_start, value_start) < _FOUND or begin < 0 or end < begin:
            status: Status = "unreadable"
            printed = ""
        else:
            status, printed = _judge(expected, read[begin:end])
        readings.append(FieldReading(item.section, item.label, item.value, status, printed))
    return PrintedText(tuple(readings), engine())


def _judge(expected: str, region: str) -> tuple[Status, str]:
    """Whether ``region`` (what lies between a label and the next) prints ``expected``; and the part of the region
    that stands for the value: from where the value's first read character would be to its last (so a changed
    first or last character stays in it, and rules or marks read after the value do not)."""
    blocks = [b for b in difflib.SequenceMatcher(None, region, expected, autojunk=False).get_matching_blocks()
              if b.size]
    if blocks:
        start = max(0, blocks[0].a - blocks[0].b)
        end = min(len(region), blocks[-1].a + blocks[-1].size + len(expected) - blocks[-1].b - blocks[-1].size)
        printed = region[start:end]
    else:
        printed = region[:len(expected)]
    if _DIGITS.findall(expected) != _DIGITS.findall(printed):
        return "differs", printed
    if _THAI.search(expected) and not _LATIN.search(expected) and not _THAI.search(printed):
        # A Thai value read as Latin letters only: Tesseract took the wrong model for that word, which says
        # nothing about what is printed (seen on a 150-dpi JPEG: "ศุภชัย" read "ante").
        return "unreadable", printed
    if difflib.SequenceMatcher(None, expected, printed, autojunk=False).ratio() < _SIMILAR:
        # Three letters or fewer ("Mr.", "นาย") are misread as often as they are changed: not judged by letters.
        return ("unreadable" if len(expected) <= _SHORT else "differs"), printed
    return "matches", printed


def summary_lines(text: PrintedText) -> Sequence[str]:
    """What the comparison found, one line per field that differs."""
    return [f"{r.section + ': ' if r.section else ''}{r.label}: printed {r.printed!r}, signed {r.value!r}"
            for r in text.differing]
