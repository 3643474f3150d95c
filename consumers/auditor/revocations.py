"""The hub's revocation list as this auditor keeps it: fetched online, checked offline (check 7).

Online, ``linkage verify`` fetches the hub's signed list (linkage/revlist.py) and, once it verifies against
the pinned log keys, keeps it beside the state file (``<state>.revocations``: DIR/auditor-state.revocations
with --home). Offline, check 7 reads it again (it is verified on every read: a file edited since is
refused) and says how old it is:

    listed                  failed: revoked, when and why (however old the list: a revocation is for ever)
    not listed, fresh       passed: not revoked as of the list's issue time
    not listed, stale       skipped, with a warning: older than the allowed age (``--revocation-max-age``,
                            LINKAGE_REVOCATION_MAX_AGE, default 7 days), so a revocation since is unknown
    list forged or broken   skipped, with a warning naming why; revocation unknown
    no list kept            skipped, saying how to fetch one

Raises nothing but ``BadState`` (``keep``: the file cannot be written) and ``ValueError`` (``parse_age``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from consumers.auditor.errors import BadState
from consumers.auditor.report import Check, failed, passed, skipped
from linkage.checkpoint import KeyWindow
from linkage.note import CheckpointError, NoteVerifier
from linkage.revlist import RevocationList, open_revocation_list

__all__ = ["DEFAULT_MAX_AGE", "RevocationStatus", "keep", "list_path", "parse_age"]

DEFAULT_MAX_AGE: Final = dt.timedelta(days=7)
_AGE = re.compile(r"(\d+)\s*([smhd]?)")
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_BYTES: Final = 16 * 1024 * 1024

LogKeys = NoteVerifier | Sequence[KeyWindow]


def parse_age(text: str) -> dt.timedelta:
    """``7d``, ``36h``, ``90m``, ``600s`` or plain seconds; raises ValueError."""
    found = _AGE.fullmatch(text.strip().lower())
    if found is None or int(found[1]) <= 0:
        raise ValueError(f"{text!r} is not an age: a positive number with s, m, h or d (e.g. 7d)")
    return dt.timedelta(seconds=int(found[1]) * _UNITS[found[2]])


def list_path(state: Path) -> Path:
    """Where the list is kept, beside the state file."""
    return state.with_name(state.stem + ".revocations")


def _windows(keys: LogKeys) -> list[NoteVerifier | KeyWindow]:
    return [keys] if isinstance(keys, NoteVerifier) else list(keys)


def _age_text(age: dt.timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def keep(note: str, path: Path, keys: LogKeys, origin: str) -> RevocationList:
    """Verify the hub's ``note`` and keep it in ``path``. Raises CheckpointError (not genuine: nothing is written)
    or BadState."""
    found = open_revocation_list(note, _windows(keys), origin)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(note, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise BadState(f"{path}: cannot keep the revocation list ({exc.strerror or exc})") from exc
    return found


@dataclass(frozen=True)
class RevocationStatus:
    """The kept list as read now: ``found`` when it verifies, else ``problem`` (English) / ``problem_th``."""

    path: Path
    now: dt.datetime
    max_age: dt.timedelta
    found: RevocationList | None = None
    problem: str = ""
    problem_th: str = ""

    @classmethod
    def load(cls, path: Path, keys: LogKeys | None, origin: str | None, now: dt.datetime,
             max_age: dt.timedelta = DEFAULT_MAX_AGE) -> RevocationStatus | None:
        """The list kept in ``path`` (None: there is none), verified with the pinned log ``keys``."""
        try:
            with path.open("rb") as f:
                data = f.read(_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return cls(path, now, max_age, problem=f"cannot read it ({exc.strerror or exc})",
                       problem_th="อ่านไฟล์ไม่ได้")
        if keys is None or not origin:
            return cls(path, now, max_age, problem="the log's verifier key and origin to check it are not given "
                       "(--log-key and --origin, or --home DIR)", problem_th="ไม่มีกุญแจของบันทึกสำหรับตรวจสอบ")
        try:
            if len(data) > _MAX_BYTES:
                raise CheckpointError("larger than 16 MiB")
            found = open_revocation_list(data, _windows(keys), origin)
        except CheckpointError as exc:
            return cls(path, now, max_age, problem=f"{exc.message} ({exc.code})",
                       problem_th="ลายมือชื่อหรือรูปแบบไม่ถูกต้อง (อาจถูกปลอมหรือเสียหาย)")
        return cls(path, now, max_age, found)

    @property
    def age(self) -> dt.timedelta | None:
        return None if self.found is None else self.now - self.found.issued_at

    @property
    def stale(self) -> bool:
        return self.age is not None and self.age > self.max_age

    def warning(self) -> str | None:
        """What to tell the user besides the report: a list that is stale, forged or unreadable."""
        if self.found is None:
            return (f"คำเตือน: รายการเพิกถอนที่เก็บไว้ใช้ไม่ได้ / warning: the kept revocation list {self.path} is "
                    f"not usable: {self.problem}; revocation cannot be checked offline — delete it and verify "
                    "once online to fetch a fresh one")
        if self.stale:
            return (f"คำเตือน: รายการเพิกถอนเก่าเกินกำหนด / warning: the kept revocation list is "
                    f"{_age_text(self.age or dt.timedelta())} old, older than the allowed "
                    f"{_age_text(self.max_age)} (--revocation-max-age): verify once online to fetch a fresh one")
        return None

    def check(self, printout_id: str) -> Check:
        """Check 7 offline, from the list."""
        if self.found is None:
            return skipped(7, f"รายการเพิกถอนที่เก็บไว้ใช้ไม่ได้ ({self.problem_th}) / the kept revocation list "
                              f"{self.path} is not usable: {self.problem}; revocation unknown")
        issued = self.found.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        said = f"the hub's revocation list issued {issued}, {_age_text(self.age or dt.timedelta())} old"
        revoked = self.found.revoked.get(printout_id)
        if revoked is not None:
            return failed(7, f"ถูกเพิกถอน / REVOKED at {revoked.revoked_at}: {revoked.reason} (log index "
                             f"{revoked.log_index}; from {said})")
        if self.stale:
            return skipped(7, f"รายการเพิกถอนเก่าเกินกำหนด / not in {said}, older than the allowed "
                              f"{_age_text(self.max_age)}: a revocation since then is unknown")
        return passed(7, f"ไม่ถูกเพิกถอน / not revoked: not in {said} (allowed age {_age_text(self.max_age)})")
