"""The client against the real stack: endpoints.json written by the sandbox's own writer, pointing at it."""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from linkage.cli.stack import Stack, write_endpoints
from linkage.config import Home
from tests.conftest import RunningStack

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "ขึ้นทะเบียนผู้สูงอายุ"


@pytest.fixture
def client_home(stack: RunningStack, tmp_path: Path) -> Home:
    """A folder whose endpoints.json names the running stack (its pki/ is the session sandbox's)."""
    home = Home(tmp_path / "home")
    home.root.mkdir()
    (home.root / "pki").symlink_to(stack.home.pki)
    settings = dataclasses.replace(stack.settings, home=home)
    # Components this stack does not run (e.g. the counter) get an address nobody listens on.
    addresses = collections.defaultdict(lambda: "127.0.0.1:1", hub=stack.hub_address,
                                        **{n: p.address for n, p in stack.settings.providers.items()})
    write_endpoints(Stack(settings, {}, addresses))
    return home


def officer(stack: RunningStack, agency: str) -> str:
    return sorted(stack.settings.agencies[agency].officers)[0]


def subject(personas: list[dict[str, Any]], doc_type: str, kind: str = "citizen") -> str:
    for p in personas:
        if p["kind"] == kind and doc_type in p["doc_types"]:
            return str(p["id"])
    raise AssertionError(f"no {kind} persona with {doc_type}")
