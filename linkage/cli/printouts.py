"""``linkage fetch``, ``verify`` (= ``audit verify``), ``audit watch|accesses`` and ``revoke``: the thin entry
points of the client library and the auditor (consumers/client, consumers/auditor) for printouts.

Every one reaches the hub the same way (``--home``, ``--ca``, ``--hub``, ``--cert``/``--key``, ``--agency``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from linkage.cli.common import home_given, officer_flags, with_home
from linkage.config import Home, load_settings

if TYPE_CHECKING:
    from consumers.auditor.cli import HubInputs
    from consumers.auditor.trustinputs import TrustInputs
    from linkage.cards import CitizenCard

__all__ = ["AUDITOR_STATE", "add_commands"]

AUDITOR_STATE = "auditor-state.json"
"""The auditor's state file in a sandbox folder given with --home or LINKAGE_HOME."""


def _cmd_fetch(args: argparse.Namespace) -> int:
    import asyncio  # the fetch's own imports: `linkage verify` of a bundle needs neither asyncio nor gRPC

    from consumers.client import HubClient
    from linkage.cli.officers import unlock_card
    from linkage.cli.stack import read_endpoints
    from linkage.errors import LinkageError
    from linkage.pki import CertPaths
    from linkage.seal import unverified_payload

    home = Home(Path(args.home).resolve())
    if bool(args.cert) != bool(args.key):
        print("linkage fetch: --cert and --key go together (the agency's TLS certificate and its key)",
              file=sys.stderr)
        return 2
    if args.cert:  # an agency outside this sandbox's folder: its own certificate and the CA; no linkage.toml
        own = CertPaths(Path(args.cert), Path(args.key))
    else:
        if not home.config_file.exists():
            read_endpoints(home)  # raises, saying that `linkage up` is still making it, or how to make it
        settings = load_settings(home)
        if args.agency not in settings.agencies:
            print(f"no agency named {args.agency!r}; known: {', '.join(settings.agencies)}", file=sys.stderr)
            return 2
        own = home.client_cert(args.agency)
    ca = Path(args.ca) if args.ca else home.ca.cert
    hub_address = args.hub or str(read_endpoints(home)["hub"])

    if not args.officer and not args.card:
        print("linkage fetch: say who asks: --card FILE (the officer's card; they sign in with its PIN) or "
              "--officer ID", file=sys.stderr)
        return 2
    try:
        card = _citizen_card(home, args)
    except (OSError, ValueError) as exc:
        print(f"linkage fetch: cannot read the citizen's card: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with HubClient.connect(hub_address, ca, own) as hub:
            try:
                session = None
                if args.card:  # the officer signs in with their own card: this process never sees more than the PIN
                    officer_card = unlock_card(args.card, args.pin_file)
                    session = await hub.sign_in_officer(officer_card.officer_id, officer_card)
                    print(f"officer {session.officer_id} signed in: session {session.session_id}, until "
                          f"{session.expires_at}", file=sys.stderr)
                doc = await hub.fetch_document(args.doc_type, args.id, purpose=args.purpose,
                                               officer_id=args.officer or "", case_ref=args.case,
                                               citizen_present=args.citizen_present, officer_session=session,
                                               citizen_card=card, consent_id=args.consent)
            except LinkageError as err:
                print(f"refused ({err.status.name}, {err.code}): {err.message}", file=sys.stderr)
                if err.code == "officer_session_required" and args.officer:
                    print(_card_hint(home, args.agency, args.officer), file=sys.stderr)
                return 1
        bundle = doc.bundle()
        print(json.dumps(unverified_payload(doc.jws), ensure_ascii=False, indent=2))
        print(f"printout {doc.printout_id}, exchange log index {doc.log_index}", file=sys.stderr)
        if args.out:
            Path(args.out).write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            trust = f"--ca {ca}" if args.ca else f"--home {home.root}"
            print(f"written to {args.out}; check it with: linkage verify {args.out} {trust}", file=sys.stderr)
        return 0

    return asyncio.run(run())


def _card_hint(home: Home, agency: str, officer: str) -> str:
    """What to do when the hub wants the officer's own key: their card, which the sandbox issued them."""
    from linkage.cli.officers import card_path, pin_path

    card = card_path(home, agency, officer.strip())
    if card.exists():
        return (f"  ต้องลงชื่อเข้าใช้ด้วยบัตรเจ้าหน้าที่ / sign in with the officer's card: --card {card} --pin-file"
                f" {pin_path(card)} (in place of --officer)")
    return ("  ต้องลงชื่อเข้าใช้ด้วยบัตรเจ้าหน้าที่ / sign in with the officer's card (--card FILE); the administrator issues"
            f" one with: linkage agency officer-card {agency} {officer.strip()[:13]}")


def _citizen_card(home: Home, args: argparse.Namespace) -> CitizenCard | None:
    """The card --citizen-card names; with --citizen-present alone, the sandbox's card file of --id if there is
    one (the hub refuses the claim without a card). Raises OSError or linkage.cards.CardError."""
    from linkage.cards import CitizenCard
    from linkage.errors import LinkageError
    from linkage.ids import parse_id

    if args.citizen_card:
        return CitizenCard.load(Path(args.citizen_card))
    if args.citizen_present:
        try:
            path = home.card_file(parse_id(args.id))
        except LinkageError:
            return None  # the hub says what is wrong with the ID
        return CitizenCard.load(path) if path.is_file() else None
    return None


def _auditor_inputs(args: argparse.Namespace) -> tuple[TrustInputs, HubInputs]:
    from consumers.auditor.cli import HubInputs
    from consumers.auditor.trustinputs import TrustInputs

    home = Path(args.home)
    trust = TrustInputs(home=home, ca=_path(args.ca), log_key=getattr(args, "log_key", None),
                        origin=getattr(args, "origin", None), agencies=_path(getattr(args, "agency_certs", None)),
                        witnesses=tuple(getattr(args, "witness", None) or _listed("LINKAGE_WITNESS_KEYS")),
                        witness_quorum=getattr(args, "witness_quorum", None), crl=_path(getattr(args, "crl", None)),
                        card_issuer=_path(getattr(args, "card_issuer_key", None)))
    hub = HubInputs(home=home, hub=args.hub, cert=_path(args.cert), key=_path(args.key), agency=args.agency)
    return trust, hub


def _listed(variable: str) -> list[str]:
    """The comma-separated items of an environment variable (none when it is unset)."""
    return [item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()]


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _state(args: argparse.Namespace) -> Path:
    """--state, else the state file in --home when one is given (or LINKAGE_HOME), else ~/.linkage-auditor."""
    from consumers.auditor.state import DEFAULT_STATE

    if args.state:
        return Path(args.state)
    return Path(args.home) / AUDITOR_STATE if home_given(args.home) else DEFAULT_STATE


def _cmd_verify(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_verify
    from consumers.auditor.revocations import parse_age

    try:
        max_age = parse_age(args.revocation_max_age)
    except ValueError as exc:
        print(f"linkage verify: --revocation-max-age: อายุไม่ถูกต้อง / {exc}", file=sys.stderr)
        return 2
    trust, hub = _auditor_inputs(args)
    return run_verify([Path(f) for f in args.files], trust, hub=None if args.offline else hub, state=_state(args),
                      as_json=args.json, ocr=not args.no_ocr, revocation_max_age=max_age)


def _cmd_audit_watch(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_watch

    if args.interval <= 0 or args.sample < 0:
        print("linkage audit watch: --interval must be > 0 and --sample >= 0", file=sys.stderr)
        return 2
    trust, hub = _auditor_inputs(args)
    return run_watch(trust, hub, state=_state(args), interval=args.interval, once=args.once, sample=args.sample)


def _cmd_audit_accesses(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_accesses

    trust, hub = _auditor_inputs(args)
    return run_accesses(trust, hub, args.id, as_json=args.json)


def _cmd_revoke(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_revoke
    from linkage.cli.officers import unlock_card
    from linkage.errors import LinkageError

    if bool(args.officer) == bool(args.card):
        print("linkage revoke: say who revokes: --card FILE (the officer's card; they sign in with its PIN) or"
              " --officer ID, one of them", file=sys.stderr)
        return 2
    trust, hub = _auditor_inputs(args)
    try:
        card = unlock_card(args.card, args.pin_file) if args.card else None
    except LinkageError as err:
        print(f"refused ({err.status.name}, {err.code}): {err.message}", file=sys.stderr)
        return 1
    return run_revoke(trust, hub, args.printout_id, reason=args.reason, officer_id=args.officer or "", card=card)


_OFFLINE_HELP = ("never ask the hub: checks 1-3 as always; 4 and 5 only from a log proof the file carries (a bundle"
                 " from fetch --out does; a bare JWS, a PDF's attachments and a QR's printouts do not, so they skip"
                 " 4-6); 6 only against a checkpoint of the same size seen before; 7 (revocation) skipped. The"
                 " report says which checks were skipped and why")


def _connection_flags(p: argparse.ArgumentParser, agency: str | None) -> None:
    """--home, and how to reach the hub as an agency: --ca, --hub, --cert/--key, --agency (fetch, verify, audit,
    revoke alike). agency: the default agency, or None when --agency is required."""
    env = os.environ.get
    with_home(p)
    p.add_argument("--ca", default=env("LINKAGE_CA"), help="trust root (LINKAGE_CA; default DIR/pki/ca.pem)")
    p.add_argument("--hub", default=env("LINKAGE_HUB"), help="hub HOST:PORT (LINKAGE_HUB; default from "
                                                              "DIR/endpoints.json)")
    p.add_argument("--cert", default=env("LINKAGE_CERT"),
                   help="agency TLS certificate (LINKAGE_CERT; default DIR/pki/clients/AGENCY.pem)")
    p.add_argument("--key", default=env("LINKAGE_KEY"),
                   help="agency TLS key (LINKAGE_KEY; default DIR/pki/clients/AGENCY.key)")
    if agency is None:
        p.add_argument("--agency", required=True, help="the agency acting (its certificate is used)")
    else:
        p.add_argument("--agency", default=env("LINKAGE_AGENCY", agency),
                       help=f"agency whose certificate is used (LINKAGE_AGENCY, default {agency})")


def _add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage verify`` (= ``linkage audit verify``), ``linkage audit watch|accesses``, ``linkage revoke``."""
    env = os.environ.get
    hub_flags = _connection_flags

    def log_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--log-key", default=env("LINKAGE_LOG_KEY"),
                       help="the log's note verifier key, a file or the key text (LINKAGE_LOG_KEY; "
                            "default DIR/pki/log-note.vkey)")
        p.add_argument("--origin", default=env("LINKAGE_LOG_ORIGIN"),
                       help="the log's origin (LINKAGE_LOG_ORIGIN; default [hub] log_origin in DIR/linkage.toml)")
        p.add_argument("--state", default=env("LINKAGE_AUDITOR_STATE"),
                       help=f"checkpoints seen before (LINKAGE_AUDITOR_STATE; default DIR/{AUDITOR_STATE} when"
                            " --home or LINKAGE_HOME is given, else ~/.linkage-auditor/state.json)")
        p.add_argument("--witness", action="append", metavar="VKEY",
                       help="a witness whose cosignatures count: its cosignature/v1 verifier key, a file or the key "
                            "text; repeat for each (LINKAGE_WITNESS_KEYS, comma-separated; default: the witnesses "
                            "of the running sandbox, in DIR/endpoints.json)")
        p.add_argument("--witness-quorum", type=int, metavar="N",
                       default=int(env("LINKAGE_WITNESS_QUORUM", "0")) or None,
                       help="how many of those witnesses must have cosigned a checkpoint before it is accepted "
                            "(LINKAGE_WITNESS_QUORUM; default a majority, 2 of the sandbox's 2: any two quorums "
                            "then share a witness, who cosigns one history only)")
        p.add_argument("--card-issuer-key", metavar="FILE",
                       help="the civil registry's card-issuer public key, to check a citizen's presence proof "
                            "(check 11; default DIR/pki/card-issuer.pub)")

    def verify_parser(p: argparse.ArgumentParser) -> None:
        p.add_argument("files", nargs="+", metavar="FILE",
                       help="printout bundle (.json), compact JWS, signed PDF, or the QR code(s) of a certified"
                            " printout as text or as a photo (PNG/JPEG) of the paper; with several, one line per"
                            " file (--json: a list) and the exit status of the worst")
        hub_flags(p, "auditor")
        log_flags(p)
        p.add_argument("--agency-certs", default=env("LINKAGE_AGENCY_CERTS"),
                       help="folder of agency certificates (*.pem) that may sign QR summaries "
                            "(LINKAGE_AGENCY_CERTS; default DIR/pki/clients)")
        p.add_argument("--crl", default=env("LINKAGE_CRL"),
                       help="the linkage CA's CRL (DER or PEM) to hold a certified PDF's timestamped signature to, "
                            "beside the CRL the PDF carries (check 12; LINKAGE_CRL; default DIR/pki/ca.crl when it "
                            "exists; the running sandbox serves it at GET <tsa url>crl)")
        p.add_argument("--offline", action="store_true", help=_OFFLINE_HELP)
        p.add_argument("--no-ocr", action="store_true", default=env("LINKAGE_NO_OCR", "") == "1",
                       help="for a photo of a paper: do not read its printed text to compare with the QR code "
                            "(check 9; LINKAGE_NO_OCR=1)")
        p.add_argument("--revocation-max-age", metavar="AGE", default=env("LINKAGE_REVOCATION_MAX_AGE", "7d"),
                       help="offline, how old the kept revocation list of the hub may be before check 7 warns and "
                            "no longer vouches for 'not revoked' (LINKAGE_REVOCATION_MAX_AGE; e.g. 36h, 7d; default "
                            "7d). Online, a fresh list is fetched and kept beside the state file")
        p.add_argument("--json", action="store_true", help="print a machine-readable report")
        p.set_defaults(func=_cmd_verify)

    verify_help = ("check a printout (bundle, JWS, signed PDF, QR text or picture): seal, officer's certification, "
                   "log proof, consistency, revocation")
    verify_parser(sub.add_parser("verify", help=verify_help + " (= audit verify)"))

    audit = sub.add_parser("audit", help="auditors' tools: verify printouts, watch the log, list accesses")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    verify_parser(audit_sub.add_parser("verify", help=verify_help))

    p = audit_sub.add_parser("watch", help="monitor the log: alarm on a fork, rollback or rewritten entry")
    hub_flags(p, "auditor")
    log_flags(p)
    p.add_argument("--interval", type=float, default=float(env("LINKAGE_WATCH_INTERVAL", "5")),
                   help="seconds between checkpoints (LINKAGE_WATCH_INTERVAL, default 5)")
    p.add_argument("--sample", type=int, default=int(env("LINKAGE_WATCH_SAMPLE", "16")),
                   help="entries proved per round, new ones first (LINKAGE_WATCH_SAMPLE, default 16)")
    p.add_argument("--once", action="store_true", help="one round, then exit")
    p.set_defaults(func=_cmd_audit_watch)

    p = audit_sub.add_parser("accesses", help="who read a person's or company's data, when and why")
    hub_flags(p, "auditor")
    p.add_argument("--id", required=True, help="13-digit ID of the citizen or company")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_audit_accesses)

    p = sub.add_parser("revoke", help="revoke a printout your agency was issued, with a reason")
    hub_flags(p, None)
    p.add_argument("printout_id", help="the printout's ID (printout_id)")
    officer_flags(p, "the log entry carries their signed sign-in")
    p.add_argument("--reason", required=True, help="why, in plain words")
    p.set_defaults(func=_cmd_revoke)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage fetch``, ``verify``, ``audit`` and ``revoke``."""
    p = sub.add_parser("fetch", help="fetch one sealed printout as an agency")
    _connection_flags(p, None)
    officer_flags(p, "the printout names their session")
    p.add_argument("--doc-type", required=True, help="e.g. dopa.person")
    p.add_argument("--id", required=True, help="13-digit ID of the citizen or company")
    p.add_argument("--purpose", required=True, help="why the data is needed")
    p.add_argument("--case", default="", help="case or file reference")
    p.add_argument("--citizen-present", action="store_true",
                   help="the citizen is at the counter with their card (needs --citizen-card, or the persona's card"
                        " file in the sandbox's cards/ folder)")
    p.add_argument("--consent", default="", metavar="ID",
                   help="the citizen's approved consent this fetch uses (RequestConsent; approved on their /me page)")
    p.add_argument("--citizen-card", metavar="FILE",
                   help="the citizen's card file (DIR/cards/ID.card.json): the card signs the hub's challenge and"
                        " this request, proving the citizen is present")
    p.add_argument("--out", help="write the printout bundle (JWS and log index) to this file")
    p.set_defaults(func=_cmd_fetch)

    _add_audit_commands(sub)
