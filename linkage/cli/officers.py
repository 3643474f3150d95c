"""``linkage agency officer-card | officer-enrol | revoke-officer``, and the PIN and card of ``linkage fetch --card``.

The agency's administrator issues each officer a card (linkage/officercard.py: a key under the officer's PIN,
a certificate from the linkage CA naming the officer) and the hub publishes its public key in
DIR/pki/officer-keys.json, which the running hub follows; when the officer leaves, ``revoke-officer`` marks
their keys revoked there, and the hub refuses their sessions from the next call on.

The PIN is read from ``--pin-file FILE`` (its first line), else LINKAGE_OFFICER_PIN, else asked for on the
terminal (not echoed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from pathlib import Path

from linkage.config import Home, load_settings, write_atomically
from linkage.errors import LinkageError
from linkage.ids import parse_officer_id
from linkage.officercard import OpenCard, issue_card, open_card
from linkage.officers import OFFICER_KEYS, OfficerKeyError, load_officer_keys, officer_key_set_json, revoked

__all__ = ["add_agency_commands", "card_path", "issue_officer_card", "read_pin", "unlock_card"]


def card_path(home: Home, agency: str, officer_id: str) -> Path:
    """Where the sandbox keeps an officer's card unless told otherwise."""
    return home.root / "officers" / agency / f"{officer_id}.card.json"


def read_pin(pin_file: str | None, prompt: str) -> str:
    """The PIN: --pin-file's first line, else LINKAGE_OFFICER_PIN, else asked for on the terminal."""
    if pin_file:
        lines = Path(pin_file).read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else ""
    if (pin := os.environ.get("LINKAGE_OFFICER_PIN")) is not None:
        return pin
    return getpass.getpass(prompt)


def issue_officer_card(home: Home, agency: str, officer_id: str, pin: str, out: Path | None = None) -> Path:
    """Issue the officer a card and publish its key; returns where the card was written.

    Raises LinkageError (``officer_not_registered``, ``pin_missing``) or OfficerKeyError.
    """
    from linkage.errors import PermissionDenied

    settings = load_settings(home)
    officer = parse_officer_id(officer_id)
    config = settings.agencies.get(agency)
    if config is None or officer not in config.officers:
        raise PermissionDenied("officer_not_registered", f"เจ้าหน้าที่ผู้นี้ไม่ได้ลงทะเบียนกับ {agency}",
                               f"officer {officer} is not registered with agency {agency!r} (`linkage agency list`)")
    path = home.pki / OFFICER_KEYS
    keys = load_officer_keys(path)
    out = out or card_path(home, agency, officer)
    entry = issue_card(home.ca, officer, agency, pin, out)
    write_atomically(path, officer_key_set_json((*keys, entry)))
    return out


def unlock_card(card: str, pin_file: str | None) -> OpenCard:
    """Open the card at ``card`` with its PIN (raises the card's LinkageError: wrong_pin, card_locked, bad_card)."""
    return open_card(Path(card), read_pin(pin_file, f"PIN of officer card {card}: "))


def _cmd_card(args: argparse.Namespace) -> int:
    home = Home(Path(args.home).resolve())
    try:
        pin = read_pin(args.pin_file, "new card's PIN: ")
        if not args.pin_file and os.environ.get("LINKAGE_OFFICER_PIN") is None and \
                getpass.getpass("the PIN again: ") != pin:
            print("linkage agency officer-card: the two PINs differ; no card was issued", file=sys.stderr)
            return 2
        out = issue_officer_card(home, args.agency, args.officer, pin, Path(args.out) if args.out else None)
    except (LinkageError, OfficerKeyError, OSError) as err:
        print(f"linkage agency officer-card: {getattr(err, 'message', err)}; no card was issued", file=sys.stderr)
        return 2
    print(f"officer card for {args.officer} of {args.agency} written to {out}\n"
          f"  its public key is published in {home.pki / OFFICER_KEYS}; the running hub accepts it now\n"
          f"  fetch with it: linkage fetch --agency {args.agency} --card {out} ...")
    return 0


def _cmd_revoke_officer(args: argparse.Namespace) -> int:
    home = Home(Path(args.home).resolve())
    path = home.pki / OFFICER_KEYS
    try:
        officer = parse_officer_id(args.officer)
        keys, count = revoked(load_officer_keys(path), officer, dt.datetime.now(dt.UTC), args.agency)
    except (LinkageError, OfficerKeyError) as err:
        print(f"linkage agency revoke-officer: {getattr(err, 'message', err)}; nothing was changed", file=sys.stderr)
        return 2
    if not count:
        print(f"linkage agency revoke-officer: officer {officer} has no unrevoked key in {path}; nothing was changed",
              file=sys.stderr)
        return 2
    write_atomically(path, officer_key_set_json(keys))
    print(f"revoked {count} key(s) of officer {officer} in {path}; the running hub refuses their sessions now")
    return 0


def _cmd_enrol(args: argparse.Namespace) -> int:
    from linkage.enrolments import CODE_TTL, ENROLMENTS, add_code
    from linkage.errors import PermissionDenied

    home = Home(Path(args.home).resolve())
    try:
        officer = parse_officer_id(args.officer)
        agency = load_settings(home).agencies.get(args.agency)
        if agency is None or officer not in agency.officers:
            raise PermissionDenied("officer_not_registered", "เจ้าหน้าที่ผู้นี้ไม่ได้ลงทะเบียนกับหน่วยงานนี้",
                                   f"officer {officer} is not registered with agency {args.agency!r}")
    except LinkageError as err:
        print(f"linkage agency officer-enrol: {err.message}; no code was made", file=sys.stderr)
        return 2
    code = add_code(home.pki / ENROLMENTS, officer, args.agency)
    hours = int(CODE_TTL.total_seconds() // 3600)
    print(f"{code}\n  the one-time code for officer {officer} of {args.agency} to register a passkey at the "
          f"counter's /enrol page, within {hours} h; any earlier code of theirs no longer works")
    return 0


def add_agency_commands(agency_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage agency officer-card`` and ``linkage agency revoke-officer``."""
    from linkage.cli.common import with_home

    p = with_home(agency_sub.add_parser(
        "officer-card", help="issue an officer their card (a key under their PIN) and publish its public key"))
    p.add_argument("agency", help="the officer's agency")
    p.add_argument("officer", help="the officer's 13-digit personal ID (registered with the agency)")
    p.add_argument("--out", help="where to write the card (default DIR/officers/AGENCY/OFFICER.card.json)")
    p.add_argument("--pin-file", help="read the new PIN from this file's first line (else LINKAGE_OFFICER_PIN, "
                                      "else asked for twice)")
    p.set_defaults(func=_cmd_card)

    p = with_home(agency_sub.add_parser(
        "officer-enrol", help="a one-time code for an officer to register a passkey at the counter (/enrol)"))
    p.add_argument("agency", help="the officer's agency")
    p.add_argument("officer", help="the officer's 13-digit personal ID (registered with the agency)")
    p.set_defaults(func=_cmd_enrol)

    p = with_home(agency_sub.add_parser(
        "revoke-officer", help="an officer who leaves: revoke their keys; the hub refuses their sessions at once"))
    p.add_argument("officer", help="the officer's 13-digit personal ID")
    p.add_argument("--agency", default=None, help="only their keys for this agency (default: every agency's)")
    p.set_defaults(func=_cmd_revoke_officer)
