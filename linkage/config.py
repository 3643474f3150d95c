"""Configuration: one TOML file in the home folder, read once into frozen objects.

    DIR/linkage.toml      hub, provider and counter addresses and settings, agencies with their officers and grants
    DIR/pki/              the linkage CA and every certificate (see Home)
    DIR/data/             one SQLite file per registry, and the hub's exchange log
                          (or all of it in PostgreSQL: top-level ``database`` or LINKAGE_DATABASE)

Every scalar key of ``[hub]``, ``[providers.<name>]``, ``[counter]``, ``[witnesses.<name>]`` and ``[tsa]`` can be
overridden by an environment variable ``LINKAGE_HUB_<KEY>`` / ``LINKAGE_PROVIDERS_<NAME>_<KEY>`` /
``LINKAGE_COUNTER_<KEY>`` / ``LINKAGE_WITNESSES_<NAME>_<KEY>`` / ``LINKAGE_TSA_<KEY>`` (upper case). Unknown
keys are rejected, file and key named: a typo must not silently fall back to a default. Raises ConfigError only.

``[agencies.*]`` and ``[revoked.*]`` are the rights table: ``LiveSettings`` lets a
running server follow them (one stat() per call; a file that does not load is
refused and the previous table kept). ``[hub]``, ``[providers.*]`` and ``[counter]`` (each server's own section,
linkage/serverconfig.py) take effect on restart. ``write_config`` replaces the file atomically, and only with
text that loads.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkage.limits import DEFAULT_LIMITS, AgencyLimits
from linkage.serverconfig import CounterConfig, HubConfig, PaymentsConfig, ProviderConfig, TsaConfig, WitnessConfig
from linkage.storage import Database, StorageError, parse_database

if TYPE_CHECKING:
    from linkage.pki import CertPaths

__all__ = [
    "ALL_FIELDS",
    "AgencyConfig",
    "ConfigError",
    "Home",
    "LiveSettings",
    "RevokedAgency",
    "Settings",
    "file_stamp",
    "load_settings",
    "settings_from_text",
    "write_atomically",
    "write_config",
]

_log = logging.getLogger("linkage.config")

ALL_FIELDS = "*"
"""A grant of every field of a document type."""


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message names file and key."""


def _cert_paths(cert: Path, key: Path) -> CertPaths:
    from linkage.pki import CertPaths  # here: pki needs cryptography, which reading a configuration does not
    return CertPaths(cert, key)


@dataclass(frozen=True)
class Home:
    """Where everything of one sandbox lives."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "linkage.toml"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca(self) -> CertPaths:
        return _cert_paths(self.pki / "ca.pem", self.pki / "ca.key")

    def server_cert(self, name: str) -> CertPaths:
        """TLS certificate of a server: "hub" or a provider's name."""
        return _cert_paths(self.pki / "servers" / f"{name}.pem", self.pki / "servers" / f"{name}.key")

    def client_cert(self, name: str) -> CertPaths:
        """Client certificate of an agency (or of the hub, to call providers)."""
        return _cert_paths(self.pki / "clients" / f"{name}.pem", self.pki / "clients" / f"{name}.key")

    @property
    def seal(self) -> CertPaths:
        return _cert_paths(self.pki / "seal" / "hub-seal.pem", self.pki / "seal" / "hub-seal.key")

    @property
    def data(self) -> Path:
        return self.root / "data"

    def provider_db(self, name: str) -> Path:
        return self.data / f"{name}.sqlite"

    @property
    def exchange_log(self) -> Path:
        return self.data / "exchange-log.sqlite"

    @property
    def subject_key(self) -> Path:
        """Secret key of the keyed hash that stands for the subject in the log."""
        return self.pki / "subject-hash.key"

    @property
    def log_note_key(self) -> Path:
        """Ed25519 key (PEM) that signs the log's checkpoints."""
        return self.pki / "log-note.key"

    @property
    def log_note_vkey(self) -> Path:
        """The checkpoints' verifier key, in the C2SP note format: what auditors pin."""
        return self.pki / "log-note.vkey"

    def witness_key(self, name: str) -> Path:
        """Ed25519 key (PEM) of the sandbox's witness ``name``: it cosigns the log's checkpoints."""
        return self.pki / "witnesses" / f"{name}.key"

    def witness_vkey(self, name: str) -> Path:
        """The witness's verifier key (C2SP cosignature/v1 vkey): what clients and auditors pin."""
        return self.pki / "witnesses" / f"{name}.vkey"

    def witness_state(self, name: str) -> Path:
        """What the witness cosigned last of each log (linkage/witness/state.py)."""
        return self.data / f"witness-{name}.json"

    # The civil registry's card secret (its chip and card-issuer keys derive from it, linkage/cards.py), the
    # card-issuer public key auditors pin, and the personas' card files (the sandbox's card reader reads them).
    card_secret = property(lambda self: self.pki / "servers" / "dopa-cards.secret")
    card_issuer = property(lambda self: self.pki / "card-issuer.pub")
    cards = property(lambda self: self.root / "cards")

    def card_file(self, subject_id: str) -> Path:
        return self.root / "cards" / f"{subject_id}.card.json"

    @property
    def personas(self) -> Path:
        return self.root / "personas.json"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def supervisor(self) -> Path:
        """What `linkage up` knows of its processes: each one's pid, restarts and last exit."""
        return self.root / "supervisor.json"


