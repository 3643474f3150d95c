"""What this auditor has seen of each log: the newest checkpoint, and the roots of the sizes before it.

The state file (default ``~/.linkage-auditor/state.json``) is JSON::

    {"version": 1,
     "logs": {"<origin>": {"size": N, "root_hash": "<base64>", "note": "<signed note>",
                           "seen": {"<size>": "<base64 root>", ...}}}}

``seen`` keeps the last ``MAX_SEEN`` sizes, so that an older checkpoint met
later (an old printout's) can be compared with the root remembered for its
size, offline. Only verified checkpoints are remembered; the file is replaced
atomically. Raises ``BadState`` and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from consumers.auditor.errors import BadState
from linkage.checkpoint import Checkpoint

__all__ = ["DEFAULT_STATE", "MAX_SEEN", "AuditorState", "Seen"]

DEFAULT_STATE: Final = Path.home() / ".linkage-auditor" / "state.json"
MAX_SEEN: Final = 4096
_VERSION: Final = 1


@dataclass(frozen=True)
class Seen:
    """The newest checkpoint of one log this auditor verified."""

    size: int
    root_hash: bytes
    note: str


@dataclass
class _Log:
    newest: Seen
    seen: dict[int, bytes] = field(default_factory=dict)


class AuditorState:
    """The checkpoints seen, per log origin; ``load`` it, ``remember`` verified ones, ``save``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._logs: dict[str, _Log] = {}

    @classmethod
    def load(cls, path: Path) -> AuditorState:
        """The state in ``path``; empty if the file does not exist. Raises BadState if it is not ours."""
        state = cls(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return state
        except (OSError, UnicodeDecodeError) as exc:
            raise BadState(f"{path}: cannot read the auditor state ({exc})") from exc
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("version") != _VERSION or not isinstance(doc.get("logs"), dict):
                raise ValueError(f"not a version {_VERSION} state document")
            for origin, log in doc["logs"].items():
                state._logs[origin] = _parse_log(log)
        except (ValueError, TypeError, KeyError, binascii.Error, RecursionError) as exc:  # Recursion: nested too deep
            raise BadState(f"{path}: not an auditor state file ({exc}); move it away to start afresh") from exc
        return state

    def newest(self, origin: str) -> Seen | None:
        log = self._logs.get(origin)
        return log.newest if log else None

    def root_at(self, origin: str, size: int) -> bytes | None:
        """The root this auditor verified for ``size``, if it remembers one."""
        log = self._logs.get(origin)
        return log.seen.get(size) if log else None

    def remember(self, checkpoint: Checkpoint, note: str) -> bool:
        """Record a verified checkpoint; return whether it became the newest. Call only after verifying it."""
        log = self._logs.get(checkpoint.origin)
        seen = Seen(checkpoint.size, checkpoint.root_hash, note)
        if log is None:
            log = self._logs[checkpoint.origin] = _Log(seen)
        log.seen[checkpoint.size] = checkpoint.root_hash
        while len(log.seen) > MAX_SEEN:
            del log.seen[min(s for s in log.seen if s != log.newest.size)]
        if checkpoint.size > log.newest.size:
            log.newest = seen
            return True
        return log.newest == seen

    def save(self) -> None:
        """Write the state atomically to ``path``; raises BadState."""
        if self.path is None:
            return
        doc = {"version": _VERSION, "logs": {
            origin: {"size": log.newest.size, "root_hash": _b64(log.newest.root_hash), "note": log.newest.note,
                     "seen": {str(size): _b64(root) for size, root in sorted(log.seen.items())}}
            for origin, log in self._logs.items()}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise BadState(f"{self.path}: cannot write the auditor state ({exc.strerror or exc})") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hash(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("a root hash must be a base64 string")
    data = binascii.a2b_base64(text, strict_mode=True)
    if len(data) != 32:
        raise ValueError("a root hash is 32 bytes")
    return data


def _parse_log(log: Any) -> _Log:
    if not isinstance(log, dict):
        raise TypeError("each log must be an object")
    size, note, seen = log["size"], log["note"], log.get("seen", {})
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(note, str):
        raise TypeError("size must be an integer >= 0 and note a string")
    if not isinstance(seen, dict):
        raise TypeError("seen must be an object")
    parsed = _Log(Seen(size, _hash(log["root_hash"]), note), {int(s): _hash(r) for s, r in seen.items()})
    parsed.seen[size] = parsed.newest.root_hash
    return parsed
