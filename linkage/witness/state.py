"""What a witness remembers across restarts: for each log, the newest checkpoint it cosigned.

The state file (``DIR/data/witness-NAME.json`` in the sandbox) is JSON::

    {"version": 1,
     "logs": {"<origin>": {"size": N, "root_hash": "<base64>", "note": "<the note it cosigned, with its cosignature>"}}}

It is replaced atomically (a temporary file beside it, fsynced, renamed over it, the folder fsynced) before
the witness answers, so a cosignature that left the witness is never forgotten by a crash: the witness
never cosigns a second root for a size, nor a smaller tree, after a restart. Raises ``BadWitnessState``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from linkage.config import write_atomically

__all__ = ["BadWitnessState", "Cosigned", "WitnessState"]

_VERSION: Final = 1


class BadWitnessState(Exception):
    """The state file cannot be read or written, or is not a witness's; the message names the file."""

    code = "bad_witness_state"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Cosigned:
    """The newest checkpoint of one log the witness cosigned: size, root, and the note it returned for it."""

    size: int
    root_hash: bytes
    note: str


class WitnessState:
    """The logs' newest cosigned checkpoints; ``load`` it, ``record`` (durably) what was cosigned."""

    def __init__(self, path: Path, logs: dict[str, Cosigned] | None = None) -> None:
        self.path = path
        self._logs = dict(logs or {})

    @classmethod
    def load(cls, path: Path) -> WitnessState:
        """The state in ``path``; empty if there is no file. Raises BadWitnessState when it is not ours."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise BadWitnessState(f"{path}: cannot read the witness's state ({exc})") from exc
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("version") != _VERSION or not isinstance(doc.get("logs"), dict):
                raise ValueError(f"not a version {_VERSION} witness state")
            logs = {origin: _parse(entry) for origin, entry in doc["logs"].items()}
        except (ValueError, TypeError, KeyError, binascii.Error, RecursionError) as exc:
            raise BadWitnessState(f"{path}: not a witness's state file ({exc}); a witness that forgot what it "
                                  "cosigned could be made to cosign a fork, so it will not start") from exc
        return cls(path, logs)

    def get(self, origin: str) -> Cosigned | None:
        return self._logs.get(origin)

    def origins(self) -> list[str]:
        return sorted(self._logs)

    def record(self, origin: str, cosigned: Cosigned) -> None:
        """Make ``cosigned`` the newest of ``origin``, durably, before returning; raises BadWitnessState
        (and keeps the old state in memory) when it cannot be written."""
        logs = {**self._logs, origin: cosigned}
        doc = {"version": _VERSION, "logs": {
            o: {"size": c.size, "root_hash": base64.b64encode(c.root_hash).decode("ascii"), "note": c.note}
            for o, c in sorted(logs.items())}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        except OSError as exc:
            raise BadWitnessState(f"{self.path}: cannot write the witness's state ({exc.strerror or exc})") from exc
        self._logs = logs


def _parse(entry: Any) -> Cosigned:
    if not isinstance(entry, dict):
        raise TypeError("each log must be an object")
    size, root, note = entry["size"], entry["root_hash"], entry["note"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(note, str):
        raise TypeError("size must be an integer >= 0 and note a string")
    if not isinstance(root, str):
        raise TypeError("root_hash must be a base64 string")
    digest = binascii.a2b_base64(root, strict_mode=True)
    if len(digest) != 32:
        raise ValueError("a root hash is 32 bytes")
    return Cosigned(size, digest, note)
