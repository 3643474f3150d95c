"""``linkage env``: what a shell needs to use a sandbox, as lines it can ``eval``.

    eval "$(linkage env --home DIR)"

sets LINKAGE_HOME (so that every later ``linkage`` command uses DIR), HUB_ADDRESS, COUNTER_URL,
CA_CERT, ENDPOINTS_FILE, OFFICER (an officer who can sign in at the counter) with OFFICER_CARD and
OFFICER_PIN_FILE (their officer card and the sandbox's file of its PIN), OFFICER_<AGENCY>,
OFFICER_CARD_<AGENCY> and OFFICER_PIN_FILE_<AGENCY> (the first officer of each agency) and ID_<PERSONA>
(each test persona of personas.json: ID_ORDINARY, ID_MINOR, …, ID_COMPANY_ACTIVE). Addresses come from
DIR/endpoints.json while the sandbox runs, else from DIR/linkage.toml (said in a comment). Nothing here is a
secret: the PIN files are paths (the sandbox's stand-in for what an officer keeps in their head).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consumers.counter.settings import DEFAULT_AGENCY
from linkage.cli.common import with_home
from linkage.cli.officers import card_path, enrolment_code, pin_path
from linkage.config import ConfigError, Home, Settings, load_settings
from linkage.serverconfig import join_address

__all__ = ["add_commands", "counter_officer", "exports", "officer_lines", "ready_lines"]


def counter_officer(settings: Settings) -> tuple[str, str] | None:
    """(agency, officer ID) of an officer who can sign in at the counter, or None when its agency has none."""
    agency = os.environ.get("LINKAGE_COUNTER_AGENCY", DEFAULT_AGENCY)
    config = settings.agencies.get(agency)
    if config is None or not config.officers:
        return None
    return agency, min(config.officers)


def _running(home: Home) -> dict[str, Any] | None:
    try:
        data = json.loads(home.endpoints.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("hub"), str) else None


def _variable(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def _addresses(home: Home, settings: Settings) -> tuple[str, str, bool]:
    """(hub address, counter URL, running): from endpoints.json while the sandbox runs, else as configured. The
    counter on 127.0.0.1 is named http://localhost:PORT/, the origin its passkeys work on (a secure context)."""
    endpoints = _running(home)
    if endpoints is None:
        hub, counter = join_address(settings.hub.host, settings.hub.port), f"http://{settings.counter.address}/"
    else:
        hub, counter = str(endpoints["hub"]), str(endpoints.get("counter", "")).rstrip("/") + "/"
    url = urlsplit(counter)
    if url.hostname == "127.0.0.1" and url.port:
        counter = f"http://localhost:{url.port}/"
    return hub, counter, endpoints is not None


def _tsa_url(home: Home, settings: Settings) -> str:
    endpoints = _running(home)
    tsa = endpoints.get("tsa") if endpoints is not None else None
    if isinstance(tsa, dict) and isinstance(tsa.get("url"), str):
        return str(tsa["url"])
    return f"http://{join_address(settings.tsa.host, settings.tsa.port)}/"


