"""One-time enrolment codes: how an officer registers a passkey at the counter, started by the administrator.

``linkage agency officer-enrol AGENCY OFFICER`` writes a code's SHA-256 (never the code) into
DIR/pki/officer-enrolments.json with its end (``CODE_TTL``) and prints the code; the officer types it at the
counter's enrolment page, and the hub (linkage/hub/passkeys.py) uses it up when the passkey is registered::

    {"version": 1, "codes": [{"code_sha256", "officer_id", "agency", "expires_at"}, ...]}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkage.config import write_atomically

__all__ = ["CODE_TTL", "ENROLMENTS", "Enrolment", "add_code", "code_hash", "load_codes", "use_code"]

ENROLMENTS: Final = "officer-enrolments.json"
CODE_TTL: Final = dt.timedelta(hours=24)
_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed at a desk


@dataclass(frozen=True)
class Enrolment:
    code_sha256: str
    officer_id: str
    agency: str
    expires_at: dt.datetime


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode("utf-8")).hexdigest()


def load_codes(path: Path) -> list[Enrolment]:
    """The codes not yet used (a missing or unreadable file: none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Enrolment(c["code_sha256"], c["officer_id"], c["agency"],
                          dt.datetime.fromisoformat(c["expires_at"].replace("Z", "+00:00"))) for c in data["codes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _save(path: Path, codes: list[Enrolment]) -> None:
    write_atomically(path, json.dumps({"version": 1, "codes": [
        {"code_sha256": c.code_sha256, "officer_id": c.officer_id, "agency": c.agency,
         "expires_at": c.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")} for c in codes]},
        indent=2) + "\n")


def add_code(path: Path, officer_id: str, agency: str, now: dt.datetime | None = None) -> str:
    """A new code for the officer (any earlier one of theirs is dropped); returns it, as XXXX-XXXX-XXXX."""
    now = now or dt.datetime.now(dt.UTC)
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = "-".join(raw[i:i + 4] for i in range(0, 12, 4))
    live = [c for c in load_codes(path) if c.expires_at > now and (c.officer_id, c.agency) != (officer_id, agency)]
    _save(path, [*live, Enrolment(code_hash(code), officer_id, agency, now + CODE_TTL)])
    return code


def use_code(path: Path, code: str, officer_id: str, agency: str, now: dt.datetime, *,
             consume: bool) -> bool:
    """Whether ``code`` is the officer's live code for the agency; with ``consume``, it is used up."""
    codes = load_codes(path)
    found = next((c for c in codes if secrets.compare_digest(c.code_sha256, code_hash(code))
                  and (c.officer_id, c.agency) == (officer_id, agency) and c.expires_at > now), None)
    if found is not None and consume:
        _save(path, [c for c in codes if c is not found and c.expires_at > now])
    return found is not None
