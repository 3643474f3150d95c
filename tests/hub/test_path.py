"""One FetchDocument reads as it runs: the hand-written files it passes through, and the hub's steps in order.

The trace (``sys.setprofile`` on every thread) follows one FetchDocument against real servers on port 0,
after a first one has warmed the channels and the provider's description. A frame belongs to the request
path when the hub servicer's own frame (``HubServicer.FetchDocument`` in linkage/hub/service.py) is among
its callers, across every ``await`` it resumes: that is the code a maintainer reads from the servicer's
entry to its return. What runs elsewhere in the process meanwhile is traced too and named in a failure:
the registry's server (another process outside the tests), the exchange log's group commit (its writer
thread, one commit for every entry that arrived meanwhile) and the interceptors around the servicer.
docs/architecture.md draws the same path.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from linkage.config import Home
from linkage.hub import rules
from linkage.hub.keys import LogSigner
from linkage.hub.service import HubServicer
from linkage.v1 import hub_pb2_grpc
from providers.server import ProviderServicer
from tests.conftest import start_stack
from tests.hub.test_fetch import MUNI, request, subject
from tests.officers import signed_in

ROOT = Path(__file__).resolve().parents[2]
MOST_FILES = 8  # issue 10: one FetchDocument in at most 8 hand-written files
_HUB = inspect.unwrap(HubServicer.FetchDocument).__code__
_REGISTRY = ProviderServicer.GetRecord.__code__  # the method grpc calls, its decorators included
_SIGN = LogSigner.sign_checkpoint.__code__


def _project_file(code: CodeType) -> str | None:
    """linkage/… or providers/… (generated linkage/v1 stubs left out), else None."""
    path = Path(code.co_filename)
    if not path.is_relative_to(ROOT):
        return None
    rel = path.relative_to(ROOT)
    if rel.parts[0] not in ("linkage", "providers") or rel.parts[:2] == ("linkage", "v1"):
        return None
    return rel.as_posix()


@dataclass
class Trace:
    """Files (and their functions, in the order first called) by where they ran."""

    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    signed_from: set[str] = field(default_factory=set)  # files that called LogSigner.sign_checkpoint
    on: bool = False

    def files(self, group: str) -> list[str]:
        return list(self.groups.get(group, {}))

    def _group(self, frame: FrameType) -> str:
        if threading.current_thread().name.startswith("exchange-log"):
            return "log writer thread"
        outer: FrameType | None = frame
        while outer is not None:
            if outer.f_code is _HUB:
                return "path"
            if outer.f_code is _REGISTRY:
                return "registry"
            outer = outer.f_back
        return "elsewhere"

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.on or event != "call":
            return
        name = _project_file(frame.f_code)
        if name is None:
            return
        if frame.f_code is _SIGN and frame.f_back is not None:
            self.signed_from.add(_project_file(frame.f_back.f_code) or frame.f_back.f_code.co_filename)
        functions = self.groups.setdefault(self._group(frame), {}).setdefault(name, [])
        if frame.f_code.co_qualname not in functions:
            functions.append(frame.f_code.co_qualname)

    def render(self) -> str:
        return "\n".join(f"{group}:\n" + "\n".join(f"  {f}: {', '.join(fns)}" for f, fns in files.items())
                         for group, files in self.groups.items())


@contextmanager
def _profiled(trace: Trace) -> Iterator[None]:
    # Before the servers start: threading.setprofile reaches only threads started after it (the log's writer).
    threading.setprofile(trace.profile)
    sys.setprofile(trace.profile)
    try:
        yield
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


async def test_one_fetch_document_passes_through_at_most_8_files(sandbox_home: Home,
                                                                 personas: list[dict[str, Any]]) -> None:
    trace = Trace()
    with _profiled(trace):
        stack = await start_stack(sandbox_home)
        try:
            citizen = subject(personas, "dopa.person")
            # Under the officer's session, as the hub requires: signed in beforehand, off the traced path.
            fetch = await signed_in(stack, MUNI, request(stack, MUNI, "dopa.person", citizen))
            async with stack.channel(MUNI) as channel:
                stub = hub_pb2_grpc.LinkageHubStub(channel)
                await stub.FetchDocument(fetch)  # warm: channels, Describe
                trace.on = True
                answer = await stub.FetchDocument(fetch)
                trace.on = False
        finally:
            trace.on = False
            await stack.hub.stop(0)
            for server in stack.providers.values():
                await server.stop(0)
    assert answer.jws and answer.checkpoint.note
    path = trace.files("path")
    assert path[:1] == ["linkage/hub/service.py"], trace.render()
    assert len(path) <= MOST_FILES, f"{len(path)} files on the path:\n{trace.render()}"
    everywhere = [f for files in trace.groups.values() for f in files]
    assert not [f for f in everywhere if f.startswith("linkage/cli/")], trace.render()
    # The log signs its checkpoint with the hub's live keys directly, not through linkage/checkpoint.py and back.
    assert trace.signed_from == {"linkage/hub/log.py"}, trace.render()
    # docs/architecture.md lists every file of the path.
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert not [f for f in path if f"`{f}`" not in architecture], trace.render()


def _numbers(text: str, pattern: str) -> list[int]:
    return [int(n) for n in re.findall(pattern, text, re.MULTILINE)]


def test_the_hubs_steps_are_numbered_in_the_order_they_run() -> None:
    """The numbered steps of linkage/hub/rules.py's docstring are the numbered comments of admit, fetch and
    _issue, in the order the code runs them."""
    source = Path(rules.__file__).read_text(encoding="utf-8")
    documented = _numbers(ast.get_docstring(ast.parse(source)) or "", r"^\s*(\d+)\. ")
    ran = []
    for function in (rules.Hub.admit, rules.Hub.fetch, rules.Hub._issue):
        ran += _numbers(inspect.getsource(function), r"^\s*# (\d+)\. ")
    assert documented == list(range(1, len(documented) + 1)) and len(documented) >= 10
    assert ran == documented
