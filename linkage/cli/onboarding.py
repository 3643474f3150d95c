"""Self-service onboarding, what ``linkage agency add | revoke | renew | list`` does (linkage/cli/agencies.py
is the command line).

The cabinet measure lets an agency link without an MoU, so joining the sandbox
takes one command. ``add`` issues the agency a client certificate from the
sandbox CA, registers its officers (each with an officer card, its PIN beside it
in DIR/officers/NAME/, as ``linkage init`` issues the sample officers theirs) and writes its grant into linkage.toml;
``revoke`` takes it out and records its certificate as revoked. The running hub
follows linkage.toml (``linkage.config.LiveSettings``): a new agency may call at
once, a revoked one is refused on its very next call although its certificate
still chains to the CA. endpoints.json, when the sandbox is up, follows too.

Everything is checked before anything is written, and the configuration is
replaced atomically with text that loads (``linkage.config.write_config``): a
refused command leaves linkage.toml byte for byte as it was and no file in pki/.
Two commands on one home folder take turns (a lock on the folder).

Error tree::

    AgencyError          code (stable snake_case)       message says what is wrong and what would be right
      bad_name           not 1-63 lower-case letters, digits and hyphens
      name_taken         an agency of that name exists, or a certificate file of that name
      no_doc_types       --doc-types names nothing
      unknown_doc_type   a type no provider in linkage.toml owns
      purpose_missing    --purpose empty; purpose_too_long: longer than PURPOSE_MAX
      bad_fields         --fields not TYPE=FIELD,FIELD…, or for a type not in --doc-types, or twice
      unknown_field      a field the document type does not have
      bad_officer        an --officer that is not a valid personal ID; bad_officer_count
      officers_unavailable  --officers N cannot be drawn from the civil registry
      no_such_agency     revoke or renew of a name that is not an agency
      bad_days           renew --days outside 1 .. pki.LEAF_DAYS
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from linkage import pki
from linkage.config import ALL_FIELDS, ConfigError, Home, Settings, load_settings, settings_from_text, write_config
from linkage.errors import InvalidRequest
from linkage.ids import parse_officer_id

__all__ = [
    "DEFAULT_OFFICERS",
    "MAX_OFFICERS",
    "PURPOSE_MAX",
    "AgencyError",
    "AgencySummary",
    "add_agency",
    "cert_sha256",
    "list_agencies",
    "renew_agency",
    "revoke_agency",
]

DEFAULT_OFFICERS = 2
PURPOSE_MAX = 500
MAX_OFFICERS = 100
# Officers drawn from the registry are working-age people whose ID card is in use.
_OFFICER_AGE = (25, 60)
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")


class AgencyError(Exception):
    """A refused ``linkage agency`` command; nothing was written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AgencySummary:
    """One agency as ``linkage agency list`` shows it."""

    name: str
    title: str
    purpose: str
    grants: Mapping[str, tuple[str, ...]]
    officers: int
    cert: Path
    cert_expires: dt.datetime | None  # None: no certificate file

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "purpose": self.purpose,
                "grants": {t: list(f) for t, f in self.grants.items()}, "officers": self.officers,
                "cert": str(self.cert),
                "cert_expires": self.cert_expires.isoformat() if self.cert_expires else None}


