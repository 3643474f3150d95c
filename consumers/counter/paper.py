"""The QR code on a certified printout, drawn for paper and for screens.

What the code holds is the signed summary of consumers/auditor/summary.py.
"""

from __future__ import annotations

import io
from typing import Any, Final

import segno

__all__ = ["draw_qr", "qr_code", "qr_png"]

_ECC: Final = "m"
_MASK: Final = 4


def qr_code(text: str) -> Any:
    """The segno QR code for ``text``: byte mode, error correction M (15 %), never boosted past M.

    The mask is fixed rather than chosen by scoring all eight: scoring costs ~75 ms in pure Python
    (more than the whole page), and any mask is valid; ISO 18004's penalty only avoids patterns
    that could confuse a poor scanner, which the 15 % error correction and a clean quiet zone cover.
    """
    return segno.make_qr(text, error=_ECC, boost_error=False, mode="byte", mask=_MASK)


def qr_png(text: str, *, scale: int = 4, border: int = 4) -> bytes:
    """PNG of the QR code, ``scale`` pixels per module, ``border`` modules of quiet zone."""
    buf = io.BytesIO()
    qr_code(text).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def draw_qr(pdf: Any, text: str, x: float, y: float, size: float) -> int:
    """Draw the QR code into the current fpdf2 page as one filled vector path, ``size`` wide (page units)
    including a four-module quiet zone left white; returns the QR version. Adjacent dark modules of a row
    are one rectangle, written straight into the content stream (fpdf2's ``rect`` costs ~40 µs apiece)."""
    qr = qr_code(text)
    n = len(qr.matrix)
    module = size / (n + 8)
    k, page_h = pdf.k, pdf.h
    ops: list[str] = []
    for r, row in enumerate(qr.matrix):
        top = (page_h - (y + (r + 4) * module)) * k
        c = 0
        while c < n:
            if row[c] & 1:
                start = c
                while c < n and row[c] & 1:
                    c += 1
                ops.append(f"{(x + (start + 4) * module) * k:.3f} {top:.3f} {(c - start) * module * k:.3f} "
                           f"{-module * k:.3f} re")
            else:
                c += 1
    # Black fill in its own graphics state so the page's colours are untouched.
    pdf._out("q 0 g\n" + "\n".join(ops) + "\nf Q")
    return int(qr.version)
