"""`linkage up` keeps the sandbox serving: a component that exits is reported and started again.

Every component (each registry, each hub replica, the counter) is watched on its own. When one
exits, `linkage up` says which, its exit status and the last lines it wrote to stderr, and starts
it again on the same ports while the others go on serving. The back-off before a start is
FIRST_BACKOFF_S, doubled for every failed start or run shorter than STABLE_S before it (a crash loop
does not spin), up to MAX_BACKOFF_S. A start that fails (no LISTENING line: a port taken, a
database gone) GIVE_UP_AFTER times in a row stops the sandbox, saying so; a process that listened
is always started again, however it ended (kill -9 included). Otherwise only Ctrl-C or SIGTERM
stops the sandbox.

DIR/supervisor.json holds what `linkage status` reports of it: each component's pid, state
(serving, restarting, failed), restarts and last exit (status, time, run time, last stderr lines).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linkage.cli.sandbox import SandboxError
from linkage.cli.stack import Stack, exit_status

__all__ = ["FIRST_BACKOFF_S", "GIVE_UP_AFTER", "MAX_BACKOFF_S", "STABLE_S", "read_state", "supervise"]

FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 8.0
STABLE_S = 10.0
"""A run shorter than this lengthens the next back-off (a crash loop, not a crash)."""
GIVE_UP_AFTER = 5
"""Failed starts of one component in a row that stop the sandbox."""


@dataclass
class _Exit:
    status: str  # exit_status(): "exit status 1", "killed by SIGKILL"
    at: str  # UTC, ISO 8601
    ran_s: float
    stderr: list[str]


@dataclass
class _Component:
    pid: int
    state: str = "serving"  # serving, restarting, failed
    restarts: int = 0
    failures: int = 0  # failed starts in a row
    short: int = 0  # runs shorter than STABLE_S in a row
    last_exit: _Exit | None = None


@dataclass
class _State:
    path: Path
    components: dict[str, _Component] = field(default_factory=dict)

    def save(self) -> None:
        doc = {"pid": os.getpid(), "updated": _now(),
               "components": {name: asdict(c) for name, c in self.components.items()}}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _say(text: str) -> None:
    print(f"linkage up: {text}", file=sys.stderr, flush=True)


async def supervise(stack: Stack, stop: asyncio.Event) -> str | None:
    """Keep every process of stack running until stop is set; then None. Returns why it gave up instead
    when a component failed to start GIVE_UP_AFTER times in a row. The caller stops the stack."""
    state = _State(stack.settings.home.supervisor,
                   {name: _Component(proc.pid) for name, proc in stack.processes.items()})
    state.save()
    keepers = [asyncio.ensure_future(_keep(stack, name, state, stop)) for name in stack.processes]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *keepers], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stopper, *keepers):
            task.cancel()
        outcomes = await asyncio.gather(stopper, *keepers, return_exceptions=True)
    for task, outcome in zip((stopper, *keepers), outcomes, strict=True):
        if task in done and isinstance(outcome, BaseException):
            raise outcome  # a defect of the supervisor itself: not to be hidden behind a stopped sandbox
    return next((str(outcome) for task, outcome in zip(keepers, outcomes[1:], strict=True)
                 if task in done and isinstance(outcome, str)), None)


async def _keep(stack: Stack, name: str, state: _State, stop: asyncio.Event) -> str:
    """Start name again whenever it exits; return why not once it has failed to start GIVE_UP_AFTER times in a
    row."""
    me = state.components[name]
    started = time.monotonic()
    while True:
        code = await stack.processes[name].wait()
        if stop.is_set():  # Ctrl-C reaches the children too: an exit on the way down is no crash
            await asyncio.Event().wait()  # until supervise cancels this
        ran = time.monotonic() - started
        lines = await stack.stderr[name].lines()
        me.last_exit = _Exit(exit_status(code), _now(), round(ran, 3), lines)
        me.short = me.short + 1 if ran < STABLE_S else 0
        last = "".join(f"\n    {line}" for line in lines) if lines else " (nothing)"
        _say(f"{name} (pid {me.pid}) exited: {me.last_exit.status}, after {ran:.1f} s; the last lines it wrote to"
             f" stderr:{last}")
        while True:
            delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (me.failures + me.short))
            me.state = "restarting"
            state.save()
            _say(f"starting {name} again in {delay:g} s; the others go on serving")
            await asyncio.sleep(delay)
            try:
                address = await stack.restart(name)
            except SandboxError as exc:
                me.failures += 1
                _say(f"{exc} (failed start {me.failures} of {GIVE_UP_AFTER} in a row)")
                if me.failures >= GIVE_UP_AFTER:
                    me.state = "failed"
                    state.save()
                    return f"{name} failed to start {me.failures} times in a row; the last time: {exc}"
                continue
            break
        started = time.monotonic()
        me.pid, me.state, me.failures = stack.processes[name].pid, "serving", 0
        me.restarts += 1
        state.save()
        _say(f"{name} serves again on {address} (pid {me.pid}, restart {me.restarts})")


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """Each component's entry in a supervisor.json (empty when there is none, or it cannot be read)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    components = doc.get("components") if isinstance(doc, dict) else None
    if not isinstance(components, dict):
        return {}
    return {str(name): entry for name, entry in components.items() if isinstance(entry, dict)}
