"""Checking a certified PDF with real tools: pyHanko, poppler's pdfsig / pdftoppm, zxing-cpp.

Shared by the printout tests and the browser test (and anyone else holding a certified PDF).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

__all__ = ["INSTALL", "pdfsig", "pyhanko_status", "read_qr", "tool"]

INSTALL = "apt-get install poppler-utils libnss3-tools"


def tool(name: str) -> str:
    """The path of a command-line tool, or a skip that says how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is missing: {INSTALL}")
    return path


async def pyhanko_status(pdf: bytes, ca: Path) -> Any:
    """pyHanko's validation status of the PDF's one signature, trusting only ``ca``."""
    reader = PdfFileReader(io.BytesIO(pdf))
    [sig] = reader.embedded_signatures
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])  # type: ignore[no-untyped-call]
    # What an agency's certificate must allow to sign a certified printout.
    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"})
    return await async_validate_pdf_signature(sig, context, key_usage_settings=usage)


def pdfsig(path: Path, ca: Path, tmp: Path) -> str:
    """pdfsig's text report for ``path`` with ``ca`` trusted in an NSS database under ``tmp``.

    pdfsig exits 0 even for a broken signature: only its text says, so the text is returned.
    """
    certutil = tool("certutil")
    pdfsig_tool = tool("pdfsig")
    nss = tmp / "nss"
    if not nss.exists():
        nss.mkdir()
        subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{nss}"], check=True, capture_output=True)
        subprocess.run([certutil, "-A", "-n", "linkage-ca", "-t", "CT,C,C", "-i", str(ca), "-d", f"sql:{nss}"],
                       check=True, capture_output=True)
    done = subprocess.run([pdfsig_tool, "-nssdir", f"sql:{nss}", str(path)], capture_output=True, text=True,
                          timeout=60)
    return done.stdout + done.stderr


def read_qr(pdf_path: Path, tmp: Path) -> list[str]:
    """Render the PDF's pages at 150 dpi, as printed, and decode the QR codes on them (one, or a set of parts)."""
    pdftoppm = tool("pdftoppm")
    prefix = tmp / f"{pdf_path.stem}-page"
    subprocess.run([pdftoppm, "-r", "150", "-png", str(pdf_path), str(prefix)], check=True, capture_output=True)
    found = [f for png in sorted(tmp.glob(f"{prefix.name}*.png")) for f in zxingcpp.read_barcodes(Image.open(png))]
    codes = [str(f.text) for f in found if f.format == zxingcpp.BarcodeFormat.QRCode]
    assert codes, f"no QR code on the pages of {pdf_path}"
    return codes
