"""The running hub's keys: the seal key and the log keys it signs with now, followed while it runs.

``LiveSealer`` and ``LogSigner`` stat the key set files (linkage/keyset.py; once
per printout, once per group commit) and load the new keys when a rotation
(linkage/cli/keys.py) changed them: the hub follows without a restart. A
rotation is staged in full in a folder of pki/, renamed to pki/rotation-pending
(the commit point), then moved into place file by file, key sets last; an
interrupted one is finished by the next ``linkage keys`` command or hub start
(``finish_pending``). During a rotation's overlap the hub signs every checkpoint
with both keys (a C2SP note carries several signatures), so an auditor still
pinning the old key goes on verifying while it updates its pin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from linkage import pki
from linkage.checkpoint import SIGNED_AT, Checkpoint, CheckpointSigner, KeyWindow, NoteSigner, sign_note
from linkage.config import Home, file_stamp
from linkage.keyset import (
    LOG_KEYS,
    RETIRED,
    SEAL_KEYS,
    KeySetError,
    load_note_key,
    log_key_set,
    read_cert,
    utc_second,
    utc_text,
)
from linkage.revlist import revocation_list_text
from linkage.seal import CompactJWS, Sealer

__all__ = ["PENDING", "LiveSealer", "LogSigner", "finish_pending", "fsync_dir", "sign_revocation_list"]

PENDING: Final = "rotation-pending"

_log = logging.getLogger("linkage.keys")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def _order(rel: Path) -> tuple[int, str]:
    # Old keys kept first; the seal key before its certificate; the key sets, which the hub watches, last.
    rank = {RETIRED: 0, "seal": 1, "log-note.key": 2, "log-note.vkey": 3, LOG_KEYS: 4, SEAL_KEYS: 5}
    return rank.get(rel.parts[0], 1), str(rel)


def finish_pending(home: Home) -> bool:
    """Put a committed rotation (pki/rotation-pending) in force, if there is one; return whether there was."""
    pending = home.pki / PENDING
    if not pending.is_dir():
        return False
    for rel in sorted((p.relative_to(pending) for p in pending.rglob("*") if p.is_file()), key=_order):
        target = home.pki / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # another process finishing the same rotation moved it
            os.replace(pending / rel, target)
    fsync_dir(home.pki)
    shutil.rmtree(pending, ignore_errors=True)
    return True

def _seal_material(home: Home) -> tuple[ec.EllipticCurvePrivateKey, list[x509.Certificate]]:
    return pki.load_private_key(home.seal.key), [read_cert(home.seal.cert), read_cert(home.ca.cert)]


class LiveSealer(Sealer):
    """The hub's ``Sealer``, following DIR/pki/seal-keys.json: after a rotation the next printout has the new key.

    A key that does not load is refused with an error in the log, and the previous one kept.
    """

    __slots__ = ("_home", "_keys", "_seen")

    def __init__(self, home: Home) -> None:
        finish_pending(home)
        self._home = home
        self._keys = home.pki / SEAL_KEYS
        self._seen = file_stamp(self._keys)
        key, chain = _seal_material(home)
        super().__init__(key, chain)

    def seal(self, payload: Mapping[str, Any]) -> CompactJWS:
        stamp = file_stamp(self._keys)
        if stamp != self._seen:
            self._seen = stamp
            old = self.kid
            try:
                key, chain = _seal_material(self._home)
                Sealer.__init__(self, key, chain)
            except (KeySetError, OSError, ValueError) as exc:
                _log.error("NEW SEAL KEY REFUSED, still sealing with %s: %s", old, exc)
            else:
                _log.warning("seal key rotated: sealing with %s (was %s)", self.kid, old)
        return super().seal(payload)


class LogSigner:
    """Signs the log's checkpoints with every key of DIR/pki/log-keys.json in force now (a ``CheckpointSigner``).

    Each checkpoint gets a ``signed-at`` line. During a rotation's overlap the
    old and the new key both sign; a retired key never does. The key set is
    followed while the hub runs (one stat per group commit). Raises KeySetError
    (no_key_in_force) when no key it holds may sign: then nothing is committed.
    """

    def __init__(self, home: Home, *, clock: Callable[[], dt.datetime] = _now) -> None:
        finish_pending(home)
        self._home = home
        self._clock = clock
        self._keys = home.pki / LOG_KEYS
        self._seen = file_stamp(self._keys)
        self._signers = self._load()

    def _load(self) -> list[tuple[KeyWindow, NoteSigner]]:
        current = load_note_key(self._home.log_note_key)
        out = []
        for window in log_key_set(self._home):
            name = window.verifier.name
            retired = self._home.pki / RETIRED / f"log-note-{window.verifier.key_id.hex()}.key"
            for candidate in (current, *([load_note_key(retired)] if retired.exists() else [])):
                signer = NoteSigner(name, candidate)
                if signer.verifier() == window.verifier:
                    out.append((window, signer))
                    break
        if not out:
            raise KeySetError("no_key_in_force", f"none of the keys in {self._home.pki / LOG_KEYS} is held in"
                              f" {self._home.log_note_key} or {self._home.pki / RETIRED}")
        return out

    @property
    def windows(self) -> tuple[KeyWindow, ...]:
        """The keys this signer holds, with their windows."""
        return tuple(w for w, _ in self._signers)

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        return self.sign_dated(lambda now: Checkpoint(checkpoint.origin, checkpoint.size, checkpoint.root_hash,
                                                      (*checkpoint.extensions, SIGNED_AT + now)).text())

    def sign_dated(self, text_at: Callable[[str], str]) -> str:
        """The note of ``text_at(now)`` (now: RFC 3339 UTC, to the second), signed by every key in force now: a
        checkpoint, or the revocation list (linkage/revlist.py)."""
        stamp = file_stamp(self._keys)
        if stamp != self._seen:
            self._seen = stamp
            try:
                self._signers = self._load()
            except KeySetError as exc:
                _log.error("NEW LOG KEYS REFUSED, still signing with the keys loaded before: %s", exc)
            else:
                _log.warning("log keys reloaded: %s", ", ".join(w.label() for w, _ in self._signers))
        now = utc_second(self._clock())
        signers = [s for w, s in self._signers if w.in_force(now)]
        if not signers:
            raise KeySetError("no_key_in_force", f"no log key held by the hub is in force at {utc_text(now)}: rotate"
                              " with `linkage keys rotate`")
        return sign_note(text_at(str(utc_text(now))), signers)


def sign_revocation_list(signer: NoteSigner | CheckpointSigner, origin: str, size: int,
                         rows: Sequence[tuple[int, Mapping[str, Any]]]) -> str:
    """The revocation list (linkage/revlist.py) of the tree of ``size`` whose revocation entries are ``rows``,
    issued now: signed by every log key in force (the hub's ``LogSigner``), or by one ``NoteSigner`` (tests, tools).
    Raises KeySetError when the hub holds no log key in force."""

    def text_at(now: str) -> str:
        return revocation_list_text(origin, dt.datetime.fromisoformat(now), size, rows)

    if isinstance(signer, LogSigner):
        return signer.sign_dated(text_at)
    if isinstance(signer, NoteSigner):
        return sign_note(text_at(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")), [signer])
    raise TypeError(f"cannot sign a revocation list with {type(signer).__name__}")
