"""Thai text on an A4 page of fpdf2: one Sarabun font (bold drawn as stroked text), HarfBuzz shaping only
for text that needs it, widths measured once, lines wrapped at spaces, and label/value rows two to a line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import fontpkg_sarabun
from fpdf import FPDF

__all__ = ["FAMILY", "FONT_DIR", "Page", "cell", "use_font", "wrap", "write_rows", "write_text"]

FONT_DIR: Final = Path(fontpkg_sarabun.ROOT) / "files"
FAMILY: Final = str(fontpkg_sarabun.FAMILY)
_LABEL_W: Final = 38.0


class Page(FPDF):  # fpdf2 ships no type information: FPDF is Any here
    footer_text = ""
    shaping = False
    bold = False

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)

    def footer(self) -> None:
        self.set_y(-12)
        use_font(self, 8)
        self.set_text_color(90, 90, 90)
        cell(self, 0, 5, f"{self.footer_text}  ·  หน้า {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


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
    _shape_for(pdf, text)
    pdf.cell(w, h, text, **kw)


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


def wrap(pdf: Page, w: float, text: str) -> list[str]:
    """Lines of ``text`` no wider than ``w``, broken at newlines and spaces. fpdf2's ``multi_cell``
    shapes once per character while breaking; this shapes once per word. Thai writes no spaces
    between words, so a Thai phrase stays whole and only overflows if it alone is wider than ``w``."""
    room = w - 2 * pdf.c_margin
    space = _width(pdf, " ")
    lines: list[str] = []
    for para in text.split("\n"):
        if _width(pdf, para) <= room:
            lines.append(para)
            continue
        line, used = "", 0.0
        for word in para.split(" "):
            ww = _width(pdf, word)
            if line and used + space + ww > room:
                lines.append(line)
                line, used = word, ww
            else:
                line, used = (f"{line} {word}", used + space + ww) if line else (word, ww)
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
    """Label/value rows; short ones two to a line, long ones across the page."""
    line = size * 0.45
    half = pdf.epw / 2
    label_w, value_w = _LABEL_W, half - _LABEL_W
    use_font(pdf, size)
    pending: list[tuple[str, str]] = []

    def put(pairs: list[tuple[str, str]], full: bool) -> None:
        # A label too long for its column (Thai has no spaces to wrap at) widens it for this row, so that the
        # value never prints over it.
        lab_w = max(label_w, _width(pdf, pairs[0][0]) + 2 * pdf.c_margin + 1) if full else label_w
        height = line * max(max(len(wrap(pdf, lab_w, lab)), len(wrap(pdf, pdf.epw - lab_w if full else value_w,
                                                                        val)))
                            for lab, val in pairs)
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        y = pdf.get_y()
        for i, (lab, val) in enumerate(pairs):
            x = pdf.l_margin + i * half
            pdf.set_xy(x, y)
            pdf.set_text_color(85, 85, 85)
            write_text(pdf, lab_w, line, lab)
            pdf.set_text_color(0, 0, 0)
            pdf.set_xy(x + lab_w, y)
            write_text(pdf, pdf.epw - lab_w if full else value_w, line, val)
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
