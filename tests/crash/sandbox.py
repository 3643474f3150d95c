"""Which sandbox a script runs: ``--home`` (made there if absent) or a throwaway one in a temporary folder."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from linkage.cli.sandbox import init
from linkage.config import Home

__all__ = ["add_sandbox_arguments", "sandbox_home"]


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """--home, --citizens, --seed: which sandbox a script runs (see ``sandbox_home``)."""
    parser.add_argument("--home", type=Path, help="a sandbox to use (made if absent); default a temporary one")
    parser.add_argument("--citizens", type=int, default=2000, help="citizens in a new sandbox (default 2000)")
    parser.add_argument("--seed", type=int, default=1)


@contextlib.contextmanager
def sandbox_home(args: argparse.Namespace, prefix: str) -> Iterator[Home]:
    """The sandbox in --home (made there if absent), or a new one in a temporary folder deleted afterwards."""
    tmp = None if args.home else Path(tempfile.mkdtemp(prefix=prefix))
    root = args.home or tmp
    assert root is not None
    try:
        home = Home(root.resolve())
        if not home.config_file.exists():
            init(home.root, citizens=args.citizens, seed=args.seed)
        yield home
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
