"""Read-only access to one registry's SQLite store (see ``providers.registry`` for its layout)."""

from __future__ import annotations

import hmac
import json
import sqlite3
from pathlib import Path
from typing import Any

from providers.registry import Registry

__all__ = ["RecordStore"]


class RecordStore:
    """One read-only connection to a registry's store. Each lookup is one indexed query (tens of µs).

    Opening raises FileNotFoundError when the store does not exist (it is never created here).
    """

    def __init__(self, registry: Registry, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no {registry.name} store here; make one with `linkage init`")
        self.registry = registry
        # Lookups run on the event loop's thread only; check_same_thread is off so that a store
        # made before the loop starts can be used from it.
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._conn.execute("PRAGMA query_only = ON")

    def get(self, doc_type: str, subject_id: str) -> dict[str, Any] | None:
        """The stored document, or None. doc_type must be one of the registry's."""
        row = self._conn.execute(self.registry.queries[doc_type], (subject_id,)).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    def check_card(self, subject_id: str, first_name_th: str, last_name_th: str, birth_date: str,
                   laser_code: str) -> bool:
        """True when an active card of subject_id shows exactly these names, birth date and laser code."""
        row = self._conn.execute(
            "SELECT first_name_th, last_name_th, birth_date, laser_code, active FROM card_check WHERE subject_id = ?",
            (subject_id,),
        ).fetchone()
        if row is None:
            return False
        given = (first_name_th.strip(), last_name_th.strip(), birth_date.strip(), laser_code.strip().upper())
        # Compare every part, in constant time, so that timing does not tell which part differed.
        same = [hmac.compare_digest(a.encode(), str(b).encode()) for a, b in zip(given, row[:4], strict=True)]
        return all(same) and row[4] == 1

    def close(self) -> None:
        self._conn.close()
