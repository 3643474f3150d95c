"""Fixtures of the fuzz tests: the real stack (tests/conftest.py) in a worker thread, over a copy of the session's
sandbox whose agencies have no reachable rate limit (see ``unlimited_copy``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from linkage.config import Home
from tests.fuzz.surface import Surface, ThreadedStack, unlimited_copy


@pytest.fixture(scope="module")
def surface(sandbox_home: Home, personas: list[dict[str, Any]],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surface]:
    home = unlimited_copy(sandbox_home, tmp_path_factory.mktemp("fuzz") / "home")
    running = ThreadedStack(home)
    surface = Surface(running.stack, personas)
    try:
        surface.prepare()
        yield surface
    finally:
        surface.close()
        running.close()
