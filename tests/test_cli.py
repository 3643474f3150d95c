"""The `linkage` command's surface: --version, a help text for every option, one meaning of --home."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from linkage.cli.background import holding_up_lock
from linkage.cli.main import _parser
from linkage.config import Home
from tests.test_sandbox import linkage


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("linkage",)) -> list[tuple[str, ...]]:
    """Every option, positional and subcommand without a help text, as (command…, option)."""
    missing: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {a.dest for a in action._choices_actions if a.help}
            for name, sub in action.choices.items():
                if name not in helped:
                    missing.append((*path, name))
                missing += _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append((*path, "/".join(action.option_strings) or action.dest))
    return missing


def test_every_command_option_and_argument_says_what_it_is() -> None:
    assert _options(_parser()) == []


def test_version() -> None:
    from importlib.metadata import version

    shown = linkage("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"linkage {version('linkage')}"


def test_bench_home_is_a_sandbox_folder_and_a_running_one_is_refused(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with holding_up_lock(home):  # as a running `linkage up` holds it
        for env in ({}, {"LINKAGE_HOME": str(home.root)}):
            args = ["bench"] if env else ["bench", "--home", str(home.root)]
            refused = linkage(*args, env=env)
            assert refused.returncode == 2 and "is running" in refused.stderr and "--fresh" in refused.stderr


def test_auditor_state_lives_in_the_home_given(tmp_path: Path) -> None:
    from linkage.cli.printouts import _state

    given = _parser().parse_args(["verify", "x", "--home", str(tmp_path)])
    assert _state(given) == tmp_path / "auditor-state.json"
    explicit = _parser().parse_args(["verify", "x", "--home", str(tmp_path), "--state", str(tmp_path / "s.json")])
    assert _state(explicit) == tmp_path / "s.json"
    if "LINKAGE_HOME" not in os.environ:
        default = _parser().parse_args(["verify", "x"])
        assert _state(default) == Path.home() / ".linkage-auditor" / "state.json"


def test_a_reader_that_stops_reading_ends_verify_quietly(tmp_path: Path) -> None:
    """`linkage verify a b c … | head -1`: no BrokenPipeError traceback."""
    import subprocess
    import sys

    files = []
    for i in range(50):
        files.append(tmp_path / f"{i}.jws")
        files[-1].write_text("not a printout", encoding="utf-8")
    with subprocess.Popen([sys.executable, "-m", "linkage.cli", "verify", "--ca", str(tmp_path / "ca.pem"),
                           *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # as `head` does once it has what it wants
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def _listed(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    """The commands --help lists, with their lines, in order."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(a.dest, a.help) for a in sub._choices_actions]


def test_the_command_line_imports_only_the_command_it_runs_yet_lists_every_one_as_itself() -> None:
    import subprocess
    import sys

    from linkage.cli.main import _AFTER_BENCH, _BEFORE_BENCH, _module_of

    full = _listed(_parser())
    assert _listed(_parser("")) == full  # what --help shows without importing any command's module
    for module, commands in (*_BEFORE_BENCH, *_AFTER_BENCH):
        assert _listed(_parser(module)) == full
        for name in commands:
            assert _module_of(["--log-level", "info", name, "--help"]) == module
    assert _module_of(["--help"]) == _module_of(["init"]) == ""
    assert _module_of(["nosuch"]) == "*"  # argparse's error then lists every command
    # --help and a bundle's check load neither grpc nor the hub; verify does not load the counter or the hub.
    probe = ("import sys; from linkage.cli.main import _parser; _parser({!r}); "
             "print(' '.join(m for m in ('grpc', 'linkage.hub.rules', 'consumers.counter', 'linkage.cli.faults')"
             " if m in sys.modules))")
    for load, absent in (("", ("grpc", "linkage.hub.rules", "consumers.counter", "linkage.cli.faults")),
                         ("linkage.cli.printouts", ("linkage.hub.rules", "consumers.counter", "linkage.cli.faults"))):
        loaded = subprocess.run([sys.executable, "-c", probe.format(load)], capture_output=True, text=True,
                                check=True).stdout.split()
        assert not set(absent) & set(loaded), (load, loaded)
