"""Reading a printout from a file: a bare compact JWS or a JSON bundle.

A bundle is what ``linkage fetch --out`` writes: a JSON object with at least
``{"jws": "...", "log_index": N, "printout_id": "..."}``; later it also carries
the inclusion proof and the signed checkpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Final

from consumers.auditor.errors import UnreadableInput
from linkage.seal import CompactJWS

__all__ = ["MAX_PRINTOUT_BYTES", "load_printout"]

MAX_PRINTOUT_BYTES: Final = 16 * 1024 * 1024
# The signature may be empty (alg "none"): let the verifier say why that is wrong.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def load_printout(path: Path) -> CompactJWS:
    """The compact JWS held in ``path``, shape-checked but not verified.

    Raises UnreadableInput when the file cannot be read, is not UTF-8, or is
    neither a compact JWS nor a bundle object with ``jws`` (string),
    ``log_index`` (integer >= 0) and ``printout_id`` (string).
    """
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PRINTOUT_BYTES + 1)
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_PRINTOUT_BYTES:
        raise UnreadableInput(f"{path}: larger than {MAX_PRINTOUT_BYTES} bytes, not a printout")
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{path}: not UTF-8 text (a PDF or image is not a printout file)") from exc
    if text.startswith("{"):
        return _from_bundle(path, text)
    if _COMPACT.fullmatch(text):
        return CompactJWS(text)
    raise UnreadableInput(f"{path}: neither a compact JWS (three base64url parts joined by '.') nor a JSON bundle")


def _from_bundle(path: Path, text: str) -> CompactJWS:
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableInput(f"{path}: bundle is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(bundle, dict):
        raise UnreadableInput(f"{path}: bundle must be a JSON object")
    jws = bundle.get("jws")
    if not isinstance(jws, str):
        raise UnreadableInput(f"{path}: bundle has no \"jws\" string")
    log_index = bundle.get("log_index")
    if not isinstance(log_index, int) or isinstance(log_index, bool) or log_index < 0:
        raise UnreadableInput(f"{path}: bundle has no \"log_index\" (an integer >= 0)")
    if not isinstance(bundle.get("printout_id"), str):
        raise UnreadableInput(f"{path}: bundle has no \"printout_id\" string")
    if not _COMPACT.fullmatch(jws):
        raise UnreadableInput(f"{path}: bundle \"jws\" is not a compact JWS (three base64url parts joined by '.')")
    return CompactJWS(jws)
