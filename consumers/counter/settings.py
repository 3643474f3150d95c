"""What one counter needs, read once: ``CounterSettings``, with defaults from the sandbox's ``linkage.toml``
(``[counter]`` host and port, ``[hub]`` address) and LINKAGE_COUNTER_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from consumers.counter.manuals import DEFAULT_FOLDER
from linkage.config import ConfigError, Home, load_settings

__all__ = ["DEFAULT_AGENCY", "CounterSettings"]

# The agency a counter acts as unless LINKAGE_COUNTER_AGENCY names another (`linkage env` picks its officer).
DEFAULT_AGENCY: Final = "phrae-municipality"


@dataclass(frozen=True)
class CounterSettings:
    """What one counter needs; read once. ``office_head`` None: the first of the agency's officers (sorted)."""

    home: Home
    hub_address: str
    agency: str = DEFAULT_AGENCY
    manuals: Path = DEFAULT_FOLDER
    session_ttl: float = 30 * 60.0
    # Open cases (on disk, with the applicant's ID and printouts) are deleted this long after they were opened.
    case_ttl: float = 12 * 3600.0
    database: Path | None = None
    office_head: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # Set only behind HTTPS: marks cookies Secure.
    secure_cookies: bool = False
    # Failed sign-ins with one officer ID before it waits, growing delays after (throttle.py); and from one
    # address, a threshold no office's typos reach.
    signin_per_id: int = 3
    signin_per_address: int = 50
    # Failed card checks on /me per address and per ID before 10 minutes' wait.
    card_check_attempts: int = 5
    # Papers checked on /verify per address in ten minutes (each costs a QR decode and seconds of OCR).
    verify_limit: int = 20
    # The time-stamping authority (http://HOST:PORT/): certified PDFs are PAdES B-LT with its timestamps; None:
    # B-B, no timestamp (a counter started without one). `linkage up` sets LINKAGE_COUNTER_TSA.
    tsa_url: str | None = None
    # Complaints: days without an answer before one is forwarded to the (mock) OPDC; accepted per address in ten
    # minutes (complaint_desk.py).
    complaint_escalate_days: float = 15.0
    complaints_per_address: int = 5
    # How often the counter escalates unanswered complaints and flags late cases on its own, whether or not anyone
    # opens /complaints or /tracking (seconds).
    followup_sweep_s: float = 600.0
    # The card reader: a folder of citizens' card files (None: the sandbox's DIR/cards).
    card_reader: Path | None = None
    # The payment switch that takes the allowance payment batches (http://HOST:PORT; "" none: batches wait).
    payments_url: str = ""

    @property
    def card_folder(self) -> Path:
        return self.card_reader or self.home.cards

    @classmethod
    def from_env(cls, home: Home) -> CounterSettings:
        """Host and port from ``[counter]`` of the sandbox's linkage.toml (which honours LINKAGE_COUNTER_HOST /
        LINKAGE_COUNTER_PORT), the hub address from its ``[hub]`` (LINKAGE_HUB_HOST / LINKAGE_HUB_PORT) unless
        LINKAGE_COUNTER_HUB names one, the rest from LINKAGE_COUNTER_* variables. Raises ConfigError."""
        env = os.environ
        config = load_settings(home)
        hub = env.get("LINKAGE_COUNTER_HUB") or f"{config.hub.host}:{config.hub.port}"
        try:
            ttl = float(env.get("LINKAGE_COUNTER_SESSION_TTL", "1800"))
        except ValueError:
            raise ConfigError("LINKAGE_COUNTER_SESSION_TTL must be a number of seconds") from None
        try:
            verify_limit = int(env.get("LINKAGE_COUNTER_VERIFY_LIMIT", "20"))
        except ValueError:
            raise ConfigError("LINKAGE_COUNTER_VERIFY_LIMIT must be a whole number of uploads") from None
        database = env.get("LINKAGE_COUNTER_DATABASE")
        payments = env.get("LINKAGE_COUNTER_PAYMENTS") or f"http://{config.payments.host}:{config.payments.port}"
        reader = env.get("LINKAGE_COUNTER_CARD_READER")
        return cls(home=home, hub_address=hub, agency=env.get("LINKAGE_COUNTER_AGENCY", DEFAULT_AGENCY),
                   manuals=Path(env.get("LINKAGE_COUNTER_MANUALS", str(DEFAULT_FOLDER))), session_ttl=ttl,
                   database=Path(database) if database else None,
                   office_head=env.get("LINKAGE_COUNTER_OFFICE_HEAD") or None,
                   host=config.counter.host, port=config.counter.port,
                   secure_cookies=env.get("LINKAGE_COUNTER_SECURE_COOKIES", "") == "1", verify_limit=verify_limit,
                   tsa_url=env.get("LINKAGE_COUNTER_TSA") or None, card_reader=Path(reader) if reader else None,
                   payments_url=payments)