def cert_sha256(pem: bytes) -> str:
    """SHA-256 (hex) of a PEM certificate's DER: what linkage.toml pins and revokes."""
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@contextlib.contextmanager
def _locked(home: Home) -> Iterator[None]:
    """One onboarding command at a time per home folder; the lock goes with the process."""
    try:
        fd = os.open(home.root, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigError(f"{home.root}: no sandbox here; run `linkage init --home {home.root}` first") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _config_doc(home: Home) -> tuple[str, dict[str, Any]]:
    """The configuration's comment header and its tables, as written in the file (no environment overrides)."""
    text = home.config_file.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.startswith("#"):
            break
        header.append(line)
    return "".join(header), tomllib.loads(text)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AgencyError("bad_name", f"agency name {name[:80]!r} is not allowed: use 1-63 lower-case letters,"
                          " digits and hyphens, beginning and ending with a letter or digit (like phrae-hospital);"
                          " it becomes the common name of the agency's certificate")


def _known_fields(doc_type: str) -> list[str] | None:
    """The fields of doc_type when one of the project's registries owns it; None for another provider's."""
    from providers import owner_of

    registry = owner_of(doc_type)
    return None if registry is None else [f.name for f in registry.doc_types[doc_type].fields]


def _grants(settings: Settings, doc_types: Sequence[str], fields: Sequence[str]) -> dict[str, list[str]]:
    types = list(dict.fromkeys(t.strip() for item in doc_types for t in item.split(",") if t.strip()))
    if not types:
        raise AgencyError("no_doc_types", "--doc-types names no document type: give at least one, e.g."
                          " --doc-types dopa.person,dopa.house")
    known = sorted(t for p in settings.providers.values() for t in p.doc_types)
    for doc_type in types:
        if settings.provider_of(doc_type) is None:
            raise AgencyError("unknown_doc_type", f"--doc-types: no provider serves {doc_type[:80]!r};"
                              f" document types: {', '.join(known)}")
    grants: dict[str, list[str]] = {t: [ALL_FIELDS] for t in types}
    given: set[str] = set()
    for item in fields:
        doc_type, sep, names_text = item.partition("=")
        doc_type = doc_type.strip()
        names = [n.strip() for n in names_text.split(",") if n.strip()]
        if not sep or not names:
            raise AgencyError("bad_fields", f"--fields {item[:80]!r}: write TYPE=FIELD,FIELD…,"
                              " e.g. dopa.person=first_name_th,birth_date")
        if doc_type not in grants:
            raise AgencyError("bad_fields", f"--fields {item[:80]!r}: {doc_type[:80]!r} is not in --doc-types"
                              f" ({', '.join(types)}); add it there to grant it")
        if doc_type in given:
            raise AgencyError("bad_fields", f"--fields: {doc_type} is given twice; list all its fields once,"
                              " separated by commas")
        given.add(doc_type)
        allowed = _known_fields(doc_type)
        for name in names:
            if name == ALL_FIELDS:
                continue
            if (allowed is not None and name not in allowed) or not _FIELD.fullmatch(name):
                listed = f"; its fields: {', '.join(allowed)} (or * for all)" if allowed else ""
                raise AgencyError("unknown_field", f"--fields: {doc_type} has no field {name[:80]!r}{listed}")
        grants[doc_type] = [ALL_FIELDS] if ALL_FIELDS in names else list(dict.fromkeys(names))
    return grants


def _officers(settings: Settings, explicit: Sequence[str], count: int | None) -> list[str]:
    chosen: list[str] = []
    for raw in explicit:
        try:
            officer = parse_officer_id(raw)
        except InvalidRequest as err:
            raise AgencyError("bad_officer", f"--officer {raw[:40]!r}: {err.message}") from None
        if officer not in chosen:
            chosen.append(officer)
    wanted = (0 if explicit else DEFAULT_OFFICERS) if count is None else count
    if not 0 <= wanted <= MAX_OFFICERS:
        raise AgencyError("bad_officer_count", f"--officers {wanted}: draw 0 to {MAX_OFFICERS} officers")
    if not chosen and wanted == 0:
        raise AgencyError("bad_officer_count", "an agency needs at least one officer (every request names one):"
                          " give --officers N or --officer ID")
    if wanted:
        chosen += _draw_officers(settings, wanted, exclude=set(chosen))
    return chosen


def _draw_officers(settings: Settings, count: int, exclude: set[str]) -> list[str]:
    """count people from the civil registry whose card is in use, of working age, not yet anyone's officer.

    Not persona subjects either: those are for trying the system. Raises AgencyError.
    """
    home = settings.home
    path = home.provider_db("dopa")
    if settings.database is not None or not path.exists():
        where = "PostgreSQL" if settings.database is not None else str(path)
        raise AgencyError("officers_unavailable", f"--officers: officers are drawn from the civil registry's"
                          f" SQLite file, and this sandbox keeps it in {where}; name them with --officer ID")
    taken = set(exclude)
    for agency in settings.agencies.values():
        taken |= agency.officers
    with contextlib.suppress(OSError, ValueError):
        taken |= {str(p["id"]) for p in json.loads(home.personas.read_text(encoding="utf-8"))}
    year_be = dt.date.today().year + 543
    oldest, youngest = (f"{year_be - _OFFICER_AGE[1]}0101", f"{year_be - _OFFICER_AGE[0]}1231")
    out: list[str] = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT subject_id FROM card_check WHERE active = 1 AND birth_date BETWEEN ? AND ?"
                            " ORDER BY subject_id", (oldest, youngest))
        for (subject_id,) in rows:
            if subject_id not in taken and subject_id[0] != "0":
                out.append(subject_id)
                if len(out) == count:
                    return out
    except sqlite3.Error as exc:
        raise AgencyError("officers_unavailable", f"--officers: cannot read {path}: {exc}") from None
    finally:
        conn.close()
    raise AgencyError("officers_unavailable", f"--officers {count}: the civil registry has only {len(out)} more"
                      " working-age people with a card in use who are not officers yet; ask for fewer, or name"
                      " them with --officer ID")


