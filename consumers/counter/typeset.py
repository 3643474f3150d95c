"""Thai text on an A4 page of fpdf2: one Sarabun font (bold drawn as stroked text), HarfBuzz shaping only
for text that needs it, widths measured once, lines wrapped at spaces and between Thai words, and
label/value rows two to a line with the label column as wide as the longest label.

Thai writes no spaces between words, so a line may end only where a word ends: ``thai_words`` finds
those places with PyThaiNLP's dictionary segmenter (newmm over the word list the package ships; nothing
is downloaded or written at run time). Counting characters would cut words, and a vowel or tone mark
must never start a line.

Every shaped run is written inside a marked-content span whose /ActualText is the run's own text
(ISO 32000-1 14.9.4): HarfBuzz reorders and substitutes Thai glyphs (SARA AM becomes NIKHAHIT and
SARA AA, tone marks move to lowered forms), and no ToUnicode map of single glyphs can give those back
in their order. With the span, copying, searching and screen readers get exactly the Thai that was set.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import fontpkg_sarabun
from fpdf import FPDF
from fpdf.enums import TextDirection
from fpdf.fonts import TTFFont

__all__ = ["FAMILY", "FONT_DIR", "Page", "add_sarabun", "cell", "thai_words", "use_font", "wrap", "write_rows",
           "write_text"]

FONT_DIR: Final = Path(fontpkg_sarabun.ROOT) / "files"
FAMILY: Final = str(fontpkg_sarabun.FAMILY)
# The label column is as wide as the longest label of the rows, but never more than this share of a half row:
# a longer label is broken between words.
_LABEL_SHARE: Final = 0.5


class Page(FPDF):  # fpdf2 ships no type information: FPDF is Any here
    footer_text = ""
    shaping = False
    bold = False
    # Drawn on every page just above the footer line (a certified copy's certification and QR codes).
    band: Callable[[Page], None] | None = None

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)

    def _preload_bidirectional_text(self, text: str, markdown: bool) -> Any:
        # fpdf2 runs the Unicode bidi algorithm (pure Python, an object per character) on every shaped run:
        # about a sixth of a page's time. A run with no right-to-left character, no Arabic number and no
        # explicit embedding or isolate is, by that algorithm, one left-to-right fragment: Thai, Latin
        # and digits always are. Anything else still goes through fpdf2's own pass.
        if not self.text_shaping or not _left_to_right(text):
            return super()._preload_bidirectional_text(text, markdown)
        self.text_shaping["paragraph_direction"] = self.text_shaping["fragment_direction"] = TextDirection.LTR
        emphasis = ("B" in self.font_style, "I" in self.font_style, self.strikethrough, self.underline)
        return tuple(self._preload_font_styles(text, markdown, _initial_emphasis=emphasis))

    def footer(self) -> None:
        if self.band is not None:
            self.band(self)
        self.set_y(-12)
        use_font(self, 8)
        self.set_text_color(90, 90, 90)
        # Two runs, centred together: the page count is filled in by fpdf2 only when the file is written, so it
        # cannot be inside the Thai run's /ActualText; as plain digits it needs none.
        text, count = f"{self.footer_text}  ·  หน้า {self.page_no()} จาก ", "{nb}"
        text_w, count_w = _width(self, text), _width(self, count)
        margin, self.c_margin = self.c_margin, 0
        self.set_x(self.l_margin + (self.epw - text_w - count_w) / 2)
        cell(self, text_w, 5, text)
        cell(self, count_w, 5, count)
        self.c_margin = margin
        self.set_text_color(0, 0, 0)


_LAYOUT_TABLES: Final = ("GDEF", "GSUB", "GPOS")


def add_sarabun(pdf: Page) -> None:
    """Sarabun Regular, the page's one font, its subset written from the file's own glyph bytes."""
    pdf.add_font(FAMILY, "", FONT_DIR / f"{FAMILY}-Regular.ttf")
    font = pdf.fonts[FAMILY.lower()]
    assert isinstance(font, TTFFont)
    # fpdf2 subsets the font with fontTools at output, and fontTools by default unpacks every kept glyph's
    # outline to recompute its bounding box and packs it again (about a tenth of a page's time). A subset
    # changes no outline, so the boxes in the file are already right: the glyphs are copied byte for byte
    # (a composite's component numbers are renumbered in its bytes by fontTools' subsetter itself).
    font.ttfont.recalcBBoxes = False
    # The layout tables are for shaping, which HarfBuzz does from the font file itself; fpdf2 drops them from the
    # subset, but fontTools' subsetter (4.60+) first unpacks them to look for 32-bit layout formats (about a tenth
    # of a page's time). Without them in the font it is given, it has nothing to unpack.
    for tag in _LAYOUT_TABLES:
        if tag in font.ttfont:
            del font.ttfont[tag]


# Bidi classes that can make any part of a run right-to-left (UAX #9): strong R and AL, Arabic numbers, and the
# explicit embeddings, overrides and isolates.
_NOT_LTR: Final = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def _left_to_right(text: str) -> bool:
    return not any(unicodedata.bidirectional(ch) in _NOT_LTR for ch in text)


def use_font(pdf: Page, size: float, *, bold: bool = False) -> None:
    pdf.set_font(FAMILY, "", size)
    if bold:
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.18)
        pdf.text_mode = "FILL_STROKE"
    elif pdf.bold:
        # fpdf2 writes "Tr" only for modes other than fill, and the mode outlives BT/ET: reset it here.
        pdf.text_mode = "FILL"
        pdf.set_line_width(0.2)
        pdf._out("0 Tr")
    pdf.bold = bold


def _shape_for(pdf: Page, text: str) -> None:
    # HarfBuzz shaping for anything not plain ASCII (Thai above all: vowels and tone marks must be
    # positioned); plain ASCII (ids, digits, English) needs none and skips its per-character cost.
    want = not text.isascii()
    if want != pdf.shaping:
        pdf.set_text_shaping(want)
        pdf.shaping = want


def cell(pdf: Page, w: float, h: float, text: str, **kw: Any) -> None:
    """fpdf2's ``cell``; a shaped run goes inside a span whose /ActualText is ``text``."""
    _shape_for(pdf, text)
    if not pdf.shaping:
        pdf.cell(w, h, text, **kw)
        return
    if pdf.will_page_break(h):
        # Break here rather than inside the cell, so that the span opens and closes on the same page.
        x = pdf.get_x()
        pdf.add_page(same=True)
        pdf.set_x(x)
    pdf._out(f"/Span <</ActualText <FEFF{text.encode('utf-16-be').hex().upper()}>>> BDC")
    pdf.cell(w, h, text, **kw)
    pdf._out("EMC")


