"""Configuration: one TOML file in the home folder, read once into frozen objects.

    DIR/linkage.toml      hub and provider settings, agencies with their officers and grants
    DIR/pki/              the linkage CA and every certificate (see Home)
    DIR/data/             one SQLite file per registry, and the hub's exchange log

Every scalar key of ``[hub]`` and ``[providers.<name>]`` can be overridden by an
environment variable ``LINKAGE_HUB_<KEY>`` / ``LINKAGE_PROVIDERS_<NAME>_<KEY>``
(upper case). Unknown keys are rejected with the file and key named: a typo must
not silently fall back to a default. Raises only ``ConfigError``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkage.pki import CertPaths

__all__ = [
    "ALL_FIELDS",
    "AgencyConfig",
    "ConfigError",
    "Home",
    "HubConfig",
    "ProviderConfig",
    "Settings",
    "load_settings",
]

ALL_FIELDS = "*"
"""A grant of every field of a document type."""


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message names file and key."""


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
        return CertPaths(self.pki / "ca.pem", self.pki / "ca.key")

    def server_cert(self, name: str) -> CertPaths:
        """TLS certificate of a server: "hub" or a provider's name."""
        return CertPaths(self.pki / "servers" / f"{name}.pem", self.pki / "servers" / f"{name}.key")

    def client_cert(self, name: str) -> CertPaths:
        """Client certificate of an agency (or of the hub, to call providers)."""
        return CertPaths(self.pki / "clients" / f"{name}.pem", self.pki / "clients" / f"{name}.key")

    @property
    def seal(self) -> CertPaths:
        return CertPaths(self.pki / "seal" / "hub-seal.pem", self.pki / "seal" / "hub-seal.key")

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

    @property
    def personas(self) -> Path:
        return self.root / "personas.json"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"


@dataclass(frozen=True)
class HubConfig:
    host: str = "127.0.0.1"
    port: int = 7443
    issuer: str = "TH/GOV/DOPA/linkage-hub"
    provider_timeout_ms: int = 3000
    # The log's name in its checkpoints (C2SP origin); unique per log.
    log_origin: str = "linkage.sandbox/exchange-log"


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 0
    doc_types: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AgencyConfig:
    name: str
    title: str = ""
    # An auditor agency may list who read a subject's data (AuditLog.ListAccesses).
    auditor: bool = False
    officers: frozenset[str] = frozenset()
    # doc_type -> granted field names; ("*",) grants every field.
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    home: Home
    hub: HubConfig
    providers: Mapping[str, ProviderConfig]
    agencies: Mapping[str, AgencyConfig]

    def provider_of(self, doc_type: str) -> ProviderConfig | None:
        for provider in self.providers.values():
            if doc_type in provider.doc_types:
                return provider
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


def load_settings(home: Home) -> Settings:
    """Read DIR/linkage.toml. Raises ConfigError naming the file and the problem."""
    path = home.config_file
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no configuration; run `linkage init --home {home.root}` first") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    unknown = sorted(set(raw) - {"hub", "providers", "agencies"})
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]; allowed: [hub], [providers.*], [agencies.*]")
    hub = HubConfig(**_take(raw.get("hub", {}), f"{path} [hub]",
                            {"host": str, "port": int, "issuer": str, "provider_timeout_ms": int,
                             "log_origin": str}, "LINKAGE_HUB"))
    providers = {
        name: ProviderConfig(name=name, **_take(table, f"{path} [providers.{name}]",
                                                {"host": str, "port": int, "doc_types": tuple},
                                                f"LINKAGE_PROVIDERS_{name}"))
        for name, table in raw.get("providers", {}).items()
    }
    owners: dict[str, str] = {}
    for provider in providers.values():
        for doc_type in provider.doc_types:
            if doc_type in owners:
                raise ConfigError(f"{path}: {doc_type} is claimed by both {owners[doc_type]} and {provider.name}")
            owners[doc_type] = provider.name
    agencies = {}
    for name, table in raw.get("agencies", {}).items():
        where = f"{path} [agencies.{name}]"
        values = _take({k: v for k, v in table.items() if k != "grants"}, where,
                       {"title": str, "auditor": bool, "officers": tuple}, None)
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
                                      officers=frozenset(values.get("officers", ())), grants=grants)
    return Settings(home=home, hub=hub, providers=providers, agencies=agencies)