def exports(home: Home) -> list[tuple[str, str, str]]:
    """(variable, value, comment) for each line of ``linkage env``. Raises ConfigError when home has no sandbox."""
    if not home.config_file.exists():
        raise ConfigError(f"no sandbox in {home.root}: make and start one with"
                          f" `linkage up --detach --home {home.root}`")
    settings = load_settings(home)
    hub, counter, running = _addresses(home, settings)
    configured = "" if running else " (as configured: the sandbox is not running)"
    out = [("LINKAGE_HOME", str(home.root), "every linkage command uses this sandbox"),
           ("HUB_ADDRESS", hub, "the hub: gRPC, mutual TLS" + configured),
           ("COUNTER_URL", counter, "the counter web app" + configured),
           ("CA_CERT", str(home.ca.cert), "the linkage CA: what an auditor trusts"),
           ("TSA_URL", _tsa_url(home, settings), "the time-stamping authority (RFC 3161); GET ${TSA_URL}crl: the CA's"
                                                 " CRL" + configured),
           ("ENDPOINTS_FILE", str(home.endpoints), "where everything listens, written by linkage up")]
    officer = counter_officer(settings)
    if officer is not None:
        out.append(("OFFICER", officer[1], f"signs in at the counter ({officer[0]})"))
        out += _card_lines(home, *officer, "")
    for name, agency in settings.agencies.items():
        if agency.officers:
            out.append((f"OFFICER_{_variable(name)}", min(agency.officers), f"an officer of {name}"))
            out += _card_lines(home, name, min(agency.officers), f"_{_variable(name)}")
    try:
        personas = json.loads(home.personas.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        personas = []
    per_kind: dict[str, int] = {}
    for persona in personas if isinstance(personas, list) else []:
        if not isinstance(persona, dict) or not isinstance(persona.get("id"), str):
            continue
        kind = str(persona.get("kind", "subject"))
        per_kind[kind] = per_kind.get(kind, 0) + 1
        name = persona.get("name") or f"{kind}_{per_kind[kind]}"  # personas.json made before "name": ID_CITIZEN_1
        out.append((f"ID_{_variable(str(name))}", persona["id"], str(persona.get("label", ""))))
    return out


def _card_lines(home: Home, agency: str, officer: str, suffix: str) -> list[tuple[str, str, str]]:
    """OFFICER_CARD<suffix> and OFFICER_PIN_FILE<suffix> of a sandbox officer's card, when they hold one."""
    card = card_path(home, agency, officer)
    if not card.exists():
        return []
    return [(f"OFFICER_CARD{suffix}", str(card), f"officer {officer}'s card: linkage fetch --card"),
            (f"OFFICER_PIN_FILE{suffix}", str(pin_path(card)), "its PIN (sandbox only): --pin-file")]


def officer_lines(home: Home, settings: Settings, counter: str) -> list[str]:
    """How the counter's sample officer signs in, for a person: a passkey at ``counter`` (its URL as
    ``_addresses`` names it; the enrolment page and a one-time code until they hold one), and their card on the
    command line. Renews the officer's enrolment code when it expired (``enrolment_code``)."""
    officer = counter_officer(settings)
    if officer is None:
        return []
    agency, officer_id = officer
    local = counter.rstrip("/")
    code = enrolment_code(home, agency, officer_id)
    if code is None:
        lines = [f"  officer:   {officer_id} of {agency} signs in with their passkey at {local}/signin/passkey"]
    else:
        lines = [f"  officer:   {officer_id} of {agency}: register a passkey at {local}/enrol with code {code},",
                 f"             then sign in at {local}/signin/passkey"]
    card = card_path(home, agency, officer_id)
    if card.exists():
        lines.append(f"  card:      {card} (its PIN in {pin_path(card).name}, sandbox only: linkage fetch --card)")
    return lines


def ready_lines(home: Home) -> list[str]:
    """Where a running sandbox is, for a person: hub, counter, how its officer signs in, endpoints.json."""
    settings = load_settings(home)
    hub, counter, _ = _addresses(home, settings)
    return [f"  hub:       {hub}", f"  counter:   {counter}", *officer_lines(home, settings, counter),
            f"  endpoints: {home.endpoints}"]


def _cmd_env(args: argparse.Namespace) -> int:
    home = Home(Path(args.home).resolve())
    rows = exports(home)
    width = max(len(f"{n}={shlex.quote(v)}") for n, v, _ in rows)
    print(f"# the linkage sandbox in {home.root}: eval \"$(linkage env --home {shlex.quote(str(home.root))})\"")
    for name, value, comment in rows:
        line = f"{name}={shlex.quote(value)}"
        print(f"export {line:<{width}}  # {comment}" if comment else f"export {line}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage env``."""
    p = with_home(sub.add_parser("env", help="print export lines for a shell (eval \"$(linkage env)\"): LINKAGE_HOME,"
                                             " the hub and counter addresses, officers and persona IDs"))
    p.set_defaults(func=_cmd_env)
