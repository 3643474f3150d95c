"""The README is a door and docs/ the reference: both stay small, linked and true to the code.

README.md stays under 20 000 bytes and indexes every page of docs/; every relative link in README.md
and docs/*.md reaches a file (and, for a Markdown file, the heading it names); every path of the
repository they mention exists; docs/cli.md names every command, flag and LINKAGE_* variable the code
has; the README's table of errors names every class of the error tree with its gRPC status; every 13-digit
Thai ID an example uses has a right check digit.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from pathlib import Path

import grpc
import pytest

from linkage import errors
from linkage.cli.main import _parser
from linkage.ids import with_check_digit

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_BYTES = 20_000

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
# A path of this repository written in prose or code: it starts with a top-level folder of the repository.
_REPO_PATH = re.compile(r"(?<![\w/.~$<-])((?:linkage|providers|consumers|tests|scripts|proto|docs|\.ci)/[\w./*-]*)")
_ENV = re.compile(r"LINKAGE_[A-Z0-9_]+")
# A 13-digit personal or juristic ID, bare or dashed as printed on a card (1-4601-00000-00-1).
_THAI_ID = re.compile(r"(?<![0-9-])([0-9]{13}|[0-9]-[0-9]{4}-[0-9]{5}-[0-9]{2}-[0-9])(?![0-9-])")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans: what Markdown renders as links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _links(path: Path) -> list[str]:
    return _LINK.findall(_prose(path.read_text(encoding="utf-8")))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, only letters, marks, digits, '_', ' ' and '-', spaces as '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LMN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found: set[str] = set(_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        slug = _slug(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_the_readme_is_a_door_not_a_manual() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, (
        f"README.md is {size} bytes, more than {MAX_README_BYTES}: move the reference into a page of docs/")
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    assert headings[:2] == ["Two commands", "Five-minute walkthrough"], headings[:2]


def test_every_page_the_readme_links_exists_and_every_page_is_linked() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in _links(README)
              if not re.match(r"[a-z]+:", target) and not target.startswith("#")}
    for page in sorted(p for p in linked if p.parent == DOCS.resolve()):
        assert page.is_file(), f"README.md links {_name(page)}, which does not exist"
    for page in sorted(DOCS.glob("*.md")):
        assert page.resolve() in linked, (
            f"{_name(page)} is not linked from README.md: add it to the Documentation table")


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in _links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        assert where.exists(), f"{_name(page)}: the link ({target}) reaches no file"
        if anchor and where.suffix == ".md":
            assert anchor in _anchors(where), f"{_name(page)}: {_name(where)} has no heading for #{anchor}"


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "api.md"], ids=_name)  # api.md: tests/test_api_docs.py
def test_every_path_of_the_repository_mentioned_exists(page: Path) -> None:
    for mention in sorted(set(_REPO_PATH.findall(page.read_text(encoding="utf-8")))):
        path = mention.rstrip(".,")
        # a module may be named without .py (linkage/cli/conformance: a module or a package)
        found = list(ROOT.glob(path)) if "*" in path else [p for p in (ROOT / path, ROOT / f"{path}.py") if p.exists()]
        assert found, f"{_name(page)} mentions {path}, which does not exist: fix the path"


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """(command words, its long options) for every command and subcommand of the parser."""
    found: list[tuple[str, list[str]]] = []
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    if words:
        found.append((" ".join(words), options))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_commands(sub, (*words, name)))
    return found


def test_the_cli_page_names_every_command_and_flag() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = _parser()
    commands = _commands(parser)
    assert len(commands) >= 20, commands
    top = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    for words, options in [("", top), *commands]:
        if words:
            assert f"`linkage {words}" in page, f"docs/cli.md does not describe `linkage {words}`"
        for option in options:
            assert re.search(re.escape(option) + r"(?![\w-])", page), (
                f"docs/cli.md does not name {option} of `{f'linkage {words}'.strip()}`")


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    sources = [p for top in ("linkage", "providers", "consumers", "scripts") for p in (ROOT / top).rglob("*.py")
               if "v1" not in p.relative_to(ROOT).parts]
    names = {name for path in sources for name in _ENV.findall(path.read_text(encoding="utf-8"))}
    assert {"LINKAGE_HOME", "LINKAGE_DATABASE", "LINKAGE_COUNTER_PORT"} <= names, sorted(names)
    docs = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    for name in sorted(names):
        # LINKAGE_HUB_ (from an f-string) is documented as LINKAGE_HUB_<KEY>; LINKAGE_HUB must be itself
        pattern = re.escape(name) + ("" if name.endswith("_") else r"(?![A-Z0-9_])")
        assert re.search(pattern, docs), f"{name} is read by the code but named in no page of the docs"


def _status(cls: type[errors.LinkageError]) -> grpc.StatusCode:
    found = {value for attr in dir(cls) if isinstance(value := getattr(cls, attr), grpc.StatusCode)}
    assert len(found) == 1, (cls, found)
    return found.pop()


def test_the_readme_error_table_names_every_error_with_its_status() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Errors"):]
    rows = [line for line in section[:section.index("\n## ")].splitlines() if line.startswith("| ")]
    tree = [cls for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.LinkageError) and cls is not errors.LinkageError]
    assert len(tree) >= 10, tree
    for cls in tree:
        row = next((r for r in rows if f"`{cls.__name__}`" in r), None)
        assert row is not None, f"README.md's table of errors has no row for {cls.__name__}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == _status(cls).name, f"{cls.__name__} is {_status(cls).name}, the README says {cells[0]}"
        assert cells[2] == cls.side, f"{cls.__name__} is on the {cls.side} side, the README says {cells[2]}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_thai_id_in_an_example_has_its_check_digit(page: Path) -> None:
    # A pasted example with a wrong check digit is refused before it reaches the hub: it teaches nothing.
    found = {m.group(1) for m in _THAI_ID.finditer(page.read_text(encoding="utf-8"))}
    wrong = sorted(i for i in found if with_check_digit(i.replace("-", "")[:12]) != i.replace("-", ""))
    assert not wrong, f"{_name(page)}: IDs with a wrong check digit: {wrong}"