@dataclass(frozen=True)
class AgencyConfig:
    name: str
    title: str = ""
    # An auditor agency may list who read a subject's data (AuditLog.ListAccesses).
    auditor: bool = False
    officers: frozenset[str] = frozenset()
    # doc_type -> granted field names; ("*",) grants every field.
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Why the agency links, as stated when it was onboarded (`linkage agency add`).
    purpose: str = ""
    # SHA-256 (hex) of the DER of the one certificate that speaks for the agency; empty: any the CA issued to it.
    cert_sha256: str = ""
    # rate_per_s, burst, daily_quota: how much it may call the hub (linkage/limits.py).
    limits: AgencyLimits = DEFAULT_LIMITS


@dataclass(frozen=True)
class RevokedAgency:
    """An agency whose access was revoked: its certificates are refused though they still chain to the CA."""

    name: str
    revoked_at: str
    # SHA-256 (hex) of the DER of each certificate it held.
    certs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    home: Home
    hub: HubConfig
    providers: Mapping[str, ProviderConfig]
    agencies: Mapping[str, AgencyConfig]
    revoked: Mapping[str, RevokedAgency] = field(default_factory=dict)
    # PostgreSQL for the registries and the exchange log; None: SQLite files in home.data (see linkage.storage).
    database: Database | None = None
    counter: CounterConfig = field(default_factory=CounterConfig)
    # Witnesses the hub sends each new checkpoint to ([witnesses.NAME]; none: the checkpoints go uncosigned).
    witnesses: Mapping[str, WitnessConfig] = field(default_factory=dict)
    tsa: TsaConfig = field(default_factory=TsaConfig)
    payments: PaymentsConfig = field(default_factory=lambda: PaymentsConfig(port=8090))  # the mock payment switch
    # (inode, mtime, size) of the file when it was read: LiveSettings reloads when it changes.
    stamp: tuple[int, int, int] | None = field(default=None, compare=False)

    def provider_of(self, doc_type: str) -> ProviderConfig | None:
        for provider in self.providers.values():
            if doc_type in provider.doc_types:
                return provider
        return None

    def revocation_of(self, cert_sha256: str) -> RevokedAgency | None:
        """The revocation that names this certificate, if any."""
        for revoked in self.revoked.values():
            if cert_sha256 in revoked.certs:
                return revoked
        return None


