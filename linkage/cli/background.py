"""A sandbox in the background: ``linkage up --detach``, ``linkage down``, ``linkage status --wait``.

    DIR/up.pid   the process ID of the running ``linkage up``, which holds an exclusive lock on the
                 file as long as it runs: a number left behind by a killed ``up`` is never taken for
                 a running one, and a second ``up`` on the same folder is refused at once
    DIR/up.log   what a detached ``up`` prints: making the sandbox, its servers' messages

``up --detach`` starts ``linkage up`` in a session of its own with its output in DIR/up.log, waits
until every server answers its health check (the checks of ``linkage status``), prints where
things are and returns; the sandbox runs on until ``linkage down`` (or SIGTERM to the pid in
DIR/up.pid). Errors are SandboxError, with what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from linkage.cli.sandbox import SandboxError
from linkage.config import ConfigError, Home, file_stamp

if TYPE_CHECKING:
    from linkage.cli.status import Report

__all__ = ["NotReady", "detach", "down", "holding_up_lock", "log_file", "pid_file", "running_pid", "up_arguments",
           "wait_ready"]

DEFAULT_WAIT_S = 600.0
_POLL_S = 0.5


def pid_file(home: Home) -> Path:
    return home.root / "up.pid"


def log_file(home: Home) -> Path:
    """Where a detached ``linkage up`` writes what it prints."""
    return home.root / "up.log"


def running_pid(home: Home) -> int | None:
    """The process ID of the ``linkage up`` running on home (starting, running or stopping), else None."""
    try:
        fd = os.open(pid_file(home), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 64).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1  # -1: its number is being written
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def holding_up_lock(home: Home) -> Iterator[None]:
    """Run the body as the one ``linkage up`` of home, its pid in DIR/up.pid; SIGTERM stops it as Ctrl-C does.

    Raises SandboxError, naming the pid and ``linkage down``, when another ``up`` holds home.
    """
    home.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(pid_file(home), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode("ascii", "replace").strip()
            raise SandboxError(f"a sandbox is already running in {home.root} (linkage up, pid {other or '?'}):"
                               f" use it, or stop it first with `linkage down --home {home.root}`") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        # The file is not removed afterwards (another process may be opening it to lock it); emptied, unlocked.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # while making the sandbox
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


class NotReady(SandboxError):
    """The sandbox did not become healthy in time, or its ``linkage up`` exited; report: the last status seen."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


async def wait_ready(home: Home, timeout: float, *, process: subprocess.Popen[bytes] | None = None,
                     stale: tuple[int, int, int] | None = None) -> Report:
    """Ask every component (``linkage status``'s checks) until all answer, for at most timeout seconds.

    process: the ``linkage up`` being waited for; its exit ends the wait. stale: the stamp of an
    endpoints.json written before it started, which does not count. Raises NotReady saying why.
    """
    from linkage.cli.status import check

    deadline = time.monotonic() + timeout
    report: Report | None = None
    why = f"no {home.endpoints} yet"
    while True:
        if process is not None and process.poll() is not None:
            raise NotReady(f"linkage up exited (status {process.returncode}) before the sandbox was ready;"
                           f" the end of {log_file(home)}:\n{_tail(log_file(home))}")
        stamp = file_stamp(home.endpoints)
        if stamp is not None and stamp != stale:
            try:
                report = await check(home, timeout=max(0.5, min(3.0, deadline - time.monotonic())))
            except ConfigError as exc:
                why = str(exc)
            else:
                if not report.down:
                    return report
                why = f"down: {', '.join(report.down)}"
        if time.monotonic() >= deadline:
            raise NotReady(f"the sandbox in {home.root} was not ready after {timeout:g} s ({why})", report)
        await asyncio.sleep(_POLL_S)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read it: {exc})"
    # The init progress bar redraws one line with \r: keep what it drew last.
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])


def detach(home: Home, up_args: list[str], timeout: float) -> int:
    """``linkage up --detach``: start ``linkage up --home DIR *up_args`` in the background, return once it is
    ready (module docstring). An ``up`` already running on home is waited for, not started twice."""
    from linkage.cli.env import ready_lines

    home.root.mkdir(parents=True, exist_ok=True)
    process = None
    stale = None
    pid = running_pid(home)
    if pid is not None:
        print(f"a sandbox is already running in {home.root} (pid {pid}): waiting until it is ready", file=sys.stderr)
    else:
        stale = file_stamp(home.endpoints)
        with open(log_file(home), "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home.root),
                                        *up_args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        pid = process.pid
        print(f"starting the sandbox in {home.root} in the background (pid {pid}, log {log_file(home)})",
              file=sys.stderr, flush=True)
    try:
        asyncio.run(wait_ready(home, timeout, process=process, stale=stale))
    except NotReady:
        if process is not None and process.poll() is None:
            print(f"it is still starting: `linkage status --wait --home {home.root}` waits again,"
                  f" `linkage down --home {home.root}` stops it", file=sys.stderr)
        raise
    print(f"linkage sandbox is up in {home.root} (pid {running_pid(home) or pid}, log {log_file(home)})")
    print("\n".join(ready_lines(home)))
    print(f"  shell:     eval \"$(linkage env --home {home.root})\"\n"
          f"  stop:      linkage down --home {home.root}")
    return 0


def down(home: Home, timeout: float) -> int:
    """``linkage down``: SIGTERM to the ``linkage up`` of home, then wait until it has stopped everything."""
    pid = running_pid(home)
    if pid is None:
        print(f"no sandbox is running in {home.root}", file=sys.stderr)
        return 0
    deadline = time.monotonic() + timeout
    while pid == -1 and time.monotonic() < deadline:  # it is writing its number
        time.sleep(0.05)
        pid = running_pid(home)
    if pid is None:
        return 0
    if pid == -1:
        raise SandboxError(f"{pid_file(home)} is locked but names no process; stop `linkage up` by hand")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    while running_pid(home) is not None:
        if time.monotonic() >= deadline:
            raise SandboxError(f"linkage up (pid {pid}) has not stopped after {timeout:g} s; see {log_file(home)}")
        time.sleep(0.1)
    print(f"linkage sandbox in {home.root} stopped")
    return 0


def up_arguments(args: argparse.Namespace) -> list[str]:
    """The options of ``linkage up --detach`` that the background ``linkage up`` takes."""
    out: list[str] = ["--citizens", str(args.citizens), "--seed", str(args.seed), "--replicas", str(args.replicas),
                      "--workers", str(args.workers), "--ports", args.ports]
    if args.database:
        out += ["--database", args.database]
    return out
