"""Known-answer vectors of transparency-dev/merkle, carried in tests/merkle/vectors (Apache-2.0; see its README.md).

One test per vector file. A vector with ``wantErr: false`` must verify; one
with ``wantErr: true`` must be rejected with a ``MerkleError`` (and nothing
else). A missing vector folder is a failure, not a skip.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from linkage.merkle import MerkleError, verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parent / "vectors"


def _cases(kind: str) -> list[Any]:
    folder = VECTORS / kind
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        # An empty parametrization would be skipped; a sentinel case fails loudly instead.
        return [pytest.param(None, id=f"{kind}-vectors-missing")]
    return [pytest.param(path, id=path.relative_to(folder).with_suffix("").as_posix()) for path in files]


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(
            f"Merkle known-answer vectors not found: expected inclusion/ and consistency/ JSON files under "
            f"{VECTORS}"
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_vector(path: Path | None) -> None:
    v = _load(path)
    leaf, root, proof = _b64(v["leafHash"]), _b64(v["root"]), _proof(v["proof"])
    if v["wantErr"]:
        with pytest.raises(MerkleError):
            verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof, root)
    else:
        verify_inclusion(leaf, v["leafIdx"], v["treeSize"], proof, root)


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_vector(path: Path | None) -> None:
    v = _load(path)
    root1, root2, proof = _b64(v["root1"]), _b64(v["root2"]), _proof(v["proof"])
    if v["wantErr"]:
        with pytest.raises(MerkleError):
            verify_consistency(v["size1"], v["size2"], proof, root1, root2)
    else:
        verify_consistency(v["size1"], v["size2"], proof, root1, root2)
