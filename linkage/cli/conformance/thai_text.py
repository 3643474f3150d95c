"""The thai_text check: Thai fields hold Thai letters, in NFC, without mojibake or U+FFFD.

Looks at Describe's titles and at every string of every record valid_ids fetched; keys ending in _th
(and fields whose English title says "(Thai)") must hold Thai text.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from linkage.cli.conformance.calls import clip
from linkage.cli.conformance.state import SuiteState, needs_doc_types

__all__ = ["THAI_LETTER", "check_thai_text"]

THAI_LETTER = re.compile(r"[\u0e01-\u0e5b]")
# UTF-8 Thai (E0 B8 xx / E0 B9 xx) read as Latin-1 or Windows-1252, and as TIS-620 / Windows-874.
_MOJIBAKE = ((re.compile("\u00e0[\u00b8\u00b9]"), "UTF-8 read as Latin-1/Windows-1252", ("cp1252", "latin-1")),
             (re.compile(r"(?:เ[ธน].){2,}"), "UTF-8 read as TIS-620/Windows-874", ("cp874",)))


def _text_problems(where: str, text: str, thai: bool) -> list[str]:
    """What is wrong with one string that should have come through intact (and be Thai when thai)."""
    shown = clip(text, 40)
    for pattern, how, encodings in _MOJIBAKE:
        if pattern.search(text):
            fixed = ""
            for encoding in encodings:
                with contextlib.suppress(UnicodeError):
                    fixed = f"; it should read {clip(text.encode(encoding).decode('utf-8'), 40)!r}"
                    break
            return [f"{where} {shown!r}: mojibake ({how}){fixed}"]
    if "\ufffd" in text:
        return [f"{where} {shown!r}: contains U+FFFD, so characters were lost in decoding"]
    problems = []
    if not unicodedata.is_normalized("NFC", text):
        problems.append(f"{where} {shown!r}: not in NFC (marks out of canonical order); expected"
                        f" {clip(unicodedata.normalize('NFC', text), 40)!r}")
    if thai and text.strip() and not THAI_LETTER.search(text):
        problems.append(f"{where} {shown!r}: a Thai field without a Thai letter")
    return problems


def _ordered(data: dict[str, Any], names: Sequence[str]) -> list[tuple[str, Any]]:
    """data's items in Describe's field order, then any others by name: a Struct's keys come in no fixed order."""
    return [(k, data[k]) for k in names if k in data] + sorted((k, v) for k, v in data.items() if k not in names)


def _strings(value: Any, path: str, thai: bool) -> Iterable[tuple[str, str, bool]]:
    """(path, text, must be Thai) for every string in value; keys ending in _th mark Thai text."""
    if isinstance(value, str):
        yield path, value, thai
    elif isinstance(value, dict):
        for k, v in sorted(value.items()):  # a Struct's keys come in no fixed order
            yield from _strings(v, f"{path}.{k}", k.endswith("_th"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", thai)


@needs_doc_types
async def check_thai_text(suite: SuiteState) -> tuple[str, list[str]]:
    problems: list[str] = []
    checked = thai_seen = 0
    for t in suite.doc_types:
        texts = [(f"Describe {t.code} title_th", t.title_th, True), (f"Describe {t.code} title_en", t.title_en, False)]
        texts += [(f"Describe {t.code} field {f.name} title_th", f.title_th, True) for f in t.fields]
        for where, text, thai in texts:
            checked += 1
            problems += _text_problems(where, text, thai)
    specs = {t.code: {f.name: f for f in t.fields} for t in suite.doc_types}
    for (code, subject), data in suite.records.items():
        for key, value in _ordered(data, list(specs[code])):
            spec = specs[code].get(key)
            thai = key.endswith("_th") or (spec is not None and "(Thai)" in spec.title_en)
            for path, text, must in _strings(value, key, thai):
                checked += 1
                thai_seen += bool(THAI_LETTER.search(text))
                problems += _text_problems(f"{code} {subject} {path}", text, must)
    if not problems and suite.records and not thai_seen:
        problems.append("no record held any Thai text: expected Thai names or addresses in the sample records")
    return f"{checked} strings intact, {thai_seen} with Thai text, all NFC", problems