def _clients_in_the_way(home: Home, name: str) -> None:
    paths = home.client_cert(name)
    for path in (paths.cert, paths.key):
        if path.exists():
            raise AgencyError("name_taken", f"{path} already exists: the name {name!r} belongs to another"
                              " certificate of the sandbox; choose another name")


def add_agency(home: Home, name: str, *, doc_types: Sequence[str], purpose: str, fields: Sequence[str] = (),
               title: str = "", officers: Sequence[str] = (), officer_count: int | None = None) -> Settings:
    """Onboard an agency: certificate, officers (each with a sandbox card, linkage/cli/officers.py), grant.
    Returns the settings now in force.

    Raises AgencyError (or ConfigError for a sandbox that does not load) and then has written nothing.
    """
    _check_name(name)
    with _locked(home):
        settings = load_settings(home)
        if name in settings.agencies:
            raise AgencyError("name_taken", f"an agency named {name!r} exists already; choose another name, or"
                              f" `linkage agency revoke {name}` first")
        if not purpose.strip():
            raise AgencyError("purpose_missing", "--purpose is empty: say why the agency needs the data (PDPA:"
                              " data is used only for its stated purpose)")
        if len(purpose) > PURPOSE_MAX:
            raise AgencyError("purpose_too_long", f"--purpose is {len(purpose)} characters long; at most"
                              f" {PURPOSE_MAX} are allowed")
        grants = _grants(settings, doc_types, fields)
        chosen = _officers(settings, officers, officer_count)
        _clients_in_the_way(home, name)
        header, doc = _config_doc(home)
        staging = Path(tempfile.mkdtemp(prefix=".agency-add-", dir=home.pki))
        target = home.client_cert(name)
        moved: list[Path] = []
        try:
            issued = pki.issue(home.ca, name, pki.Role.CLIENT, staging, unit="agency")
            doc.setdefault("agencies", {})[name] = {
                "title": title.strip() or name, "purpose": purpose.strip(), "officers": chosen,
                "cert_sha256": cert_sha256(issued.cert.read_bytes()), "grants": grants,
            }
            text = header + tomli_w.dumps(doc)
            settings_from_text(home, text)  # refused here, before a file moves
            target.cert.parent.mkdir(parents=True, exist_ok=True)
            for src, dst in ((issued.key, target.key), (issued.cert, target.cert)):
                os.replace(src, dst)
                moved.append(dst)
            now = write_config(home, text)
        except BaseException:
            for path in moved:
                path.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _refresh_endpoints(now)
        from linkage.cli.officers import issue_sandbox_cards

        issue_sandbox_cards(home, {name: chosen})  # each officer's own card: the hub requires their sessions
        return now


