"""The hub's signed revocation list: every revoked printout, for verifiers that check paper offline.

A C2SP signed note (linkage/note.py), signed with the log's note key (the key set of pki/log-keys.json,
the key auditors already pin for checkpoints), whose text is::

    <log origin>
    revocations v1
    issued-at 2026-12-03T08:00:00Z
    log-size 1234
    <printout_id> <log index of the revocation> <revoked_at> <reason>
    ...

one line per revoked printout, in log order. Keyed by printout id: a photo of a paper names its printouts
by id, not by log index. The second line keeps a list from ever reading as a checkpoint (whose second line
is a tree size) and a checkpoint from reading as a list. Why the log key: a revocation is a log entry, the
list is a statement about the log's contents as of ``log-size``, and its key is the one every auditor pins,
published with its window and rotated with ``linkage keys rotate`` (the seal key signs printouts for
citizens; a list it signed would read as a printout's seal).

``open_revocation_list`` is a trust boundary: it returns the list if a trusted key signed it in its window,
else raises a ``CheckpointError`` (``MalformedNote``, ``NoValidSignature``, ``RetiredKey``, …) or
``MalformedRevocationList``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from linkage.checkpoint import KeyWindow, RetiredKey
from linkage.note import CheckpointError, NoteSigner, NoteVerifier, open_note, sign_note

__all__ = ["KIND", "MalformedRevocationList", "RevocationList", "Revoked", "open_revocation_list",
           "revocation_list_text", "sign_revocation_list"]

KIND: Final = "revocations v1"
_REASON_MAX: Final = 200
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_ID = re.compile(r"[0-9A-Za-z._:-]{1,64}")


class MalformedRevocationList(CheckpointError):
    code = "malformed_revocation_list"


@dataclass(frozen=True)
class Revoked:
    """One revoked printout: its revocation's log index, when and why."""

    log_index: int
    revoked_at: str
    reason: str


@dataclass(frozen=True)
class RevocationList:
    origin: str
    issued_at: dt.datetime
    log_size: int
    revoked: Mapping[str, Revoked]


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(text: str) -> str:
    """The reason on one line: control characters become spaces, at most 200 characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:_REASON_MAX]


def revocation_list_text(origin: str, issued_at: dt.datetime, log_size: int,
                         entries: Iterable[tuple[int, Mapping[str, str]]]) -> str:
    """The note text of a list: ``entries`` are (log index, revocation entry) pairs (``RevocationEntry`` fields)."""
    lines = [origin, KIND, f"issued-at {_utc(issued_at)}", f"log-size {log_size}"]
    for index, entry in entries:
        lines.append(f"{entry['printout_id']} {index} {entry['revoked_at']} {_reason(entry['reason'])}".rstrip())
    return "\n".join(lines) + "\n"


def sign_revocation_list(text: str, signers: Sequence[NoteSigner]) -> str:
    return sign_note(text, signers)


def open_revocation_list(note: str | bytes, verifiers: Iterable[NoteVerifier | KeyWindow],
                         origin: str) -> RevocationList:
    """The list in ``note`` if a trusted key signed it while in force, for log ``origin``."""
    windows = [v if isinstance(v, KeyWindow) else KeyWindow(v) for v in verifiers]
    opened = open_note(note, [w.verifier for w in windows])
    lines = opened.text.split("\n")[:-1]
    if len(lines) < 4 or lines[1] != KIND:
        raise MalformedRevocationList("not a revocation list (its second line is not 'revocations v1')")
    if lines[0] != origin:
        raise MalformedRevocationList(f"a revocation list of log {lines[0][:80]!r}, not of {origin!r}")
    issued, size = lines[2].removeprefix("issued-at "), lines[3].removeprefix("log-size ")
    if not _TIME.fullmatch(issued) or not size.isdigit():
        raise MalformedRevocationList("the list's issued-at or log-size line is malformed")
    issued_at = dt.datetime.fromisoformat(issued)
    signers = [w for w in windows if w.verifier in opened.signed_by]
    if not any(w.in_force(issued_at) for w in signers):
        raise RetiredKey(f"the revocation list was issued at {issued}, when no key that signed it was in force")
    revoked: dict[str, Revoked] = {}
    for line in lines[4:]:
        parts = line.split(" ", 3)
        if len(parts) < 3 or not _ID.fullmatch(parts[0]) or not parts[1].isdigit() or not _TIME.fullmatch(parts[2]):
            raise MalformedRevocationList(f"a malformed line in the revocation list: {line[:80]!r}")
        revoked[parts[0]] = Revoked(int(parts[1]), parts[2], parts[3] if len(parts) > 3 else "")
    return RevocationList(origin, issued_at, int(size), revoked)