def _take(table: Mapping[str, Any], where: str, allowed: Mapping[str, type], env_prefix: str | None) -> dict[str, Any]:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(allowed))}")
    out: dict[str, Any] = {}
    for key, typ in allowed.items():
        env = os.environ.get(f"{env_prefix}_{key}".upper()) if env_prefix else None
        value = table.get(key) if env is None else env
        if value is None:
            continue
        if typ is int and isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"{where}: {key} must be an integer, got {value!r}") from None
        if typ is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {key} must be a list of strings")
            value = tuple(value)
        elif not isinstance(value, typ) or isinstance(value, bool) is not (typ is bool):
            raise ConfigError(f"{where}: {key} must be {typ.__name__}, got {value!r}")
        out[key] = value
    return out


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of a file, or None when it is missing: a changed stamp means a changed file
    (a rename over it changes the inode even within one mtime tick). One stat; the hub calls it per request."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def load_settings(home: Home) -> Settings:
    """Read DIR/linkage.toml. Raises ConfigError naming the file and the problem."""
    path = home.config_file
    stamp = file_stamp(path)  # before reading: a change while reading is seen as a change
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no configuration; run `linkage init --home {home.root}` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return dataclasses.replace(settings_from_text(home, text), stamp=stamp)


def settings_from_text(home: Home, text: str) -> Settings:
    """Settings from the text of a linkage.toml for home. Raises ConfigError naming the file and the problem."""
    path = home.config_file
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    unknown = sorted(set(raw) - {"hub", "providers", "counter", "agencies", "revoked", "database", "witnesses", "tsa",
                                 "payments"})
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]; allowed: [hub], [providers.*], [counter],"
                          " [agencies.*], [revoked.*], [witnesses.*], [tsa], [payments]")
    hub = HubConfig(**_take(raw.get("hub", {}), f"{path} [hub]",
                            {"host": str, "port": int, "issuer": str, "provider_timeout_ms": int,
                             "log_origin": str, "provider_retries": int, "retry_budget_percent": int,
                             "breaker_failures": int, "breaker_cooldown_ms": int, "officer_sessions": str,
                             "webauthn_rp_id": str, "webauthn_origins": tuple},
                            "LINKAGE_HUB"))
    providers = {
        name: ProviderConfig(name=name, **_take(table, f"{path} [providers.{name}]",
                                                {"host": str, "port": int, "doc_types": tuple},
                                                f"LINKAGE_PROVIDERS_{name}"))
        for name, table in raw.get("providers", {}).items()
    }
    counter = CounterConfig(**_take(raw.get("counter", {}), f"{path} [counter]", {"host": str, "port": int},
                                    "LINKAGE_COUNTER"))
    payments = PaymentsConfig(**{"port": 8090, **_take(raw.get("payments", {}), f"{path} [payments]",
                                                           {"host": str, "port": int}, "LINKAGE_PAYMENTS")})
    owners: dict[str, str] = {}
    for provider in providers.values():
        for doc_type in provider.doc_types:
            if doc_type in owners:
                raise ConfigError(f"{path}: {doc_type} is claimed by both {owners[doc_type]} and {provider.name}")
            owners[doc_type] = provider.name
    agencies = {}
    for name, table in _tables(raw, "agencies", path).items():
        where = f"{path} [agencies.{name}]"
        values = _take({k: v for k, v in table.items() if k != "grants"}, where,
                       {"title": str, "auditor": bool, "officers": tuple, "purpose": str, "cert_sha256": str,
                        "rate_per_s": int, "burst": int, "daily_quota": int}, None)
        try:
            limits = AgencyLimits(**{k: values[k] for k in ("rate_per_s", "burst", "daily_quota") if k in values})
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        grants_raw = table.get("grants", {})
        if not isinstance(grants_raw, dict):
            raise ConfigError(f"{where}: grants must be a table of doc_type = [fields]")
        grants: dict[str, tuple[str, ...]] = {}
        for doc_type, fields in grants_raw.items():
            if doc_type not in owners:
                raise ConfigError(f"{where}: grant for unknown document type {doc_type!r};"
                                  f" known: {', '.join(sorted(owners))}")
            if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
                raise ConfigError(f"{where}: grants.{doc_type} must be a non-empty list of field names or [\"*\"]")
            grants[doc_type] = tuple(fields)
        agencies[name] = AgencyConfig(name=name, title=values.get("title", ""), auditor=values.get("auditor", False),
                                      officers=frozenset(values.get("officers", ())), grants=grants,
                                      purpose=values.get("purpose", ""),
                                      cert_sha256=_fingerprint(values.get("cert_sha256", ""), f"{where} cert_sha256"),
                                      limits=limits)
    revoked = {}
    for name, table in _tables(raw, "revoked", path).items():
        where = f"{path} [revoked.{name}]"
        values = _take(table, where, {"revoked_at": str, "certs": tuple}, None)
        if "revoked_at" not in values:
            raise ConfigError(f"{where}: revoked_at is missing (when the access was revoked, ISO 8601)")
        certs = tuple(_fingerprint(c, f"{where} certs") for c in values.get("certs", ()))
        revoked[name] = RevokedAgency(name=name, revoked_at=values["revoked_at"], certs=certs)
    witnesses = {name: WitnessConfig(name=name, **_take(table, f"{path} [witnesses.{name}]",
                                                        {"host": str, "port": int}, f"LINKAGE_WITNESSES_{name}"))
                 for name, table in _tables(raw, "witnesses", path).items()}
    tsa = TsaConfig(**_take(raw.get("tsa", {}), f"{path} [tsa]", {"host": str, "port": int}, "LINKAGE_TSA"))
    return Settings(home=home, hub=hub, providers=providers, agencies=agencies, revoked=revoked,
                    database=_database(raw.get("database"), path), counter=counter, witnesses=witnesses, tsa=tsa,
                    payments=payments)


