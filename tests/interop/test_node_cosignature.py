"""The cosignature known answer checked by another implementation: Node's crypto (Ed25519, SHA-256), reading the
vector file the way C2SP tlog-cosignature describes it, apart from linkage/cosignature.py. Needs ``node`` only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
VECTORS = HERE.parent / "witness" / "vectors" / "cosignature-v1.json"


def test_node_verifies_the_known_answer_cosignature() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: install Node.js >= 20")
    done = subprocess.run([node, str(HERE / "verify_cosignature.mjs"), str(VECTORS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout)
    assert found == {"type": 4, "key_id_matches": True, "timestamp": json.loads(VECTORS.read_text())["timestamp"],
                     "message_matches": True, "verifies": True}
