"""What every `linkage` command shares: the ``--home`` flag, and whether one was given."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "home_given", "with_home"]

DEFAULT_HOME = Path.home() / ".linkage"


def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The one ``--home DIR`` flag every command takes (LINKAGE_HOME, default ~/.linkage)."""
    p.add_argument("--home", default=os.environ.get("LINKAGE_HOME", str(DEFAULT_HOME)),
                   help="sandbox folder (LINKAGE_HOME, default ~/.linkage)")
    return p


def home_given(home: str) -> bool:
    """Whether the folder came from --home or LINKAGE_HOME rather than the default (~/.linkage named explicitly
    counts as the default)."""
    return bool(os.environ.get("LINKAGE_HOME")) or Path(home).expanduser().resolve() != DEFAULT_HOME.resolve()
