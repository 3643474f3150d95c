"""The band at the foot of every page of a certified copy: the certification line and the paper's QR codes.

A stamped paper copy is certified page by page; a page that travels alone must still say who certified it
and carry what proves it. So every page, not only the last, ends with this band: who certified the copy,
when, and the whole signed paper code (consumers/auditor/papercode.py) — one code, or every part of the set.
The footer below it says "หน้า x จาก n" (consumers/counter/typeset.py).

Why the whole set on every page rather than a code per page for that page's fields (measured with
scripts/bench_paper.py, the figures in docs/counter.md): the code of the sandbox's five-document case is
1 856 characters, two version-20 codes of 52.5 mm beside the certification line; the band takes about
55 mm of the page and the case prints on two pages. A per-page code would save little (page 1 of that case
alone holds most of its fields, more than one code again), would need a new signed format whose parts prove
nothing about the rest of the paper, and a photo of one page would then show only that page's fields. With
the whole set, a photo of any one page proves every field of the paper, and the verifier is unchanged.

``band_codes`` picks the part size: parts no larger than a version-20 code (52.5 mm at 0.5 mm a module, so
three fit across A4 in one row) when the paper fits three of them; otherwise the larger parts of
``make_paper_code`` (up to four version-27 codes, two rows of two: the largest houses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from consumers.auditor.papercode import PART_CHARS
from consumers.counter.paper import qr_code, qr_mm, qr_path
from consumers.counter.typeset import Page, cell, use_font, wrap, write_text

__all__ = ["BAND_CHARS", "Band", "band_codes"]

BAND_CHARS: Final = 970  # a version-20 code at error correction M: 52.5 mm at 0.5 mm a module
_ROW_PARTS: Final = 3  # how many such codes fit across the page in one row
_GAP: Final = 4.0
_CAPTION: Final = 3.5
_LINE: Final = 3.7  # 8 pt Sarabun: its ascent to descent is 1.3 em, 3.67 mm
_FIRST: Final = 4.2  # the 8.5 pt heading
_BESIDE_MIN: Final = 60.0  # narrowest text column beside the codes
FOOT: Final = 12.0  # the footer's line below the band (typeset.Page.footer)


def band_codes(make: Callable[[int], list[str]]) -> list[str]:
    """The QR texts for the band: ``make(chars)`` cuts the signed paper code into parts of at most ``chars``.
    Small parts when they fit one row, else ``make_paper_code``'s own large ones."""
    try:
        small = make(BAND_CHARS)
    except ValueError:  # more parts than a page carries: the large parts may still hold it
        return make(PART_CHARS)
    return small if len(small) <= _ROW_PARTS else make(PART_CHARS)


@dataclass
class Band:
    """What the band prints (``lines``: Thai and English phrases) and its codes; ``height`` once measured."""

    lines: Sequence[str]
    texts: Sequence[str]
    codes: list[Any]
    sizes: list[float]
    # Each code's drawing by where it goes: every page draws the same set at the same place, built once.
    _paths: dict[tuple[int, float, float, float, float, float], str] = field(default_factory=dict, repr=False)

    @classmethod
    def make(cls, lines: Sequence[str], texts: Sequence[str]) -> Band:
        codes = [qr_code(t) for t in texts]
        return cls(lines, texts, codes, [qr_mm(c) for c in codes])

    def _layout(self, pdf: Page) -> tuple[bool, float, int]:
        """(text beside the codes?, text column width, codes per row)."""
        side = max(self.sizes)
        row_w = len(self.codes) * side + (len(self.codes) - 1) * _GAP
        if pdf.epw - row_w - _GAP >= _BESIDE_MIN:
            return True, pdf.epw - row_w - _GAP, len(self.codes)
        return False, pdf.epw, max(1, int((pdf.epw + _GAP) // (side + _GAP)))

    def _captioned(self) -> float:
        return _CAPTION if len(self.codes) > 1 else 0.0

    def height(self, pdf: Page) -> float:
        beside, text_w, per_row = self._layout(pdf)
        use_font(pdf, 8)
        text_h = 1.0 + _FIRST - _LINE + sum(len(wrap(pdf, text_w, line)) for line in self.lines) * _LINE
        rows = -(-len(self.codes) // per_row)
        codes_h = rows * (max(self.sizes) + self._captioned())
        return max(text_h, codes_h) if beside else text_h + codes_h

    def draw(self, pdf: Page) -> None:
        """Draw the band above the footer of the current page."""
        beside, text_w, per_row = self._layout(pdf)
        top = pdf.h - FOOT - 1 - self.height(pdf)
        pdf.set_draw_color(140, 140, 140)
        pdf.line(pdf.l_margin, top - 1, pdf.l_margin + pdf.epw, top - 1)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_xy(pdf.l_margin, top)
        for n, line in enumerate(self.lines):
            use_font(pdf, 8.5 if n == 0 else 8, bold=n == 0)
            pdf.set_text_color(0, 0, 0) if n < 3 else pdf.set_text_color(60, 60, 60)
            write_text(pdf, text_w, _FIRST if n == 0 else _LINE, line)
        pdf.set_text_color(0, 0, 0)
        use_font(pdf, 7)
        side = max(self.sizes)
        left = pdf.l_margin + (pdf.epw - (min(per_row, len(self.codes)) * (side + _GAP) - _GAP) if beside else 0)
        y = top if beside else pdf.get_y() + 0.5
        for k, (code, size) in enumerate(zip(self.codes, self.sizes, strict=True)):
            row, col = divmod(k, per_row)
            x, at = left + col * (side + _GAP), y + row * (side + self._captioned())
            key = (k, x, at, size, pdf.k, pdf.h)
            path = self._paths.get(key)
            if path is None:
                path = self._paths[key] = qr_path(code, x, at, size, pdf.k, pdf.h)
            pdf._out(path)
            if len(self.codes) > 1:
                pdf.set_xy(x, at + size - 1)
                cell(pdf, size, _CAPTION, f"รหัสที่ {k + 1}/{len(self.codes)} · QR {k + 1} of {len(self.codes)}",
                     align="C")
