"""The one-machine sandbox as ``linkage init`` makes it: its certificates, keys, configuration, seeded
registries and personas, on the ports ``--ports`` chooses.

init builds everything in a temporary folder beside DIR and moves it in only
when complete, so an interrupted init leaves nothing half-written. ``linkage up`` runs it
(linkage/cli/stack.py: each registry, the two witnesses, the hub and the counter as its own process).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import pki
from linkage.checkpoint import NoteSigner
from linkage.config import ALL_FIELDS, Home, load_settings
from linkage.cosignature import Cosigner
from linkage.pki import HUB_CLIENT
from linkage.storage import Database, drop_schemas, sandbox_schemas

__all__ = [
    "DEFAULT_PORTS",
    "PROMPTPAY_FIELDS",
    "SAMPLE_AGENCIES",
    "WITNESSES",
    "SandboxError",
    "choose_ports",
    "init",
]

DEFAULT_PORTS = {"hub": 7443, "dopa": 7451, "dbd": 7452, "edu": 7453, "promptpay": 7454, "counter": 8080,
                 "witness1": 7461, "witness2": 7462, "tsa": 7471, "payments": 8090}
# The sandbox's witnesses of the log (linkage/witness/), each with its own key: see docs/audit.md "Witnesses".
WITNESSES = ("witness1", "witness2")
# Where `--ports auto` looks for free ports: below Linux's ephemeral range (32768-60999), so that no
# outgoing connection takes one between init and up.
_AUTO_RANGE = (20000, 32767)

# What of promptpay.account the municipality may read: where an allowance goes, and whether it can go there.
PROMPTPAY_FIELDS = ("bank_code", "bank_name_th", "bank_name_en", "account_masked", "status")
# rate_per_s, burst, daily_quota of each sample agency (linkage/limits.py; an agency without them gets DEFAULT_LIMITS).
SAMPLE_AGENCIES: dict[str, dict[str, Any]] = {
    # A municipal service counter: every document type, every field, but of the PromptPay directory only what
    # its allowance payment run needs (no holder's name, no registration date). `linkage bench` and the soak call
    # as it, hundreds of calls a second, so its limits are high.
    "phrae-municipality": {"title": "เทศบาลเมืองแพร่ / Phrae Town Municipality", "grants": ALL_FIELDS,
                           "narrowed": {"promptpay.account": list(PROMPTPAY_FIELDS)},
                           "limits": {"rate_per_s": 2000, "burst": 4000, "daily_quota": 50_000_000}},
    # A hospital's registration desk: who the patient is and that the card is real, nothing else.
    "phrae-hospital": {
        "title": "โรงพยาบาลแพร่ / Phrae Hospital",
        "grants": {
            "dopa.person": ["title", "first_name_th", "last_name_th", "first_name_en", "last_name_en",
                            "birth_date", "sex", "nationality", "status"],
            "dopa.card": [ALL_FIELDS],
        },
        "limits": {"rate_per_s": 50, "burst": 100, "daily_quota": 100_000},
    },
    # Reads the log, not people's records, in bursts: every printout it verifies online costs a few calls.
    "auditor": {"title": "ผู้ตรวจสอบบันทึกการใช้ข้อมูล / Exchange auditor", "grants": {}, "auditor": True,
                "limits": {"rate_per_s": 200, "burst": 1000, "daily_quota": 1_000_000}},
}

Progress = Callable[[str, int, int], None]


class SandboxError(Exception):
    """The sandbox cannot be made or started; the message says why and what to do."""


def choose_ports(spec: str, names: Sequence[str] | None = None) -> dict[str, int]:
    """The port of each component (hub, every registry, counter, witnesses, TSA, payment switch) for ``--ports SPEC``:

    ``default`` the usual ones (hub 7443, dopa 7451, dbd 7452, edu 7453, promptpay 7454, counter 8080, witness1
    7461, witness2 7462, tsa 7471, payments 8090); ``auto`` ports free on 127.0.0.1 now, drawn from 20000-32767;
    a number BASE: BASE for the hub, then one each, in order, for the registries, the counter, the witnesses, the
    TSA and the payment switch. Raises SandboxError saying what would be right.
    """
    if names is None:
        from providers import REGISTRIES

        names = ["hub", *REGISTRIES, "counter", *WITNESSES, "tsa", "payments"]
    if spec == "default":
        return {name: DEFAULT_PORTS.get(name, 0) for name in names}
    if spec == "auto":
        return _free_ports(names)
    if spec.isdigit() and 1024 <= int(spec) <= 65535 - len(names):
        return {name: int(spec) + i for i, name in enumerate(names)}
    raise SandboxError(f"--ports must be default, auto (free ports) or a base port from 1024 to"
                       f" {65535 - len(names)}, got {spec!r}")


def _free_ports(names: Sequence[str]) -> dict[str, int]:
    import random
    import socket

    held: list[socket.socket] = []  # each port stays bound until all are chosen, so none is drawn twice
    chosen: dict[str, int] = {}
    try:
        for port in random.sample(range(*_AUTO_RANGE), 200):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
            chosen[names[len(chosen)]] = port
            if len(chosen) == len(names):
                return chosen
    finally:
        for s in held:
            s.close()
    raise SandboxError(f"--ports auto: no {len(names)} free ports found in {_AUTO_RANGE[0]}-{_AUTO_RANGE[1]};"
                       " give a base port instead (--ports 40000)")


def init(root: Path, *, citizens: int = 10_000, seed: int = 1, force: bool = False,
         progress: Progress | None = None, database: Database | None = None,
         ports: Mapping[str, int] | None = None) -> Home:
    """Make the CA, every certificate, the configuration, the seeded registries and personas.json, and each
    sample officer's card (DIR/officers/, linkage/cli/officers.py).

    With a database, the registries (and later the exchange log) live there, in the schemas of its
    namespace, and linkage.toml names it; a database that already holds them is refused unless force.
    ports (choose_ports) go into linkage.toml; by default the usual ones.
    """
    from providers import REGISTRIES
    from providers.faults import ADMIN_CLIENT, ADMIN_UNIT
    from providers.synth import generate

    home = Home(root.resolve())
    if home.config_file.exists() and not force:
        raise SandboxError(f"{home.root} already holds a sandbox; add --force to replace it"
                           " (this deletes its data, certificates and exchange log)")
    if citizens < 1:
        raise SandboxError("--citizens must be at least 1")
    parts = ["log", *REGISTRIES]
    if database is not None and not force and (held := sandbox_schemas(database, parts)):
        raise SandboxError(f"{database.redacted} already holds a sandbox (schemas {', '.join(held)}); add --force"
                           " to replace it (this deletes its data and exchange log), or use another database")
    home.root.mkdir(parents=True, exist_ok=True)
    staging = Home(Path(tempfile.mkdtemp(prefix=".linkage-init-", dir=home.root)))
    try:
        ca = pki.create_ca(staging.pki)
        for name in ("hub", *REGISTRIES):
            pki.issue(ca, name, pki.Role.SERVER, staging.server_cert(name).cert.parent)
        for name in (HUB_CLIENT, *SAMPLE_AGENCIES):
            pki.issue(ca, name, pki.Role.CLIENT, staging.client_cert(name).cert.parent, unit="agency")
        # The sandbox administrator: the only certificate the registries' ProviderAdmin (faults) accepts.
        pki.issue(ca, ADMIN_CLIENT, pki.Role.CLIENT, staging.client_cert(ADMIN_CLIENT).cert.parent, unit=ADMIN_UNIT)
        seal = pki.issue(ca, "hub-seal", pki.Role.SEAL, staging.seal.cert.parent)
        assert seal == staging.seal
        from linkage.payments import load_or_make_switch_key
        from linkage.tsa import ensure_pki

        ensure_pki(staging)  # the time-stamping authority's certificate and the CA's (empty) CRL
        load_or_make_switch_key(staging)  # the mock payment switch's key: billers read its public half at start
        _write_secret(staging.subject_key, secrets.token_bytes(32))
        origin = f"linkage.sandbox/{secrets.token_hex(4)}/exchange-log"
        note_key = Ed25519PrivateKey.generate()
        _write_secret(staging.log_note_key, note_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        staging.log_note_vkey.write_text(NoteSigner(origin, note_key).vkey() + "\n", encoding="ascii")
        _make_witness_keys(staging, origin)
        staging.data.mkdir(parents=True)
        result = generate(staging.data, citizens=citizens, seed=seed, progress=progress, database=database)
        staging.personas.write_text(json.dumps(result.personas, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
        from linkage.cli.cards import write_cards

        write_cards(staging, result.personas)  # the registry's card secret, and the personas' card files
        doc_types = {name: tuple(reg.doc_types) for name, reg in REGISTRIES.items()}
        from linkage.cli.onboarding import cert_sha256

        # Each sample agency is pinned to the one certificate issued here, as `linkage agency add` pins its own.
        pins = {name: cert_sha256(staging.client_cert(name).cert.read_bytes()) for name in SAMPLE_AGENCIES}
        ports = ports or choose_ports("default", ["hub", *doc_types, "counter", *WITNESSES, "tsa", "payments"])
        staging.config_file.write_text(_config_text(doc_types, result.officers, origin, database, pins, ports),
                                       encoding="utf-8")
        load_settings(staging)  # what init writes must load
        from consumers.counter.settings import DEFAULT_AGENCY
        from linkage.cli.officers import issue_sandbox_cards

        # Every sample officer's own card (PIN beside it, for the sandbox only), and the counter's officers a
        # passkey enrolment code: the hub requires an officer session for every printout.
        (staging.root / "officers").mkdir()
        issue_sandbox_cards(staging, result.officers, DEFAULT_AGENCY)
        for item in ("pki", "data", "cards", "officers", "linkage.toml", "personas.json", "endpoints.json",
                     "supervisor.json"):
            old = home.root / item
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        for item in ("pki", "data", "cards", "officers", "linkage.toml", "personas.json"):
            os.replace(staging.root / item, home.root / item)
        if database is not None:
            drop_schemas(database, ["log"])  # the old sandbox's log: its keys are gone with its pki/
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)
    return home


def _make_witness_keys(home: Home, origin: str) -> None:
    """DIR/pki/witnesses/NAME.key and NAME.vkey for each sandbox witness; its key name is a URL-like name beside
    the log's origin (the spec asks for one that identifies the cosigner)."""
    folder = home.witness_key(WITNESSES[0]).parent
    folder.mkdir(parents=True)
    for name in WITNESSES:
        key = Ed25519PrivateKey.generate()
        _write_secret(home.witness_key(name), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key_name = f"{origin.rsplit('/', 1)[0]}/{name}"
        home.witness_vkey(name).write_text(Cosigner(key_name, key).vkey() + "\n", encoding="ascii")


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _config_text(doc_types: Mapping[str, Sequence[str]], officers: Mapping[str, Sequence[str]],
                 log_origin: str, database: Database | None, pins: Mapping[str, str],
                 ports: Mapping[str, int]) -> str:
    every = [t for types in doc_types.values() for t in types]
    agencies = {}
    for name, spec in SAMPLE_AGENCIES.items():
        grants = {t: [ALL_FIELDS] for t in every} if spec["grants"] == ALL_FIELDS else spec["grants"]
        grants = {**grants, **{t: f for t, f in spec.get("narrowed", {}).items() if t in every}}
        agencies[name] = {"title": spec["title"], "auditor": spec.get("auditor", False),
                          "officers": list(officers.get(name, ())), **spec.get("limits", {}), "grants": grants}
        if name in pins:
            agencies[name]["cert_sha256"] = pins[name]
    doc = {
        "hub": {"host": "127.0.0.1", "port": ports["hub"], "provider_timeout_ms": 3000,
                "log_origin": log_origin},
        "providers": {name: {"host": "127.0.0.1", "port": ports[name], "doc_types": list(types)}
                      for name, types in doc_types.items()},
        "counter": {"host": "127.0.0.1", "port": ports["counter"]},
        "payments": {"host": "127.0.0.1", "port": ports.get("payments", DEFAULT_PORTS["payments"])},
        "agencies": agencies,
        "witnesses": {name: {"host": "127.0.0.1", "port": ports.get(name, DEFAULT_PORTS[name])} for name in WITNESSES},
        "tsa": {"host": "127.0.0.1", "port": ports.get("tsa", DEFAULT_PORTS["tsa"])},
    }
    if database is not None:
        doc = {"database": database.url, **doc}  # registries and exchange log on PostgreSQL
    header = (
        "# linkage sandbox configuration, written by `linkage init`.\n"
        "# Any [hub], [providers.NAME] or [counter] key can be overridden by LINKAGE_HUB_<KEY>,\n"
        "# LINKAGE_PROVIDERS_<NAME>_<KEY> or LINKAGE_COUNTER_<KEY>. Unknown keys are refused.\n"
        "# [agencies.NAME] is an agency: the common name of its certificate in pki/clients/,\n"
        "# the officers registered with it, how much it may call the hub (a burst of `burst` calls,\n"
        "# then rate_per_s a second; daily_quota calls a Bangkok day; see docs/operations.md \"Limits\"),\n"
        "# and grants: doc_type = [fields] (\"*\" = every field).\n"
        "# [witnesses.NAME] is a witness the hub sends each checkpoint to (key: pki/witnesses/NAME.vkey);\n"
        "# LINKAGE_WITNESSES_<NAME>_<KEY> overrides its keys.\n\n"
    )
    return header + tomli_w.dumps(doc)
