"""``linkage agency add | revoke | renew | list``: the command line of self-service onboarding.

What each command does, and what it refuses (``AgencyError``, exit 2, nothing written), is
``linkage.cli.onboarding``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from linkage import pki
from linkage.cli.onboarding import (
    DEFAULT_OFFICERS,
    AgencyError,
    add_agency,
    list_agencies,
    renew_agency,
    revoke_agency,
)
from linkage.config import ALL_FIELDS, Home, load_settings

__all__ = ["add_commands"]


def _home(args: argparse.Namespace) -> Home:
    return Home(Path(args.home).resolve())


def _refused(err: AgencyError) -> int:
    print(f"linkage agency: {err.message} ({err.code}); nothing was changed", file=sys.stderr)
    return 2


def _fields_text(granted: Sequence[str]) -> str:
    return "every field" if ALL_FIELDS in granted else ", ".join(granted)


def _cmd_add(args: argparse.Namespace) -> int:
    home = _home(args)
    try:
        settings = add_agency(home, args.name, doc_types=args.doc_types, purpose=args.purpose, fields=args.fields,
                              title=args.title, officers=args.officer, officer_count=args.officers)
    except AgencyError as err:
        return _refused(err)
    agency = settings.agencies[args.name]
    paths = home.client_cert(args.name)
    print(f"agency {agency.name} onboarded; the running hub accepts it now\n"
          f"  certificate: {paths.cert}\n  key:         {paths.key}\n  CA:          {home.ca.cert}")
    for doc_type, granted in agency.grants.items():
        print(f"  may read {doc_type}: {_fields_text(granted)}")
    print(f"  officers:    {', '.join(sorted(agency.officers))}\n"
          f"  their cards: {home.root / 'officers' / agency.name}/OFFICER.card.json (PIN in OFFICER.pin, sandbox only)")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    try:
        settings = revoke_agency(_home(args), args.name)
    except AgencyError as err:
        return _refused(err)
    print(f"agency {args.name} revoked at {settings.revoked[args.name].revoked_at}; the hub refuses its"
          " certificate from now on")
    return 0


def _cmd_renew(args: argparse.Namespace) -> int:
    try:
        renew_agency(_home(args), args.name, days=args.days)
    except AgencyError as err:
        return _refused(err)
    paths = _home(args).client_cert(args.name)
    expires = x509.load_pem_x509_certificate(paths.cert.read_bytes()).not_valid_after_utc
    print(f"agency {args.name} has a new certificate, valid until {expires:%Y-%m-%d}; the hub accepts only it"
          f" from now on\n  certificate: {paths.cert}\n  key:         {paths.key}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(_home(args))
    summaries = list_agencies(settings)
    if args.json:
        print(json.dumps({"agencies": [s.as_json() for s in summaries],
                          "revoked": {n: {"revoked_at": r.revoked_at, "certs": list(r.certs)}
                                      for n, r in sorted(settings.revoked.items())}},
                         ensure_ascii=False, indent=2))
        return 0
    for s in summaries:
        expires = s.cert_expires.date().isoformat() if s.cert_expires else "no certificate file"
        print(f"{s.name}  ({s.title})\n  officers: {s.officers}   certificate expires: {expires}")
        if s.purpose:
            print(f"  purpose: {s.purpose}")
        for doc_type, granted in s.grants.items():
            print(f"  {doc_type}: {_fields_text(granted)}")
        if not s.grants:
            print("  no document types")
    for name, revoked in sorted(settings.revoked.items()):
        if name not in settings.agencies:
            print(f"{name}  revoked at {revoked.revoked_at}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage agency add | revoke | list``."""
    from linkage.cli.common import with_home
    from linkage.cli.officers import add_agency_commands

    agency = sub.add_parser("agency", help="onboard an agency, revoke it, list who may read what")
    agency_sub = agency.add_subparsers(dest="agency_command", required=True, metavar="AGENCY_COMMAND")

    p = with_home(agency_sub.add_parser(
        "add", help="issue a certificate, register officers, grant document types; the running hub follows"))
    p.add_argument("name", help="the agency's name: its certificate's common name (e.g. chiangmai-land-office)")
    p.add_argument("--doc-types", required=True, action="append",
                   help="document types it may read, comma separated (e.g. dopa.person,dopa.house)")
    p.add_argument("--purpose", required=True, help="why the agency needs the data")
    p.add_argument("--fields", nargs="+", action="extend", default=[], metavar="TYPE=FIELD,…",
                   help="only these fields of a type (e.g. dopa.person=first_name_th,birth_date); default all")
    p.add_argument("--title", default="", help="the agency's full name (default: NAME)")
    p.add_argument("--officers", type=int, default=None, metavar="N",
                   help=f"draw N officers from the civil registry (default {DEFAULT_OFFICERS}, or 0 with --officer)")
    p.add_argument("--officer", action="append", default=[], metavar="ID",
                   help="register this officer's 13-digit personal ID (repeatable)")
    p.set_defaults(func=_cmd_add)

    p = with_home(agency_sub.add_parser("revoke", help="remove an agency; the hub refuses its certificate at once"))
    p.add_argument("name", help="the agency's name, as `linkage agency list` shows it")
    p.set_defaults(func=_cmd_revoke)

    p = with_home(agency_sub.add_parser("renew", help="a new certificate for an agency; the old one is refused"))
    p.add_argument("name", help="the agency's name, as `linkage agency list` shows it")
    p.add_argument("--days", type=int, default=pki.LEAF_DAYS, help=f"validity (default {pki.LEAF_DAYS} days)")
    p.set_defaults(func=_cmd_renew)

    add_agency_commands(agency_sub)

    p = with_home(agency_sub.add_parser("list", help="each agency: document types, fields, officers, expiry"))
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_list)

