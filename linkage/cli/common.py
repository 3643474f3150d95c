"""What every `linkage` command shares: the ``--home`` flag, and whether one was given."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "home_given", "officer_flags", "with_home"]

DEFAULT_HOME = Path.home() / ".linkage"


def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The one ``--home DIR`` flag every command takes (LINKAGE_HOME, default ~/.linkage)."""
    p.add_argument("--home", default=os.environ.get("LINKAGE_HOME", str(DEFAULT_HOME)),
                   help="sandbox folder (LINKAGE_HOME, default ~/.linkage)")
    return p


def officer_flags(p: argparse.ArgumentParser, names: str) -> argparse.ArgumentParser:
    """Who asks: ``--card FILE`` (the officer signs in with their card; what they fetch names the session, as
    ``names`` says) with ``--pin-file``, or ``--officer ID``."""
    p.add_argument("--card", help=f"the officer's card file: they sign in with it (asks for its PIN) and {names}")
    p.add_argument("--pin-file", help="with --card: read the PIN from this file's first line (else "
                                      "LINKAGE_OFFICER_PIN, else asked for)")
    p.add_argument("--officer", help="the officer's 13-digit personal ID without a sign-in: refused unless the hub"
                                     " runs with [hub] officer_sessions = \"optional\" and the officer holds no key")
    return p


def home_given(home: str) -> bool:
    """Whether the folder came from --home or LINKAGE_HOME rather than the default (~/.linkage named explicitly
    counts as the default)."""
    return bool(os.environ.get("LINKAGE_HOME")) or Path(home).expanduser().resolve() != DEFAULT_HOME.resolve()