# Widths of shaped text by (text, size): one font family, so they hold across pages, and labels, dates and
# place names repeat from case to case. Shaping and fpdf2's bidi pass cost ~0.3 ms a measurement.
_WIDTHS: dict[tuple[str, float], float] = {}
_WIDTHS_MAX = 20_000


def _width(pdf: Page, text: str) -> float:
    key = (text, pdf.font_size_pt)
    found = _WIDTHS.get(key)
    if found is None:
        _shape_for(pdf, text)
        found = float(pdf.get_string_width(text))
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
        _WIDTHS[key] = found
    return found


def _is_thai(ch: str) -> bool:
    return "\u0e01" <= ch <= "\u0e5b"


def _starts_word(ch: str) -> bool:
    # A consonant or a leading vowel (เ แ โ ใ ไ): never a following vowel or a mark, never punctuation.
    return "\u0e01" <= ch <= "\u0e2e" or "\u0e40" <= ch <= "\u0e44"


# Thai characters that belong to the character before them: above and below vowels, SARA AM, LAKKHANGYAO,
# tone marks and other marks. A line cut by characters (the last resort) never starts with one.
_FOLLOWS = frozenset("\u0e31\u0e33\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a\u0e45"
                     "\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d\u0e4e")


@functools.cache
def _segmenter() -> Callable[[str], list[str]]:
    # PyThaiNLP's own switches: no data folder created in the home directory, no corpus fetched. newmm and
    # its dictionary are inside the package, so neither is needed; imported on first use (building the
    # dictionary's trie takes ~0.7 s, once per process).
    os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
    from pythainlp.tokenize import word_tokenize

    return functools.partial(word_tokenize, engine="newmm", keep_whitespace=True)


