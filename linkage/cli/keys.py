"""``linkage keys rotate | list``: rotate the hub's seal and log keys with an overlap, and list them.

``rotate`` makes a new seal key and a new log key, in force at once, and
retires the old ones when the overlap ends (the key sets are linkage/keyset.py).
Seals: the hub seals with the new key at once; a printout the old key sealed
before its retirement still verifies. Checkpoints: during the overlap both keys
sign; afterwards only the new key. The running hub follows without a restart
(linkage/hub/keys.py). The rotation is staged in full in a folder of pki/ and
committed by one rename to pki/rotation-pending; a refusal writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import pki
from linkage.checkpoint import KeyWindow, NoteSigner
from linkage.cli.common import with_home
from linkage.config import Home
from linkage.hub.keys import PENDING, finish_pending, fsync_dir
from linkage.keyset import (
    LOG_KEYS,
    RETIRED,
    SEAL_KEYS,
    KeySetError,
    load_note_key,
    log_key_set,
    log_key_set_json,
    read_cert,
    seal_entry,
    seal_key_set,
    seal_key_set_json,
    utc_second,
    utc_text,
)
from linkage.officers import OFFICER_KEYS, OfficerKeyError, load_officer_keys

__all__ = ["DEFAULT_OVERLAP", "Rotation", "add_commands", "parse_overlap", "rotate", "stage_rotation"]

DEFAULT_OVERLAP: Final = dt.timedelta(days=7)
_MAX_OVERLAP: Final = dt.timedelta(days=365)
_DURATION = re.compile(r"(\d{1,6})([smhdw]?)")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    at = utc_second(now or _now())
    retired_at = at + overlap
    old_note = load_note_key(home.log_note_key)
    logs = log_key_set(home)
    seals = seal_key_set(home)
    old_cert = read_cert(home.seal.cert)
    old_seal = seal_entry(old_cert)
    name = logs[-1].verifier.name
    old_signer = NoteSigner(name, old_note)
    if old_signer.verifier() not in [k.verifier for k in logs]:
        raise KeySetError("bad_key_set", f"{home.log_note_key} is not one of the keys in {home.pki / LOG_KEYS}")
    new_signer = NoteSigner(name, Ed25519PrivateKey.generate())
    staging = Path(tempfile.mkdtemp(prefix=".rotation-", dir=home.pki))
    try:
        issued = pki.issue(home.ca, "hub-seal", pki.Role.SEAL, staging / "seal", now=at)
        new_seal = seal_entry(read_cert(issued.cert), at)
        _write(staging / RETIRED / f"log-note-{old_signer.key_id.hex()}.key", _pem(old_note), 0o600)
        _write(staging / RETIRED / f"hub-seal-{old_seal.kid}.pem", old_cert.public_bytes(serialization.Encoding.PEM))
        _write(staging / "log-note.key", _pem(new_signer.private_key), 0o600)
        _write(staging / "log-note.vkey", (new_signer.vkey() + "\n").encode("ascii"))
        new_logs = [dataclasses.replace(k, retired_at=_retire(k.retired_at, retired_at)) for k in logs]
        new_logs.append(KeyWindow(new_signer.verifier(), at))
        new_seals = [dataclasses.replace(k, retired_at=_retire(k.retired_at, retired_at)) for k in seals]
        new_seals.append(new_seal)
        _write(staging / LOG_KEYS, log_key_set_json(new_logs).encode("utf-8"))
        _write(staging / SEAL_KEYS, seal_key_set_json(new_seals).encode("utf-8"))
        os.rename(staging, home.pki / PENDING)  # the commit point: from here the rotation is finished, not undone
        fsync_dir(home.pki)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Rotation(at, retired_at, old_seal.kid, new_seal.kid, _label(old_signer), _label(new_signer))


def _label(signer: NoteSigner) -> str:
    return f"{signer.name}+{signer.key_id.hex()}"


def _prune(home: Home, now: dt.datetime) -> tuple[str, ...]:
    """Delete the private keys of log keys past their retirement: they may never sign again."""
    pruned = []
    for window in log_key_set(home):
        if window.retired_at is not None and window.retired_at <= now:
            path = home.pki / RETIRED / f"log-note-{window.verifier.key_id.hex()}.key"
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

def _home(args: argparse.Namespace) -> Home:
    return Home(Path(args.home).resolve())


def _cmd_rotate(args: argparse.Namespace) -> int:
    try:
        done = rotate(_home(args), parse_overlap(args.overlap))
    except KeySetError as err:
        print(f"linkage keys rotate: {err.message} ({err.code}); nothing was changed", file=sys.stderr)
        return 2
    home = _home(args)
    until = utc_text(done.retired_at)
    print(f"keys rotated at {utc_text(done.at)}; the old keys retire at {until}\n"
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
        officers = load_officer_keys(home.pki / OFFICER_KEYS)
    except KeySetError as err:
        print(f"linkage keys list: {err.message} ({err.code})", file=sys.stderr)
        return 2
    except OfficerKeyError as err:
        print(f"linkage keys list: {err} ({err.code})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"seal": json.loads(seal_key_set_json(seals))["keys"],
                          "log": json.loads(log_key_set_json(logs))["keys"],
                          "officer": [k.to_json() for k in officers]}, indent=2, ensure_ascii=False))
        return 0

    def state(not_before: dt.datetime | None, retired_at: dt.datetime | None) -> str:
        since = f"from {utc_text(not_before)}" if not_before else "from the start"
        if retired_at is None:
            return f"in force {since}"
        if retired_at <= now:
            return f"RETIRED at {utc_text(retired_at)} ({since})"
        return f"in force {since}, retiring at {utc_text(retired_at)} (overlap)"

    print(f"seal keys ({home.pki / SEAL_KEYS}):")
    for s in seals:
        print(f"  {s.kid}  {state(s.not_before, s.retired_at)}")
    print(f"log keys ({home.pki / LOG_KEYS}):")
    for w in logs:
        print(f"  {w.label()}  {state(w.not_before, w.retired_at)}")
    print(f"officer keys ({home.pki / OFFICER_KEYS}; `linkage agency officer-card`, `officer-enrol`, "
          "`revoke-officer`):")
    for k in officers:
        print(f"  {k.officer_id} {k.agency} {k.kind} {k.kid[:16]}…  {k.problem(now) or 'in force'}"
              f" (until {utc_text(k.not_after)})")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage keys rotate | list``."""
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
