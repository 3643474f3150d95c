"""The bodies of ``linkage audit verify|watch|accesses`` and ``linkage revoke``; argparse lives in ``linkage.cli``.

Exit codes: 0 valid / all well, 1 invalid printout or a log alarm or a
refusal, 2 unreadable input, missing trust input, unreachable hub or bad usage.

Trust inputs (consumers/auditor/trustinputs.py) come from a sandbox folder (``--home DIR``: DIR/pki/ca.pem,
DIR/pki/log-note.vkey, ``[hub] log_origin`` in DIR/linkage.toml or ``log.origin``
in DIR/endpoints.json, the running sandbox's witnesses and their keys in
DIR/endpoints.json, and for QR summaries the agency certificates DIR/pki/clients/*.pem)
unless given one by one; explicit inputs win. Once the
hub's keys were rotated (``linkage keys rotate``), the key sets with their
windows are pinned too: DIR/pki/log-keys.json (``--log-key`` may name such a
file instead of one key) and DIR/pki/seal-keys.json.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from consumers.auditor.bundle import AuditInput, PaperCode, QrSummary, load_input
from consumers.auditor.dispatch import verify_input
from consumers.auditor.errors import Alarm, BadTrustRoot, HubRefused, HubUnreachable, VerificationError
from consumers.auditor.log import LogSource
from consumers.auditor.report import PaperReport, Report
from consumers.auditor.revocations import DEFAULT_MAX_AGE, RevocationStatus, keep, list_path
from consumers.auditor.state import AuditorState
from consumers.auditor.trustinputs import TrustInputs, sandbox_endpoints
from consumers.auditor.watch import watch_round
from linkage.checkpoint import CheckpointError
from linkage.config import Home
from linkage.pki import CertPaths

if TYPE_CHECKING:
    from consumers.auditor.client import AuditClient
    from linkage.officercard import OpenCard

__all__ = [
    "EXIT_INVALID",
    "EXIT_UNREADABLE",
    "EXIT_VALID",
    "HubInputs",
    "run_accesses",
    "run_revoke",
    "run_verify",
    "run_watch",
]

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_UNREADABLE: Final = 2

Connect = Callable[[], LogSource]


@dataclass(frozen=True)
class HubInputs:
    """Where the hub is and which agency certificate to show it (default: the ``auditor`` agency's)."""

    home: Path | None = None
    hub: str | None = None
    cert: Path | None = None
    key: Path | None = None
    agency: str = "auditor"

    def connect(self, ca: Path) -> AuditClient:
        """An ``AuditClient``; raises HubUnreachable when the address or the certificate is unknown."""
        home = Home(self.home.resolve()) if self.home else None
        endpoints = sandbox_endpoints(home) if home else {}
        address = self.hub or endpoints.get("hub")
        if not isinstance(address, str):
            where = (f"the sandbox in {home.root} is not running (no endpoints.json): start it with `linkage up"
                     f" --detach --home {home.root}`, or" if home else "no hub address:")
            raise HubUnreachable(f"online checks need the hub; {where} pass --hub HOST:PORT")
        own = self._certificate(home, endpoints)
        from consumers.auditor.client import AuditClient  # gRPC: only when the hub is asked

        return AuditClient.connect(address, ca, own)

    def _certificate(self, home: Home | None, endpoints: dict[str, Any]) -> CertPaths:
        if self.cert and self.key:
            return CertPaths(self.cert, self.key)
        agency = endpoints.get("agencies", {}).get(self.agency)
        if isinstance(agency, dict) and isinstance(agency.get("cert"), str) and isinstance(agency.get("key"), str):
            return CertPaths(Path(agency["cert"]), Path(agency["key"]))
        if home is not None:
            return home.client_cert(self.agency)
        raise HubUnreachable("online checks need an agency certificate: pass --cert and --key, or --home DIR")


def _ca_path(trust: TrustInputs) -> Path:
    if trust.ca:
        return trust.ca
    if trust.home is None:
        raise BadTrustRoot("no trust root: pass --ca FILE or --home DIR")
    return Home(trust.home.resolve()).ca.cert


@contextmanager
def _client(trust: TrustInputs, hub: HubInputs) -> Iterator[AuditClient]:
    client = hub.connect(_ca_path(trust))
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _online(trust: TrustInputs, hub: HubInputs | None, log: LogSource | None) -> Iterator[LogSource | None]:
    if log is not None or hub is None:
        yield log
        return
    with _client(trust, hub) as client:
        yield client


def _fail(command: str, exc: VerificationError, err: TextIO, out: TextIO, as_json: bool) -> int:
    thai = f"{exc.message_th} / " if exc.message_th else ""
    print(f"linkage {command}: อ่านไม่ได้ / cannot check: {thai}{exc.message}", file=err)
    if as_json:
        print(json.dumps(_error_dict(exc), ensure_ascii=False, indent=2), file=out)
    return EXIT_UNREADABLE


def run_verify(paths: Path | Sequence[Path], trust: TrustInputs | Path, *, hub: HubInputs | None = None,
               state: Path | None = None, as_json: bool = False, now: dt.datetime | None = None,
               log: LogSource | None = None, out: TextIO | None = None, err: TextIO | None = None,
               ocr: bool = True, revocation_max_age: dt.timedelta = DEFAULT_MAX_AGE) -> int:
    """Verify each file (bundle, JWS, signed PDF, a paper's QR code as text or picture); return the exit code,
    raising nothing about the inputs. ``ocr``: compare a photo's printed text with its QR code.

    ``trust`` is the trust inputs (a bare Path: just the CA certificate).
    Online when ``hub`` or ``log`` (a ready log, for tests) is given, offline
    otherwise. ``state`` is the auditor's state file (None: none kept); it is
    updated by each valid printout; the hub's revocation list is kept beside it (fetched online, check 7 offline,
    a warning on ``err`` when older than ``revocation_max_age``: consumers/auditor/revocations.py). One file: its
    report to ``out`` (stdout), as
    JSON if ``as_json``, or why it cannot be checked to ``err``. Several: one line
    per file on ``out`` (its verdict, or why it cannot be checked), or a JSON list
    of the reports; the exit code is the worst of them (2 over 1 over 0).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    inputs = trust if isinstance(trust, TrustInputs) else TrustInputs(ca=trust)
    files = [paths] if isinstance(paths, Path) else list(paths)
    items: list[AuditInput | VerificationError] = []
    for path in files:  # all read first: the hub is asked only when there is something to ask about
        try:
            items.append(load_input(path))
        except VerificationError as exc:
            items.append(exc)
    outcomes: list[tuple[int, Report | PaperReport | VerificationError] | None] = [
        (EXIT_UNREADABLE, item) if isinstance(item, VerificationError) else None for item in items]
    try:
        memory = AuditorState.load(state) if state else None
        if None in outcomes:
            with _online(inputs, hub, log) as source:
                kept = _revocations(inputs, source, state, now, revocation_max_age, err)
                for i, item in enumerate(items):
                    if not isinstance(item, VerificationError):
                        outcomes[i] = _verify_item(item, inputs, memory, source, now, ocr, kept)
    except VerificationError as exc:
        return _fail("verify", _offline_hint(exc), err, out, as_json)
    results = [(path, *outcome) for path, outcome in zip(files, outcomes, strict=True) if outcome is not None]
    if len(results) == 1:
        _, code, result = results[0]
        if isinstance(result, VerificationError):
            return _fail("verify", _offline_hint(result), err, out, as_json)
        print(result.to_json() if as_json else result.render(), file=out)
        return code
    if as_json:
        print(json.dumps([{"file": str(path), **(_error_dict(_offline_hint(result))
                                                  if isinstance(result, VerificationError)
                                                  else result.as_dict())} for path, _, result in results],
                         ensure_ascii=False, indent=2), file=out)
    else:
        for path, _, result in results:
            line = (f"อ่านไม่ได้ / cannot check: {_offline_hint(result).message}"
                    if isinstance(result, VerificationError) else result.verdict())
            print(f"{path}: {line}", file=out)
    return max(code for _, code, _ in results)


def _revocations(inputs: TrustInputs, log: LogSource | None, state: Path | None, now: dt.datetime | None,
                 max_age: dt.timedelta, err: TextIO) -> RevocationStatus | None:
    """Online: fetch the hub's revocation list and keep it (None: the hub answers check 7 itself). Offline: the list
    kept, read and verified again, with a warning on ``err`` when it is stale or not genuine."""
    if state is None:
        return None
    trust = inputs.load()
    if log is not None:
        if trust.log_trust is None or not trust.origin:
            return None  # nothing to check the list with: check 7 asks the hub
        try:
            keep(log.revocation_list(), list_path(state), trust.log_trust, trust.origin)
        except (VerificationError, CheckpointError) as exc:
            print(f"คำเตือน: เก็บรายการเพิกถอนของศูนย์กลางไม่ได้ / warning: the hub's revocation list was not kept: "
                  f"{exc.message}", file=err)
        return None
    status = RevocationStatus.load(list_path(state), trust.log_trust, trust.origin, now or dt.datetime.now(dt.UTC),
                                   max_age)
    if status is not None and (warning := status.warning()):
        print(warning, file=err)
    return status


def _verify_item(item: AuditInput, inputs: TrustInputs, memory: AuditorState | None, log: LogSource | None,
                 now: dt.datetime | None, ocr: bool,
                 kept: RevocationStatus | None = None) -> tuple[int, Report | PaperReport | VerificationError]:
    """(exit code, report) of one file's content, or (2, why it cannot be checked); a valid one is remembered."""
    try:
        trust = inputs.load(agencies=isinstance(item, QrSummary | PaperCode))
        report = verify_input(item, replace(trust, revocations=kept), now=now, state=memory, log=log,
                              ocr=ocr)
        if report.valid and memory is not None:
            memory.save()
    except VerificationError as exc:
        return EXIT_UNREADABLE, exc
    return (EXIT_VALID if report.valid else EXIT_INVALID), report


def _offline_hint(exc: VerificationError) -> VerificationError:
    if isinstance(exc, HubUnreachable):
        return HubUnreachable(f"{exc.message}; or check without asking the hub: --offline", exc.message_th)
    return exc


def _error_dict(exc: VerificationError) -> dict[str, Any]:
    return {"valid": False, "error": exc.code, "message": exc.message, "message_th": exc.message_th}


def run_watch(trust: TrustInputs, hub: HubInputs, *, state: Path | None, interval: float = 5.0, once: bool = False,
              sample: int = 16, log: LogSource | None = None, rounds: int | None = None,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Poll the log until an alarm (exit 1) or, with ``once``, for one round (exit 0).

    An unreachable hub is exit 2 with ``once``; otherwise a warning, and the
    next round tries again; so is a checkpoint without the witnesses' quorum
    (the ``unwitnessed`` alarm: exit 1 with ``once``). ``rounds`` bounds the loop (for tests).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        loaded = trust.load()
        if loaded.log_key is None or not loaded.origin:
            raise BadTrustRoot("watching the log needs its verifier key and origin: --log-key and --origin, "
                               "or --home DIR of a sandbox with a log")
        memory = AuditorState.load(state) if state else AuditorState()
    except VerificationError as exc:
        return _fail("audit watch", exc, err, out, False)
    rng = random.Random()
    done = 0
    while True:
        try:
            with _online(trust, hub, log) as source:
                assert source is not None
                result = watch_round(source, loaded.log_trust or loaded.log_key, loaded.origin, memory,
                                     sample=sample, rng=rng, witnesses=loaded.witnesses,
                                     officer_keys=loaded.officer_keys)
            memory.save()
            print(result.render(), file=out, flush=True)
        except Alarm as alarm:
            if alarm.kind == "unwitnessed" and not once:
                # The witnesses may be down: nothing is accepted meanwhile, and the next round asks again.
                print(f"linkage audit watch: {alarm.message}; trying again in {interval:g}s", file=err, flush=True)
            else:
                print(f"แจ้งเตือน / ALARM ({alarm.kind}): {alarm.message}", file=err, flush=True)
                print(f"ALARM {alarm.kind}: {alarm.message}", file=out, flush=True)
                return EXIT_INVALID
        except HubUnreachable as exc:
            if once:
                return _fail("audit watch", exc, err, out, False)
            print(f"linkage audit watch: {exc.message}; trying again in {interval:g}s", file=err, flush=True)
        except VerificationError as exc:
            return _fail("audit watch", exc, err, out, False)
        done += 1
        if once or (rounds is not None and done >= rounds):
            return EXIT_VALID
        time.sleep(interval)


_ACCESS_COLUMNS: Final = (
    ("issued_at", "เวลา / time"), ("agency", "หน่วยงาน / agency"), ("officer_id", "เจ้าหน้าที่ / officer"),
    ("doc_type", "เอกสาร / document"), ("purpose", "วัตถุประสงค์ / purpose"), ("case_ref", "เรื่อง / case"),
    ("revoked", "เพิกถอน / revoked"),
)


def run_accesses(trust: TrustInputs, hub: HubInputs, subject_id: str, *, as_json: bool = False,
                 out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print who read ``subject_id``'s data; exit 1 when the hub refuses (e.g. not an auditor agency)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with _client(trust, hub) as client:
            accesses = client.list_accesses(subject_id)
    except HubRefused as exc:
        print(f"linkage audit accesses: ถูกปฏิเสธ / refused: {exc.message}", file=err)
        return EXIT_INVALID
    except VerificationError as exc:
        return _fail("audit accesses", exc, err, out, as_json)
    rows = [{name: (("ใช่ / yes" if a.revoked else "-") if name == "revoked" else getattr(a, name))
             for name, _ in _ACCESS_COLUMNS} | {"log_index": a.log_index, "printout_id": a.printout_id}
            for a in accesses]
    if as_json:
        for row, a in zip(rows, accesses, strict=True):
            row["revoked"] = a.revoked
        print(json.dumps({"subject_id": subject_id, "accesses": rows}, ensure_ascii=False, indent=2), file=out)
        return EXIT_VALID
    print(f"ประวัติการเข้าถึงข้อมูล / access history of {subject_id}: {len(rows)} record(s)", file=out)
    if rows:
        print(_table([title for _, title in _ACCESS_COLUMNS],
                     [[str(row[name]) or "-" for name, _ in _ACCESS_COLUMNS] for row in rows]), file=out)
    return EXIT_VALID


def _table(header: list[str], rows: list[list[str]]) -> str:
    import unicodedata

    def width(text: str) -> int:  # Thai vowel and tone marks take no column
        return sum(0 if unicodedata.combining(ch) or unicodedata.category(ch) == "Mn" else
                   2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(cell + " " * (w - width(cell)) for cell, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def run_revoke(trust: TrustInputs, hub: HubInputs, printout_id: str, *, reason: str, officer_id: str = "",
               card: OpenCard | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Revoke a printout as ``hub.agency``, in the name of the officer whose ``card`` signs in first (the log entry
    then carries their signed sign-in), or of a bare ``officer_id`` while the hub accepts that; exit 1 when the
    hub refuses, 2 when it cannot be asked."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if not reason.strip():
        print("linkage revoke: a reason is required (--reason)", file=err)
        return EXIT_UNREADABLE
    try:
        with _client(trust, hub) as client:
            session = client.sign_in_officer(card) if card is not None else ""
            answer = client.revoke(printout_id, reason, card.officer_id if card is not None else officer_id, session)
    except HubRefused as exc:
        print(f"linkage revoke: ถูกปฏิเสธ / refused: {exc.message}", file=err)
        return EXIT_INVALID
    except VerificationError as exc:
        return _fail("revoke", exc, err, out, False)
    print(f"เพิกถอนแล้ว / revoked: printout {printout_id} at {answer.revoked_at}, log index {answer.log_index}",
          file=out)
    return EXIT_VALID
