"""``linkage agency officer-card | officer-enrol | revoke-officer``, and the PIN and card of ``linkage fetch --card``.

The agency's administrator issues each officer a card (linkage/officercard.py: a key under the officer's PIN,
a certificate from the linkage CA naming the officer) and the hub publishes its public key in
DIR/pki/officer-keys.json, which the running hub follows; when the officer leaves, ``revoke-officer`` marks
their keys revoked there, and the hub refuses their sessions from the next call on.

The PIN is read from ``--pin-file FILE`` (its first line), else LINKAGE_OFFICER_PIN, else asked for on the
terminal (not echoed).

The sandbox's own officers (``linkage init``, ``linkage agency add``): each gets a card at
DIR/officers/AGENCY/OFFICER.card.json with its PIN in OFFICER.pin beside it (mode 0600). That PIN file is a
sandbox-only stand-in, so that scripts and tests can sign in: a real officer keeps the PIN in their head. The
counter's officers also get a one-time passkey enrolment code, in OFFICER.enrolment (0600), which
``enrolment_code`` renews when it expired and the officer still holds no passkey.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from linkage.config import Home, load_settings, write_atomically
from linkage.errors import LinkageError
from linkage.ids import parse_officer_id
from linkage.officercard import OpenCard, issue_card, open_card
from linkage.officers import (
    OFFICER_KEYS,
    WEBAUTHN,
    OfficerKey,
    OfficerKeyError,
    load_officer_keys,
    officer_key_set_json,
    revoked,
)

if TYPE_CHECKING:
    import grpc

    from consumers.client import OfficerSession

__all__ = ["add_agency_commands", "card_path", "enrolment_code", "issue_officer_card", "issue_sandbox_cards",
           "pin_path", "read_pin", "sandbox_card", "sandbox_session", "unlock_card"]


def card_path(home: Home, agency: str, officer_id: str) -> Path:
    """Where the sandbox keeps an officer's card unless told otherwise."""
    return home.root / "officers" / agency / f"{officer_id}.card.json"


def pin_path(card: Path) -> Path:
    """The sandbox's PIN file beside a card it issued (OFFICER.pin beside OFFICER.card.json)."""
    return card.with_name(card.name.removesuffix(".card.json") + ".pin")


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner reads (0600 from the start, replaced whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def issue_sandbox_cards(home: Home, officers: Mapping[str, Sequence[str]], counter_agency: str | None = None) -> None:
    """Issue each officer (agency -> IDs) a card with a random six-digit PIN written beside it (the sandbox's
    stand-in), publish the keys in DIR/pki/officer-keys.json (added to those there), and give every officer of
    ``counter_agency`` a passkey enrolment code (``enrolment_code``). Raises OfficerKeyError or OSError."""
    path = home.pki / OFFICER_KEYS
    entries: list[OfficerKey] = []
    for agency, ids in officers.items():
        for officer in ids:
            pin = f"{secrets.randbelow(1_000_000):06d}"
            card = card_path(home, agency, officer)
            entries.append(issue_card(home.ca, officer, agency, pin, card))
            _write_private(pin_path(card), pin + "\n")
    write_atomically(path, officer_key_set_json((*load_officer_keys(path), *entries)))
    for officer in officers.get(counter_agency or "", ()):
        enrolment_code(home, counter_agency or "", officer)


def enrolment_code(home: Home, agency: str, officer_id: str, now: dt.datetime | None = None) -> str | None:
    """The sandbox officer's live passkey enrolment code (DIR/officers/AGENCY/OFFICER.enrolment), made anew
    when there is none or it expired or was used; None when they hold a passkey already (they sign in)."""
    from linkage.enrolments import ENROLMENTS, add_code, use_code

    now = now or dt.datetime.now(dt.UTC)
    if any(k.kind == WEBAUTHN and k.officer_id == officer_id and k.agency == agency and k.problem(now) is None
           for k in load_officer_keys(home.pki / OFFICER_KEYS)):
        return None
    saved = card_path(home, agency, officer_id).with_name(f"{officer_id}.enrolment")
    try:
        code = saved.read_text(encoding="utf-8").strip()
    except OSError:
        code = ""
    if code and use_code(home.pki / ENROLMENTS, code, officer_id, agency, now, consume=False):
        return code
    code = add_code(home.pki / ENROLMENTS, officer_id, agency, now)
    _write_private(saved, code + "\n")
    return code


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


def sandbox_card(home: Home, agency: str, officer_id: str) -> OpenCard:
    """A sandbox officer's card, opened with the PIN the sandbox keeps beside it (benchmarks, scripts, tests).
    Raises OSError when the sandbox issued them none, or the card's LinkageError."""
    card = card_path(home, agency, officer_id)
    return open_card(card, pin_path(card).read_text(encoding="utf-8").strip())


async def sandbox_session(channel: grpc.aio.Channel, home: Home, agency: str, officer_id: str) -> OfficerSession:
    """Sign a sandbox officer in with their card over ``channel`` (a channel with the agency's certificate; a
    hub still starting is waited for). Raises grpc.aio.AioRpcError when the hub refuses."""
    from consumers.client import OfficerSession
    from linkage.v1 import hub_pb2, hub_pb2_grpc

    signer = sandbox_card(home, agency, officer_id)
    hub = hub_pb2_grpc.LinkageHubStub(channel)
    begun = await hub.BeginOfficerSignIn(hub_pb2.BeginOfficerSignInRequest(officer_id=officer_id),
                                         wait_for_ready=True, timeout=30)
    done = await hub.FinishOfficerSignIn(hub_pb2.FinishOfficerSignInRequest(
        statement=begun.statement, kid=signer.kid, signature=signer.sign(begun.statement)), timeout=30)
    return OfficerSession(done.session, done.session_id, done.officer_id, done.expires_at)


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
