"""The QR codes on a certified printout, drawn for paper and for screens.

What the codes hold is the signed paper code of consumers/auditor/papercode.py (one code, or a set of
parts); a legacy JWS summary (consumers/auditor/summary.py) draws the same way, in byte mode.
"""

from __future__ import annotations

import io
from typing import Any, Final

import segno

__all__ = ["MODULE_MM", "draw_qr", "qr_code", "qr_mm", "qr_path", "qr_png"]

MODULE_MM: Final = 0.5  # 3 px at 150 dpi: zxing-cpp decoded every code at 2.5 px through blur and JPEG q70
_ECC: Final = "m"
_MASK: Final = 4
_QUIET: Final = 4


def qr_code(text: str) -> Any:
    """The segno QR code for ``text``: the most compact mode (alphanumeric for a paper code), error
    correction M (15 %), never boosted past M.

    The mask is fixed rather than chosen by scoring all eight: scoring costs ~75 ms in pure Python
    (more than the whole page), and any mask is valid; ISO 18004's penalty only avoids patterns
    that could confuse a poor scanner, which the 15 % error correction and a clean quiet zone cover.
    """
    return segno.make_qr(text, error=_ECC, boost_error=False, mask=_MASK)


def qr_mm(code: Any, module: float = MODULE_MM) -> float:
    """How wide ``code`` (from ``qr_code``) is on paper, quiet zone included, at ``module`` mm a module."""
    return (len(code.matrix) + 2 * _QUIET) * module


def qr_png(text: str, *, scale: int = 4, border: int = _QUIET) -> bytes:
    """PNG of the QR code, ``scale`` pixels per module, ``border`` modules of quiet zone."""
    buf = io.BytesIO()
    qr_code(text).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def qr_path(code: Any, x: float, y: float, size: float, k: float, page_h: float) -> str:
    """The content-stream operators that draw ``code`` (from ``qr_code``) ``size`` wide at (``x``, ``y``) on a page
    ``page_h`` high, ``k`` points a page unit: one filled path in its own graphics state, a four-module quiet zone
    left white. Adjacent dark modules of a row are one rectangle (fpdf2's ``rect`` costs ~40 µs apiece). The same
    code at the same place gives the same string: a band on every page builds it once (pageband.py)."""
    n = len(code.matrix)
    module = size / (n + 2 * _QUIET)
    ops: list[str] = []
    for r, row in enumerate(code.matrix):
        top = (page_h - (y + (r + _QUIET) * module)) * k
        c = 0
        while c < n:
            if row[c] & 1:
                start = c
                while c < n and row[c] & 1:
                    c += 1
                ops.append(f"{(x + (start + _QUIET) * module) * k:.3f} {top:.3f} {(c - start) * module * k:.3f} "
                           f"{-module * k:.3f} re")
            else:
                c += 1
    # Black fill in its own graphics state so the page's colours are untouched.
    return "q 0 g\n" + "\n".join(ops) + "\nf Q"


def draw_qr(pdf: Any, text: str | Any, x: float, y: float, size: float) -> int:
    """Draw the QR code of ``text`` (or a code ``qr_code`` made) into the current fpdf2 page as one filled vector
    path (``qr_path``), ``size`` wide (page units) including its quiet zone; returns the QR version."""
    qr = qr_code(text) if isinstance(text, str) else text
    pdf._out(qr_path(qr, x, y, size, pdf.k, pdf.h))
    return int(qr.version)
