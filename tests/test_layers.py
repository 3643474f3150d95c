"""Imports run one way: the layers of docs/architecture.md, checked over every import of every module.

An AST walk, so imports inside functions and under ``TYPE_CHECKING`` count as much as those at the top;
relative imports are resolved against the importing package. A failure names the file, the line and the rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# (package the rule applies to, packages it may not import, except inside these sub-packages)
RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("linkage", ("providers", "consumers", "linkage.cli"), ("linkage.cli",)),
    # The witness is a server of its own beside the hub: it trusts the log's signatures, never the hub's code.
    ("linkage.witness", ("linkage.hub",), ()),
    # The time-stamping authority too: a server of its own that signs times, knowing nothing of the hub.
    ("linkage.tsa", ("linkage.hub", "linkage.witness"), ()),
    ("providers", ("consumers", "linkage.cli", "linkage.hub"), ()),
    # The mock payment switch is an outside service beside the registries, not one of them: the core only.
    ("providers.payswitch", ("providers.registry", "providers.server", "providers.store", "providers.faults",
                             "providers.synth", "providers.dopa", "providers.dbd", "providers.edu"), ()),
    ("providers", ("providers.payswitch",), ("providers.payswitch",)),
    ("consumers", ("providers", "linkage.cli", "linkage.hub"), ()),
    ("consumers.auditor", ("consumers.counter", "consumers.client"), ()),
    ("consumers.client", ("consumers.counter",), ()),
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, at any depth."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from linkage import cli`` imports the package linkage.cli
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _sources() -> list[Path]:
    return sorted(p for top in ("linkage", "providers", "consumers") for p in (ROOT / top).rglob("*.py")
                  if "v1" not in p.relative_to(ROOT).parts)


def violations(paths: list[Path]) -> list[str]:
    """Every import that breaks a rule, as ``file:line: module imports target (rule)``."""
    out: list[str] = []
    seen: set[tuple[Path, int, str]] = set()
    for path in paths:
        module = _module(path)
        for line, target in _imports(path):
            for package, forbidden, exempt in RULES:
                if not _within(module, package) or any(_within(module, e) for e in exempt):
                    continue
                for banned in forbidden:
                    if _within(target, banned) and (path, line, banned) not in seen:
                        seen.add((path, line, banned))
                        out.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target}"
                                   f" ({package} must not import {banned})")
    return out


def test_imports_run_one_way() -> None:
    sources = _sources()
    assert len(sources) > 50, "the walk found too few modules"
    assert violations(sources) == []


@pytest.mark.parametrize(("source", "expected"), [
    ("import consumers.counter.app\n", "consumers.auditor must not import consumers.counter"),
    ("def f():\n    from linkage.hub import rules\n", "consumers must not import linkage.hub"),
    ("from ..client import HubClient\n", "consumers.auditor must not import consumers.client"),
    ("from linkage import cli\n", "consumers must not import linkage.cli"),
])
def test_the_walk_catches_imports_at_any_depth(tmp_path: Path, source: str, expected: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A module placed as consumers/auditor/probe.py of a copy of the tree's shape.
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    probe = tmp_path / "consumers" / "auditor" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(source, encoding="utf-8")
    found = violations([probe])
    assert found and expected in found[0] and found[0].startswith("consumers/auditor/probe.py:")


def test_cli_may_import_everything() -> None:
    cli = ROOT / "linkage" / "cli" / "main.py"
    assert violations([cli]) == []
    assert any(_within(t, "consumers") for _, t in _imports(cli))