def revoke_agency(home: Home, name: str) -> Settings:
    """Take an agency out and record its certificate as revoked; delete its key and certificate files.

    Returns the settings now in force. Raises AgencyError and then has written nothing.
    """
    with _locked(home):
        settings = load_settings(home)
        agency = settings.agencies.get(name)
        if agency is None:
            before = settings.revoked.get(name)
            known = ", ".join(sorted(settings.agencies)) or "none"
            said = f"it was revoked at {before.revoked_at}" if before else f"agencies: {known}"
            raise AgencyError("no_such_agency", f"no agency named {name[:80]!r} to revoke; {said}")
        paths = home.client_cert(name)
        certs = [agency.cert_sha256] if agency.cert_sha256 else []
        with contextlib.suppress(FileNotFoundError):
            certs.append(cert_sha256(paths.cert.read_bytes()))
        header, doc = _config_doc(home)
        del doc["agencies"][name]
        revoked = doc.setdefault("revoked", {})
        earlier = revoked.get(name, {}).get("certs", [])
        revoked[name] = {"revoked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                         "certs": list(dict.fromkeys([*earlier, *certs]))}
        now = write_config(home, header + tomli_w.dumps(doc))
        # The CA's CRL lists it from now on: signatures it makes later fail long-term validation, earlier ones stand.
        _publish_revocation(home, paths.cert, x509.ReasonFlags.cessation_of_operation)
        # The hub refuses the certificate from the rename on; the files are of no more use to anyone.
        paths.key.unlink(missing_ok=True)
        paths.cert.unlink(missing_ok=True)
        _refresh_endpoints(now)
        return now


def renew_agency(home: Home, name: str, *, days: int = pki.LEAF_DAYS) -> Settings:
    """Issue the agency a new certificate (its certificate expires) and pin it: the old one is refused from now on.

    Returns the settings now in force. Raises AgencyError and then has written nothing.
    """
    if not 1 <= days <= pki.LEAF_DAYS:
        raise AgencyError("bad_days", f"--days {days}: a certificate lasts 1 to {pki.LEAF_DAYS} days")
    with _locked(home):
        settings = load_settings(home)
        if name not in settings.agencies:
            known = ", ".join(sorted(settings.agencies)) or "none"
            raise AgencyError("no_such_agency", f"no agency named {name[:80]!r} to renew; agencies: {known}")
        header, doc = _config_doc(home)
        staging = Path(tempfile.mkdtemp(prefix=".agency-renew-", dir=home.pki))
        target = home.client_cert(name)
        old_serial = _serial(target.cert)
        kept: list[tuple[Path, Path]] = []
        try:
            issued = pki.issue(home.ca, name, pki.Role.CLIENT, staging / "new", unit="agency", days=days)
            doc["agencies"][name]["cert_sha256"] = cert_sha256(issued.cert.read_bytes())
            text = header + tomli_w.dumps(doc)
            settings_from_text(home, text)  # refused here, before a file moves
            for path in (target.key, target.cert):
                if path.exists():
                    shutil.copy2(path, staging / path.name)
                    kept.append((staging / path.name, path))
            target.cert.parent.mkdir(parents=True, exist_ok=True)
            os.replace(issued.key, target.key)
            os.replace(issued.cert, target.cert)
            now = write_config(home, text)
        except BaseException:
            for old, path in kept:  # the agency keeps the certificate it had
                os.replace(old, path)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if old_serial is not None:  # the certificate it replaces: superseded, on the CA's CRL from now on
            _publish_revocation(home, None, x509.ReasonFlags.superseded, serial=old_serial)
        _refresh_endpoints(now)
        return now


def _serial(cert: Path) -> int | None:
    try:
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    except (OSError, ValueError):
        return None


def _publish_revocation(home: Home, cert: Path | None, reason: x509.ReasonFlags, *, serial: int | None = None) -> None:
    """Add the certificate (its file, or its serial) to the CA's CRL. Said on stderr, not raised, when it cannot:
    the hub already refuses the certificate (linkage.toml), and the CRL is what verifiers of paper read."""
    from linkage.crl import Revocation, publish_crl

    serial = serial if serial is not None else (_serial(cert) if cert is not None else None)
    if serial is None:
        return
    try:
        publish_crl(home.ca, [Revocation(serial, dt.datetime.now(dt.UTC), reason)])
    except (OSError, ValueError) as exc:
        print(f"linkage agency: the CA's CRL was not updated ({exc}); linkage.toml is", file=sys.stderr)


def list_agencies(settings: Settings) -> list[AgencySummary]:
    out = []
    for name, agency in sorted(settings.agencies.items()):
        cert = settings.home.client_cert(name).cert
        try:
            expires: dt.datetime | None = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
        except (OSError, ValueError):
            expires = None
        out.append(AgencySummary(name, agency.title, agency.purpose, dict(sorted(agency.grants.items())),
                                 len(agency.officers), cert, expires))
    return out


def _refresh_endpoints(settings: Settings) -> None:
    """Rewrite endpoints.json's agencies when the sandbox is up (the file exists only then)."""
    from linkage.cli.stack import agency_endpoints

    path = settings.home.endpoints
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["agencies"] = agency_endpoints(settings)
        fd, tmp = tempfile.mkstemp(prefix=".endpoints.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        os.replace(tmp, path)
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError) as exc:
        print(f"linkage agency: {path} not updated ({exc}); linkage.toml is", file=sys.stderr)