def _database(value: Any, path: Path) -> Database | None:
    """LINKAGE_DATABASE, else the top-level ``database`` key: a postgresql:// URL, or empty for SQLite files."""
    where = f"{path} database"
    if "LINKAGE_DATABASE" in os.environ:
        value, where = os.environ["LINKAGE_DATABASE"], "LINKAGE_DATABASE"
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string: a postgresql:// URL, or empty for SQLite files")
    try:
        return parse_database(value, where=where)
    except StorageError as exc:
        raise ConfigError(str(exc)) from None


def _tables(raw: Mapping[str, Any], section: str, path: Path) -> dict[str, Mapping[str, Any]]:
    tables = raw.get(section, {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"{path}: [{section}] must hold only tables [{section}.NAME]")
    return tables


def _fingerprint(value: str, where: str) -> str:
    if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
        raise ConfigError(f"{where}: {value[:80]!r} is not a SHA-256 fingerprint (64 lower-case hex digits)")
    return value


def write_config(home: Home, text: str) -> Settings:
    """Replace DIR/linkage.toml with text, atomically, only if text loads; returns what it loads to.

    Written to a temporary file beside it, flushed to disk, then renamed over it: a
    reader sees the old file or the new one, never part of one. Raises ConfigError
    (and leaves the file as it was) when text does not load.
    """
    settings = settings_from_text(home, text)
    write_atomically(home.config_file, text)
    return settings


def write_atomically(path: Path, text: str) -> None:
    """Replace the file ``path`` with ``text``: written to a temporary file beside it, flushed to disk, renamed
    over it, the folder flushed too. A reader sees the old file or the new one, never part of one, and the new
    one survives a crash once this returns. Raises OSError."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


class LiveSettings:
    """The settings of a running server, following the agencies and revocations in linkage.toml.

    ``current()`` costs one stat() of the file; when the file changed it is read
    again and, if it loads, its ``[agencies.*]`` and ``[revoked.*]`` replace the old
    ones in one assignment (everything else is kept: ports and addresses change on
    restart). A file that does not load is refused with an error in the log, and
    the previous rights stay in force.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._seen = settings.stamp

    def last(self) -> Settings:
        """The settings as the last ``current()`` found them, without a stat (for the rest of the same call)."""
        return self._settings

    def current(self) -> Settings:
        home = self._settings.home
        stamp = file_stamp(home.config_file)
        if stamp is None or stamp == self._seen:
            return self._settings
        self._seen = stamp
        try:
            fresh = load_settings(home)
        except ConfigError as exc:
            _log.error("CONFIGURATION REFUSED, still serving the agencies loaded before: %s", exc)
            return self._settings
        if fresh.stamp != stamp:
            self._seen = fresh.stamp  # changed again while being read: this is the newer version
        self._settings = dataclasses.replace(self._settings, agencies=fresh.agencies, revoked=fresh.revoked,
                                             stamp=fresh.stamp)
        _log.warning("reloaded %s: %d agencies, %d revoked", home.config_file, len(fresh.agencies),
                     len(fresh.revoked))
        return self._settings
