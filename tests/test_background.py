"""`linkage up --detach`, `linkage down`, `linkage status --wait` and `linkage env`, as a shell uses them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_sandbox import linkage

SMALL = {"LINKAGE_CITIZENS": "300", "LINKAGE_PORTS": "auto"}


def _shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-ec", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_detach_env_status_down(tmp_path: Path) -> None:
    home = tmp_path / "sandbox home"  # a space: every path printed for a shell must be quoted
    # An environment override (here the hub's host) is what endpoints.json, env and status show.
    env = {**SMALL, "LINKAGE_HOME": str(home), "LINKAGE_HUB_HOST": "localhost"}
    started = linkage("up", "--detach", env=env, timeout=300)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        endpoints = json.loads((home / "endpoints.json").read_text(encoding="utf-8"))
        assert endpoints["hub"].startswith("localhost:")
        officer = min(endpoints["agencies"]["phrae-municipality"]["officers"])
        # The counter as http://localhost:PORT (passkeys need it), and how its first officer signs in: the
        # enrolment page and the one-time code `linkage init` issued them, then the passkey page; their card.
        counter = endpoints["counter"].replace("127.0.0.1", "localhost")
        officers = home / "officers" / "phrae-municipality"
        code = (officers / f"{officer}.enrolment").read_text(encoding="utf-8").strip()
        for line in (f"linkage sandbox is up in {home}", f"hub:       {endpoints['hub']}", f"counter:   {counter}/",
                     f"officer:   {officer} of phrae-municipality: register a passkey at {counter}/enrol with code"
                     f" {code},", f"then sign in at {counter}/signin/passkey",
                     f"card:      {officers / f'{officer}.card.json'} (its PIN in {officer}.pin",
                     f"endpoints: {home / 'endpoints.json'}", "linkage down"):
            assert line in started.stdout, started.stdout
        assert "start it with" not in started.stdout + started.stderr
        # The sandbox's ports are the free ones `init --ports auto` wrote into linkage.toml.
        assert "port = 7443" not in (home / "linkage.toml").read_text(encoding="utf-8")

        # eval "$(linkage env)" in another folder's shell gives the same sandbox to every later command.
        shell = _shell(f'eval "$({sys.executable} -m linkage.cli env --home "$LINKAGE_HOME")"\n'
                       'cd /\n'
                       f'{sys.executable} -m linkage.cli status --home "$LINKAGE_HOME" >/dev/null\n'
                       'echo "$LINKAGE_HOME|$HUB_ADDRESS|$COUNTER_URL|$OFFICER|$ID_ORDINARY|$ID_COMPANY_ACTIVE"\n'
                       'cat "$OFFICER_PIN_FILE" "$OFFICER_PIN_FILE_PHRAE_HOSPITAL"; test -f "$OFFICER_CARD"',
                       {"LINKAGE_HOME": str(home)})
        assert shell.returncode == 0, shell.stderr
        personas = {p["name"]: p["id"] for p in json.loads((home / "personas.json").read_text(encoding="utf-8"))}
        said, pin, hospital_pin = shell.stdout.strip().splitlines()
        assert said == "|".join([str(home), endpoints["hub"], counter + "/", officer, personas["ordinary"],
                                 personas["company_active"]])
        assert pin.isdigit() and len(pin) == 6 and hospital_pin.isdigit()

        status = linkage("status", "--json", env={"LINKAGE_HOME": str(home)})
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["components"][0]["address"] == endpoints["hub"]

        # A second `up` on the same folder is refused at once, naming the running one and `linkage down`;
        # `up --detach` again finds it running and returns.
        again = linkage("up", env=env, timeout=60)
        assert again.returncode == 2 and "already running" in again.stderr and "linkage down" in again.stderr
        detached_again = linkage("up", "--detach", env=env, timeout=60)
        assert detached_again.returncode == 0 and "already running" in detached_again.stderr
    finally:
        stopped = linkage("down", env={"LINKAGE_HOME": str(home)}, timeout=90)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert not (home / "endpoints.json").exists()
    after = linkage("status", env={"LINKAGE_HOME": str(home)})
    assert after.returncode == 2 and "not running" in after.stderr
    assert "linkage sandbox stopped" in (home / "up.log").read_text(encoding="utf-8")
    assert linkage("down", env={"LINKAGE_HOME": str(home)}).returncode == 0  # nothing to stop is not an error


def test_status_wait_follows_a_starting_sandbox(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**SMALL, "LINKAGE_HOME": str(home)}
    nothing = linkage("status", "--wait", "1", env=env)
    assert nothing.returncode == 2 and "not ready after 1 s" in nothing.stderr
    up = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 30
        while not (home / "up.pid").exists() or not (home / "up.pid").read_text().strip():
            assert up.poll() is None and time.monotonic() < deadline, "linkage up did not start"
            time.sleep(0.05)
        # While up is still making the sandbox, a command says so instead of "start it with: linkage up".
        early = linkage("fetch", "--agency", "phrae-municipality", "--officer", "1", "--doc-type", "dopa.person",
                        "--id", "1", "--purpose", "x", env=env)
        assert early.returncode == 2 and "is starting" in early.stderr and "status --wait" in early.stderr, early.stderr
        waited = linkage("status", "--wait", "240", env=env, timeout=300)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert "all 7 components healthy" in waited.stdout
    finally:
        up.send_signal(signal.SIGTERM)
        stdout, _ = up.communicate(timeout=60)
    assert "start it with" not in stdout


def test_env_without_a_running_sandbox_gives_the_configured_addresses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert linkage("env", "--home", str(home)).returncode == 2  # no sandbox: says how to make one
    assert linkage("init", "--home", str(home), "--citizens", "100", "--ports", "42000").returncode == 0
    shown = linkage("env", "--home", str(home))
    assert shown.returncode == 0, shown.stderr
    assert "export HUB_ADDRESS=127.0.0.1:42000" in shown.stdout and "not running" in shown.stdout
    assert "export COUNTER_URL=http://localhost:42005/" in shown.stdout  # after hub and the four registries
    assert f"export OFFICER_CARD={home}/officers/phrae-municipality/" in shown.stdout
