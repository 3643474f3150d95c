"""The README's five-minute walkthrough, pasted whole: its shell block runs as one script and succeeds.

The block is taken from README.md as it is and run with ``bash -e`` from the repository's folder,
against the real ``scripts/sandbox`` and CLI, with a temporary LINKAGE_HOME (and HOME, for the
auditor's state), free ports and a small registry. Only the browser step is a comment in the README.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def walkthrough() -> str:
    """The first ```sh block under "## Five-minute walkthrough"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Five-minute walkthrough\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```sh\n(.*?)^```$", section, re.S | re.M)
    assert found, "no ```sh block in the README's walkthrough"
    return found.group(1)


@pytest.mark.timeout(600)
def test_the_walkthrough_runs_pasted_whole(tmp_path: Path) -> None:
    script = walkthrough()
    home = tmp_path / "sandbox"
    env = {**os.environ, "LINKAGE_HOME": str(home), "HOME": str(tmp_path), "LINKAGE_PORTS": "auto",
           "LINKAGE_CITIZENS": "500"}
    try:
        run = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=540,
                             env=env)
    finally:
        subprocess.run([sys.executable, "-m", "linkage.cli", "down", "--home", str(home)], capture_output=True,
                       timeout=90, env=env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    env_lines = dict(re.findall(r"^export (\w+)=(\S+)", run.stdout, re.M))
    assert env_lines["LINKAGE_HOME"] == str(home) and ":7443" not in env_lines["HUB_ADDRESS"]
    for expected in (f"linkage sandbox is up in {home}",
                     # how the counter's officer signs in: their passkey, registered with the code printed
                     f"officer:   {env_lines['OFFICER']} of phrae-municipality: register a passkey at"
                     f" {env_lines['COUNTER_URL']}enrol with code",
                     "signed in: session",  # the card's sign-in, each fetch
                     f"endpoints: {home / 'endpoints.json'}",
                     "all 7 components healthy",
                     f'"subject_id": "{env_lines["ID_ORDINARY"]}"',
                     "VALID: printout",
                     "refused (PERMISSION_DENIED, no_right)", "refused, as it should be (exit 1)",
                     "OK: linkage.sandbox/",
                     # the person and, with the citizen's card, the card; the refused one is not logged
                     f"access history of {env_lines['ID_ORDINARY']}: 2 record(s)",
                     f"linkage sandbox in {home} stopped"):
        assert expected in out, f"{expected!r} not in the output:\n{out}"
    # Nothing outside the sandbox's folder (and HOME) was written to: the printout is in the sandbox.
    assert (home / "printout.json").exists() and not (ROOT / "printout.json").exists()
    assert not (home / "endpoints.json").exists()  # stopped
    assert "Traceback" not in out and "start it with" not in out
