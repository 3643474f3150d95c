"""Key rotation: ``linkage keys rotate | list``, the key sets auditors pin, and the running hub's live keys.

The hub signs with two keys: the seal key (ES256, printouts; certificate
pki/seal/hub-seal.pem from the linkage CA) and the log's note key (Ed25519,
checkpoints; pki/log-note.key, verifier key pki/log-note.vkey). ``rotate`` makes
a new one of each, in force at once, and retires the old ones when an overlap
ends. It publishes every key with its window::

    DIR/pki/seal-keys.json  {"version": 1, "keys": [{"kid", "cert_sha256", "not_before", "retired_at"}, ...]}
    DIR/pki/log-keys.json   {"version": 1, "keys": [{"vkey", "not_before", "retired_at"}, ...]}
    DIR/pki/retired/        old seal certificates; old log keys until they retire (then deleted)

(times RFC 3339 UTC; null: open). Seals: the hub seals with the new key at once;
a printout the old key sealed before its retirement still verifies, one whose
``issued_at`` is after it is refused by an auditor that pins seal-keys.json.
Checkpoints: during the overlap the hub signs every checkpoint with both keys (a
C2SP note carries several signatures), so an auditor still pinning the old key
goes on verifying while it updates its pin; afterwards only the new key signs,
and a checkpoint the old key signs after its retirement is refused
(``linkage.checkpoint.RetiredKey``). Every checkpoint says when it was signed
(a ``signed-at`` line), and that is the time a key's window is judged at.

The running hub follows without a restart: ``LiveSealer`` and ``LogSigner``
stat the key set files (once per printout, once per group commit) and load the
new keys when they change. A rotation is staged in full in a folder of pki/,
renamed to pki/rotation-pending (the commit point), then moved into place file
by file, key sets last; an interrupted one is finished by the next ``linkage
keys`` command or hub start (``finish_pending``).

Errors: ``KeySetError`` with a stable ``code``: ``bad_overlap`` (not a duration),
``bad_key_set`` (a key set file that does not parse), ``no_key_in_force`` (the
hub holds no key that may sign now), ``no_sandbox``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import pki
from linkage.checkpoint import (
    SIGNED_AT,
    Checkpoint,
    CheckpointError,
    KeyWindow,
    NoteSigner,
    parse_verifier_key,
    sign_note,
)
from linkage.config import Home, file_stamp
from linkage.seal import CompactJWS, Sealer, jwk_thumbprint

__all__ = [
    "DEFAULT_OVERLAP",
    "LOG_KEYS",
    "SEAL_KEYS",
    "KeySetError",
    "LiveSealer",
    "LogSigner",
    "Rotation",
    "SealKey",
    "add_commands",
    "finish_pending",
    "load_log_keys",
    "load_seal_keys",
    "log_key_set",
    "parse_overlap",
    "rotate",
    "seal_key_problem",
    "seal_key_set",
    "stage_rotation",
]

LOG_KEYS: Final = "log-keys.json"
SEAL_KEYS: Final = "seal-keys.json"
DEFAULT_OVERLAP: Final = dt.timedelta(days=7)
_MAX_OVERLAP: Final = dt.timedelta(days=365)
_VERSION: Final = 1
_RETIRED: Final = "retired"
_PENDING: Final = "rotation-pending"
_DURATION = re.compile(r"(\d{1,6})([smhdw]?)")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

_log = logging.getLogger("linkage.keys")


class KeySetError(Exception):
    """A refused key operation or an unusable key set; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _second(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, to the whole second (windows and signed-at lines are kept to the second)."""
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _text(when: dt.datetime | None) -> str | None:
    return None if when is None else _second(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_overlap(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or ``0``; raises KeySetError(bad_overlap)."""
    found = _DURATION.fullmatch(text.strip())
    if found is None or (not found.group(2) and int(found.group(1)) != 0):
        raise KeySetError("bad_overlap", f"--overlap {text[:40]!r} is not a duration: write a whole number and a"
                          " unit (s, m, h, d or w), e.g. 7d or 12h; 0 retires the old keys at once")
    overlap = dt.timedelta(seconds=int(found.group(1)) * _UNITS.get(found.group(2), 0))
    if overlap > _MAX_OVERLAP:
        raise KeySetError("bad_overlap", f"--overlap {text[:40]!r} is longer than {_MAX_OVERLAP.days} days: a"
                          " retiring key should not stay in force that long")
    return overlap


# --- key sets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealKey:
    """A seal key of the hub: its ``kid`` (RFC 7638 thumbprint) and the window it may seal in."""

    kid: str
    cert_sha256: str = ""
    not_before: dt.datetime | None = None
    retired_at: dt.datetime | None = None

    def in_force(self, when: dt.datetime) -> bool:
        return (self.not_before is None or self.not_before <= when) and (
            self.retired_at is None or when < self.retired_at)


def seal_key_problem(keys: Sequence[SealKey], kid: str, issued_at: dt.datetime) -> str | None:
    """Why the seal key ``kid`` may not have sealed at ``issued_at`` under the pinned ``keys``; None if it may."""
    found = [k for k in keys if k.kid == kid]
    if not found:
        return (f"seal key {kid} is not in the pinned seal key set ({len(keys)} keys); if the hub rotated its keys,"
                " take the new DIR/pki/seal-keys.json")
    if any(k.in_force(issued_at) for k in found):
        return None
    key = found[0]
    at = _text(issued_at)
    if key.not_before is not None and issued_at < key.not_before:
        return f"seal key {kid} is in force only from {_text(key.not_before)}, and this printout says {at}"
    return (f"seal key {kid} was retired at {_text(key.retired_at)}, and this printout says it was sealed at {at},"
            " after that: a retired key's new seal is refused")


def _time(value: Any, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise KeySetError("bad_key_set", f"{where}: {str(value)[:40]!r} is not an RFC 3339 UTC time or null")
    return when


def _entries(path: Path) -> list[Mapping[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise KeySetError("bad_key_set", f"{path}: cannot read the key set ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("version") != _VERSION or not isinstance(doc.get("keys"), list) \
            or not doc["keys"] or not all(isinstance(k, dict) for k in doc["keys"]):
        raise KeySetError("bad_key_set", f"{path}: not a version {_VERSION} key set"
                          ' ({"version": 1, "keys": [{...}, ...]} with at least one key)')
    return list(doc["keys"])


def load_log_keys(path: Path) -> tuple[KeyWindow, ...]:
    """The log keys in a log-keys.json, with their windows; raises KeySetError(bad_key_set)."""
    out = []
    for i, entry in enumerate(_entries(path)):
        where = f"{path} keys[{i}]"
        try:
            verifier = parse_verifier_key(str(entry.get("vkey", "")))
            out.append(KeyWindow(verifier, _time(entry.get("not_before"), f"{where} not_before"),
                                 _time(entry.get("retired_at"), f"{where} retired_at")))
        except CheckpointError as exc:
            raise KeySetError("bad_key_set", f"{where}: {exc}") from exc
    return tuple(out)


def load_seal_keys(path: Path) -> tuple[SealKey, ...]:
    """The seal keys in a seal-keys.json, with their windows; raises KeySetError(bad_key_set)."""
    out = []
    for i, entry in enumerate(_entries(path)):
        where = f"{path} keys[{i}]"
        kid, digest = entry.get("kid"), entry.get("cert_sha256", "")
        if not isinstance(kid, str) or not kid or not isinstance(digest, str):
            raise KeySetError("bad_key_set", f"{where}: kid must be the seal key's RFC 7638 thumbprint")
        out.append(SealKey(kid, digest, _time(entry.get("not_before"), f"{where} not_before"),
                           _time(entry.get("retired_at"), f"{where} retired_at")))
    return tuple(out)


def log_key_set(home: Home) -> tuple[KeyWindow, ...]:
    """DIR/pki/log-keys.json, or (never rotated) the one key in DIR/pki/log-note.vkey with an open window."""
    path = home.pki / LOG_KEYS
    if path.exists():
        return load_log_keys(path)
    try:
        return (KeyWindow(parse_verifier_key(home.log_note_vkey.read_text(encoding="ascii").strip())),)
    except (OSError, UnicodeDecodeError, CheckpointError) as exc:
        raise KeySetError("bad_key_set", f"{home.log_note_vkey}: not the log's verifier key ({exc})") from exc


def seal_key_set(home: Home) -> tuple[SealKey, ...]:
    """DIR/pki/seal-keys.json, or (never rotated) the one seal key in DIR/pki/seal/ with an open window."""
    path = home.pki / SEAL_KEYS
    if path.exists():
        return load_seal_keys(path)
    return (_seal_entry(_read_cert(home.seal.cert)),)


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeySetError("bad_key_set", f"{path}: not a readable certificate ({exc})") from exc


def _seal_entry(cert: x509.Certificate, not_before: dt.datetime | None = None) -> SealKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeySetError("bad_key_set", "the seal certificate's key is not ECDSA P-256")
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return SealKey(jwk_thumbprint(key), digest, not_before)


def _dump(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"version": _VERSION, "keys": entries}, ensure_ascii=False, indent=2) + "\n"


def _log_json(keys: Sequence[KeyWindow]) -> str:
    return _dump([{"vkey": k.verifier.vkey(), "not_before": _text(k.not_before), "retired_at": _text(k.retired_at)}
                  for k in keys])


def _seal_json(keys: Sequence[SealKey]) -> str:
    return _dump([{"kid": k.kid, "cert_sha256": k.cert_sha256, "not_before": _text(k.not_before),
                   "retired_at": _text(k.retired_at)} for k in keys])


# --- rotation -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rotation:
    """What ``rotate`` did: the keys before and after, and when the old ones retire."""

    at: dt.datetime
    retired_at: dt.datetime
    seal_old: str
    seal_new: str
    log_old: str
    log_new: str
    pruned: tuple[str, ...] = ()


@contextlib.contextmanager
def _locked(home: Home) -> Iterator[None]:
    try:
        fd = os.open(home.pki, os.O_RDONLY)
    except FileNotFoundError:
        raise KeySetError("no_sandbox", f"{home.pki}: no sandbox keys here; run `linkage init --home {home.root}`"
                          " first") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _load_note_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeySetError("bad_key_set", f"{path}: cannot read the log's note key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeySetError("bad_key_set", f"{path}: the log's note key must be an Ed25519 private key")
    return key


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _retire(when: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    return at if when is None else min(when, at)


def stage_rotation(home: Home, overlap: dt.timedelta, *, now: dt.datetime | None = None) -> Rotation:
    """Make the new keys and key sets and commit them as pki/rotation-pending; nothing is in force yet.

    ``finish_pending`` puts them in force (``rotate`` does both). Raises KeySetError; a refusal writes nothing.
    """
    if overlap < dt.timedelta(0):
        raise KeySetError("bad_overlap", "the overlap cannot be negative")
    at = _second(now or _now())
    retired_at = at + overlap
    old_note = _load_note_key(home.log_note_key)
    logs = log_key_set(home)
    seals = seal_key_set(home)
    old_cert = _read_cert(home.seal.cert)
    old_seal = _seal_entry(old_cert)
    name = logs[-1].verifier.name
    old_signer = NoteSigner(name, old_note)
    if old_signer.verifier() not in [k.verifier for k in logs]:
        raise KeySetError("bad_key_set", f"{home.log_note_key} is not one of the keys in {home.pki / LOG_KEYS}")
    new_signer = NoteSigner(name, Ed25519PrivateKey.generate())
    staging = Path(tempfile.mkdtemp(prefix=".rotation-", dir=home.pki))
    try:
        issued = pki.issue(home.ca, "hub-seal", pki.Role.SEAL, staging / "seal", now=at)
        new_seal = _seal_entry(_read_cert(issued.cert), at)
        _write(staging / _RETIRED / f"log-note-{old_signer.key_id.hex()}.key", _pem(old_note), 0o600)
        _write(staging / _RETIRED / f"hub-seal-{old_seal.kid}.pem", old_cert.public_bytes(serialization.Encoding.PEM))
        _write(staging / "log-note.key", _pem(new_signer.private_key), 0o600)
        _write(staging / "log-note.vkey", (new_signer.vkey() + "\n").encode("ascii"))
        new_logs = [dataclasses.replace(k, retired_at=_retire(k.retired_at, retired_at)) for k in logs]
        new_logs.append(KeyWindow(new_signer.verifier(), at))
        new_seals = [dataclasses.replace(k, retired_at=_retire(k.retired_at, retired_at)) for k in seals]
        new_seals.append(new_seal)
        _write(staging / LOG_KEYS, _log_json(new_logs).encode("utf-8"))
        _write(staging / SEAL_KEYS, _seal_json(new_seals).encode("utf-8"))
        os.rename(staging, home.pki / _PENDING)  # the commit point: from here the rotation is finished, not undone
        _fsync_dir(home.pki)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Rotation(at, retired_at, old_seal.kid, new_seal.kid, _label(old_signer), _label(new_signer))


def _label(signer: NoteSigner) -> str:
    return f"{signer.name}+{signer.key_id.hex()}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _order(rel: Path) -> tuple[int, str]:
    # Old keys kept first; the seal key before its certificate; the key sets, which the hub watches, last.
    rank = {_RETIRED: 0, "seal": 1, "log-note.key": 2, "log-note.vkey": 3, LOG_KEYS: 4, SEAL_KEYS: 5}
    return rank.get(rel.parts[0], 1), str(rel)


def finish_pending(home: Home) -> bool:
    """Put a committed rotation (pki/rotation-pending) in force, if there is one; return whether there was."""
    pending = home.pki / _PENDING
    if not pending.is_dir():
        return False
    for rel in sorted((p.relative_to(pending) for p in pending.rglob("*") if p.is_file()), key=_order):
        target = home.pki / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # another process finishing the same rotation moved it
            os.replace(pending / rel, target)
    _fsync_dir(home.pki)
    shutil.rmtree(pending, ignore_errors=True)
    return True


def _prune(home: Home, now: dt.datetime) -> tuple[str, ...]:
    """Delete the private keys of log keys past their retirement: they may never sign again."""
    pruned = []
    for window in log_key_set(home):
        if window.retired_at is not None and window.retired_at <= now:
            path = home.pki / _RETIRED / f"log-note-{window.verifier.key_id.hex()}.key"
            if path.exists():
                path.unlink()
                pruned.append(window.label())
    return tuple(pruned)


def _refresh_endpoints(home: Home) -> None:
    """endpoints.json (written while the sandbox is up) names the log's newest verifier key."""
    path = home.endpoints
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["log"]["vkey"] = home.log_note_vkey.read_text(encoding="ascii").strip()
        tmp = path.with_name(path.name + ".keys.tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, KeyError) as exc:
        print(f"linkage keys: {path} not updated ({exc}); the keys are rotated", file=sys.stderr)


def rotate(home: Home, overlap: dt.timedelta = DEFAULT_OVERLAP, *, now: dt.datetime | None = None) -> Rotation:
    """Rotate the seal key and the log key; the old ones retire ``overlap`` after ``now``. Raises KeySetError."""
    with _locked(home):
        finish_pending(home)
        done = stage_rotation(home, overlap, now=now)
        finish_pending(home)
        pruned = _prune(home, _now())
    _refresh_endpoints(home)
    return dataclasses.replace(done, pruned=pruned)


# --- the running hub ----------------------------------------------------------------------------------------------


def _seal_material(home: Home) -> tuple[ec.EllipticCurvePrivateKey, list[x509.Certificate]]:
    return pki.load_private_key(home.seal.key), [_read_cert(home.seal.cert), _read_cert(home.ca.cert)]


class LiveSealer(Sealer):
    """The hub's ``Sealer``, following DIR/pki/seal-keys.json: after a rotation the next printout has the new key.

    A key that does not load is refused with an error in the log, and the previous one kept.
    """

    __slots__ = ("_home", "_seen")

    def __init__(self, home: Home) -> None:
        finish_pending(home)
        self._home = home
        self._seen = file_stamp(home.pki / SEAL_KEYS)
        key, chain = _seal_material(home)
        super().__init__(key, chain)

    def seal(self, payload: Mapping[str, Any]) -> CompactJWS:
        stamp = file_stamp(self._home.pki / SEAL_KEYS)
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
        self._seen = file_stamp(home.pki / LOG_KEYS)
        self._signers = self._load()

    def _load(self) -> list[tuple[KeyWindow, NoteSigner]]:
        current = _load_note_key(self._home.log_note_key)
        out = []
        for window in log_key_set(self._home):
            name = window.verifier.name
            retired = self._home.pki / _RETIRED / f"log-note-{window.verifier.key_id.hex()}.key"
            for candidate in (current, *([_load_note_key(retired)] if retired.exists() else [])):
                signer = NoteSigner(name, candidate)
                if signer.verifier() == window.verifier:
                    out.append((window, signer))
                    break
        if not out:
            raise KeySetError("no_key_in_force", f"none of the keys in {self._home.pki / LOG_KEYS} is held in"
                              f" {self._home.log_note_key} or {self._home.pki / _RETIRED}")
        return out

    @property
    def windows(self) -> tuple[KeyWindow, ...]:
        """The keys this signer holds, with their windows."""
        return tuple(w for w, _ in self._signers)

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        stamp = file_stamp(self._home.pki / LOG_KEYS)
        if stamp != self._seen:
            self._seen = stamp
            try:
                self._signers = self._load()
            except KeySetError as exc:
                _log.error("NEW LOG KEYS REFUSED, still signing with the keys loaded before: %s", exc)
            else:
                _log.warning("log keys reloaded: %s", ", ".join(w.label() for w, _ in self._signers))
        now = _second(self._clock())
        signers = [s for w, s in self._signers if w.in_force(now)]
        if not signers:
            raise KeySetError("no_key_in_force", f"no log key held by the hub is in force at {_text(now)}: rotate"
                              " with `linkage keys rotate`")
        stamped = Checkpoint(checkpoint.origin, checkpoint.size, checkpoint.root_hash,
                             (*checkpoint.extensions, SIGNED_AT + str(_text(now))))
        return sign_note(stamped.text(), signers)


# --- the command line ---------------------------------------------------------------------------------------------


def _home(args: argparse.Namespace) -> Home:
    return Home(Path(args.home).resolve())


def _cmd_rotate(args: argparse.Namespace) -> int:
    try:
        done = rotate(_home(args), parse_overlap(args.overlap))
    except KeySetError as err:
        print(f"linkage keys rotate: {err.message} ({err.code}); nothing was changed", file=sys.stderr)
        return 2
    home = _home(args)
    until = _text(done.retired_at)
    print(f"keys rotated at {_text(done.at)}; the old keys retire at {until}\n"
          f"  seal: {done.seal_new} seals from now on; {done.seal_old} is accepted until {until},"
          " and what it sealed before then verifies for ever\n"
          f"  log:  {done.log_new} signs checkpoints; {done.log_old} co-signs them until {until}\n"
          f"  auditors pin: {home.pki / SEAL_KEYS} and {home.pki / LOG_KEYS}\n"
          "  the running hub takes the new keys at its next printout (no restart needed)")
    for label in done.pruned:
        print(f"  deleted the private key of {label}, retired before now")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    home = _home(args)
    now = _now()
    try:
        with _locked(home):
            finish_pending(home)
        seals, logs = seal_key_set(home), log_key_set(home)
    except KeySetError as err:
        print(f"linkage keys list: {err.message} ({err.code})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"seal": json.loads(_seal_json(seals))["keys"], "log": json.loads(_log_json(logs))["keys"]},
                         indent=2))
        return 0

    def state(not_before: dt.datetime | None, retired_at: dt.datetime | None) -> str:
        since = f"from {_text(not_before)}" if not_before else "from the start"
        if retired_at is None:
            return f"in force {since}"
        if retired_at <= now:
            return f"RETIRED at {_text(retired_at)} ({since})"
        return f"in force {since}, retiring at {_text(retired_at)} (overlap)"

    print(f"seal keys ({home.pki / SEAL_KEYS}):")
    for s in seals:
        print(f"  {s.kid}  {state(s.not_before, s.retired_at)}")
    print(f"log keys ({home.pki / LOG_KEYS}):")
    for w in logs:
        print(f"  {w.label()}  {state(w.not_before, w.retired_at)}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage keys rotate | list``."""
    from linkage.cli import with_home

    keys = sub.add_parser("keys", help="rotate the hub's seal key and the log's checkpoint key; list them")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")

    p = with_home(keys_sub.add_parser(
        "rotate", help="new seal and log keys, in force at once; the old ones retire after --overlap"))
    p.add_argument("--overlap", default=os.environ.get("LINKAGE_KEYS_OVERLAP", "7d"),
                   help="how long the old keys stay in force, e.g. 7d, 12h, 0 (LINKAGE_KEYS_OVERLAP, default 7d)")
    p.set_defaults(func=_cmd_rotate)

    p = with_home(keys_sub.add_parser("list", help="every seal and log key with its window"))
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_list)
