"""What every `linkage` command shares: the ``--home`` flag."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["with_home"]


def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The one ``--home DIR`` flag every command takes (LINKAGE_HOME, default ~/.linkage)."""
    p.add_argument("--home", default=os.environ.get("LINKAGE_HOME", str(Path.home() / ".linkage")),
                   help="sandbox folder (LINKAGE_HOME, default ~/.linkage)")
    return p
