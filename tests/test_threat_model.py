"""THREAT_MODEL.md stays true: every reference in it names code and tests that exist, every threat has a proof."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "THREAT_MODEL.md"
REF = re.compile(r"`((?:linkage|providers|consumers|tests)/[\w/]+\.py)(?:::([\w.]+))?`")
ROW = re.compile(r"^\| ([A-Z]\d+) \|")


def _rows() -> list[tuple[str, str]]:
    rows = [(m.group(1), line) for line in DOC.read_text(encoding="utf-8").splitlines() if (m := ROW.match(line))]
    assert len(rows) >= 30, "THREAT_MODEL.md lost its tables"
    return rows


def _defined(path: Path) -> set[str]:
    """Every function and class in a module, methods as Class.method."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))
    return names


@pytest.mark.parametrize(("threat", "line"), _rows(), ids=[t for t, _ in _rows()])
def test_every_reference_exists_and_every_threat_has_a_test(threat: str, line: str) -> None:
    refs = REF.findall(line)
    proofs = [(p, n) for p, n in refs if p.startswith("tests/")]
    assert proofs, f"{threat}: no test proves the mitigation"
    for path, name in refs:
        file = ROOT / path
        assert file.is_file(), f"{threat}: {path} does not exist; fix THREAT_MODEL.md"
        defined = _defined(file)
        if name:
            assert name in defined, f"{threat}: {path} has no {name}; fix THREAT_MODEL.md"
        elif path.startswith("tests/"):
            assert any(n.startswith("test_") for n in defined), f"{threat}: {path} holds no test"