@functools.lru_cache(maxsize=4096)
def thai_words(text: str) -> tuple[str, ...]:
    """``text`` (a run without spaces) cut where a line may end: between two Thai words, as PyThaiNLP's
    dictionary segmenter finds them. Never next to Latin letters, digits or punctuation ("(รหัส", "12/3",
    "ต.ป่า" stay whole); a run without Thai is one piece."""
    if not any(_is_thai(ch) for ch in text):
        return (text,)
    pieces: list[str] = []
    for token in _segmenter()(text):
        if pieces and _is_thai(pieces[-1][-1]) and _starts_word(token[0]):
            pieces.append(token)
        elif pieces:
            pieces[-1] += token
        else:
            pieces.append(token)
    return tuple(pieces)


def _clusters(text: str) -> Iterator[str]:
    """``text`` one character at a time, each with the Thai vowels and marks that belong to it (and a leading
    vowel with the consonant it is written before)."""
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (text[i] not in _FOLLOWS and not "\u0e40" <= text[i - 1] <= "\u0e44"):
            yield text[start:i]
            start = i


def wrap(pdf: Page, w: float, text: str) -> list[str]:
    """Lines of ``text`` no wider than ``w``: broken at newlines, at spaces and between Thai words
    (``thai_words``); a single word wider than ``w`` is broken between characters, never before a
    vowel or mark. fpdf2's ``multi_cell`` shapes once per character while breaking; this shapes
    once per word, and only for a paragraph that does not fit whole."""
    room = w - 2 * pdf.c_margin
    space = _width(pdf, " ")
    lines: list[str] = []
    for para in text.split("\n"):
        if _width(pdf, para) <= room:
            lines.append(para)
            continue
        line, used = "", 0.0
        for n, word in enumerate(part for part in para.split(" ") if part):
            spaced = n > 0
            for piece in thai_words(word):
                parts = [piece] if _width(pdf, piece) <= room else list(_clusters(piece))
                for part in parts:
                    gap = space if spaced and line else 0.0
                    width = _width(pdf, part)
                    if line and used + gap + width > room:
                        lines.append(line)
                        line, used = part, width
                    else:
                        line, used = line + (" " if gap else "") + part, used + gap + width
                    spaced = False
        lines.append(line)
    return lines


def _fits(pdf: Page, w: float, text: str) -> bool:
    return "\n" not in text and _width(pdf, text) <= w - 2 * pdf.c_margin


def write_text(pdf: Page, w: float, h: float, text: str, *, align: str = "L") -> None:
    """``text`` in a box ``w`` wide (0: to the right margin) at the current position, wrapped if it must;
    leaves the cursor at the left margin below it."""
    x = pdf.get_x()
    width = w or (pdf.l_margin + pdf.epw - x)
    for line in wrap(pdf, width, text):
        pdf.set_x(x)
        cell(pdf, width, h, line, align=align, new_x="LMARGIN", new_y="NEXT")


def write_rows(pdf: Page, rows: Sequence[tuple[str, str]], *, size: float = 9.5) -> None:
    """Label/value rows; short ones two to a line, long ones across the page. The label column is as wide as
    the longest label (at most half of a half row: a longer label is broken between words)."""
    line = size * 0.45
    half = pdf.epw / 2
    use_font(pdf, size)
    longest = max((_width(pdf, label) for label, _ in rows), default=0.0)
    # A hundredth of a millimetre to spare: the longest label must still fit after the margins are taken off.
    label_w = min(longest + 2 * pdf.c_margin + 0.01, half * _LABEL_SHARE)
    value_w, wide_w = half - label_w, pdf.epw - label_w
    pending: list[tuple[str, str]] = []

    def put(pairs: list[tuple[str, str]], full: bool) -> None:
        height = line * max(max(len(wrap(pdf, label_w, lab)), len(wrap(pdf, wide_w if full else value_w, val)))
                            for lab, val in pairs)
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        y = pdf.get_y()
        for i, (lab, val) in enumerate(pairs):
            x = pdf.l_margin + i * half
            pdf.set_xy(x, y)
            pdf.set_text_color(85, 85, 85)
            write_text(pdf, label_w, line, lab)
            pdf.set_text_color(0, 0, 0)
            pdf.set_xy(x + label_w, y)
            write_text(pdf, wide_w if full else value_w, line, val)
        pdf.set_y(y + height)

    for label, value in rows:
        if _fits(pdf, label_w, label) and _fits(pdf, value_w, value):
            pending.append((label, value))
            if len(pending) == 2:
                put(pending, False)
                pending = []
        else:
            if pending:
                put(pending, False)
                pending = []
            put([(label, value)], True)
    if pending:
        put(pending, False)
