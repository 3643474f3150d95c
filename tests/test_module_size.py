"""No hand-written module over 500 lines: a module that grows past it holds more than one idea, and is split
along the boundary between them (issue 10). Generated code (linkage/v1, made by scripts/gen_proto.py) is left out.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 500
TREES = ("linkage", "providers", "consumers", "scripts", "tests")
GENERATED = (ROOT / "linkage" / "v1",)
# Installed, not written here: the interop test's npm packages.
INSTALLED = (ROOT / "tests" / "interop" / "node_modules",)


def _lines(path: Path) -> int:
    """Lines as ``wc -l`` counts them (newlines)."""
    return path.read_bytes().count(b"\n")


def hand_written(root: Path = ROOT) -> list[Path]:
    """Every .py file under the trees, without generated or installed code."""
    skip = [root / p.relative_to(ROOT) for p in (*GENERATED, *INSTALLED)]
    return sorted(p for top in TREES for p in (root / top).rglob("*.py")
                  if not any(p.is_relative_to(s) for s in skip))


def oversized(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``file: N lines`` for each module over LIMIT, largest first."""
    sizes = sorted(((_lines(p), p) for p in paths), key=lambda x: (-x[0], x[1]))
    return [f"{p.relative_to(root)}: {n} lines" for n, p in sizes if n > LIMIT]


def test_no_hand_written_module_is_over_500_lines() -> None:
    modules = hand_written()
    assert len(modules) > 100, "the walk found too few modules"
    too_big = oversized(modules)
    assert not too_big, (f"modules over {LIMIT} lines (split each along the line between its ideas):\n  "
                         + "\n  ".join(too_big))


def test_generated_and_installed_code_is_left_out_and_the_count_is_wc_l(tmp_path: Path) -> None:
    for tree in (*TREES, "linkage/v1", "tests/interop/node_modules/pkg"):
        (tmp_path / tree).mkdir(parents=True, exist_ok=True)
    big = "x = 1\n" * (LIMIT + 1)
    (tmp_path / "linkage" / "v1" / "hub_pb2.py").write_text(big)
    (tmp_path / "tests" / "interop" / "node_modules" / "pkg" / "gen.py").write_text(big)
    (tmp_path / "providers" / "ok.py").write_text("x = 1\n" * LIMIT)
    (tmp_path / "consumers" / "big.py").write_text(big)
    found = hand_written(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["consumers/big.py", "providers/ok.py"]
    assert oversized(found, tmp_path) == [f"consumers/big.py: {LIMIT + 1} lines"]
