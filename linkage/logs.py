"""One log format for every server: JSON lines on stderr, one object per record.

    {"time": "2026-05-09T07:35:25.123Z", "level": "INFO", "logger": "linkage.hub.requests", "server": "hub",
     "message": "LinkageHub/FetchDocument OK", "method": "LinkageHub/FetchDocument", "agency": "phrae-hospital",
     "doc_type": "dopa.person", "code": "OK", "reason": "", "duration_ms": 12.345}

``time`` is RFC 3339 in UTC with milliseconds; ``level`` the logging level's name; ``logger`` the name of
the logger; ``server`` which process wrote the line (left out where ``configure_logging`` names none);
``message`` the text; then every field the call passed with ``extra=``, in its order; last, ``exc``: the
traceback of a failure logged with ``exc_info`` (``logger.exception``). Text stays UTF-8 (Thai is not
escaped); a value JSON cannot hold is written as its ``str()``.

Every server writes one request line per call it answers, successes and failures alike, through a
``RequestLog`` (linkage/metrics.py writes them where it counts the call): the hub and the registries carry
``method, agency, doc_type, code, reason, duration_ms`` (``code`` the gRPC status name, ``reason`` the
snake_case ErrorInfo reason, i.e. the error's ``code``: names kept as the metrics label them); the counter
``method, route, status, reason, duration_ms``. Their values come from the same closed lists as the
metrics' labels, never from what a caller typed, so no ID or name of a person can appear in them. A call
the server itself failed (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED …, or HTTP 5xx) is a WARNING, any
other an INFO.

Library modules only ever ask for loggers; ``configure_logging`` is called by the command line's entry
points alone (linkage/cli/main.py: ``serve-hub``, ``serve-provider``, ``serve-counter``, ``up`` and the
other commands).

The standard library's ``logging`` is enough for this (one formatter of a few dozen lines), so there is no
dependency to keep: python-json-logger went unmaintained from 2023 until its PyPI name passed to a new
maintainer in 2024 (3.x, a new repository), and structlog, although well kept, would change how every
module logs rather than how the lines are written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TextIO

__all__ = ["LEVELS", "JsonLines", "RequestLog", "configure_logging", "server_failed"]

# What --log-level and LINKAGE_LOG_LEVEL accept.
LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                 "error": logging.ERROR}

# gRPC statuses that say the server (or what it depends on) failed, not the caller.
_SERVER_FAILURES: Final = frozenset({"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS"})
# The attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime",
                                                                                        "taskName"}
# Marks the handler configure_logging installs, so that calling it again replaces that one only.
_OURS: Final = "_linkage_json_lines"


def server_failed(code: str | int) -> bool:
    """Whether a call's outcome (a gRPC status name, or an HTTP status) is the server's failure."""
    return code >= 500 if isinstance(code, int) else code in _SERVER_FAILURES


class JsonLines(logging.Formatter):
    """Formats a record as one JSON object on one line (the module docstring); ``fields`` go on every line,
    after ``logger``."""

    def __init__(self, fields: Mapping[str, object] | None = None) -> None:
        super().__init__()
        self._fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, object] = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            **self._fields,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            # Cached on the record, as logging.Formatter does, for any other handler of it.
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: int | str = logging.INFO, *, server: str = "", stream: TextIO | None = None,
                      ) -> logging.Handler:
    """Send every record of this process at level or above to stream (default stderr) as JSON lines.

    For the command line's entry points only (never a library function): it sets the root logger's level
    and replaces the handler an earlier call installed (handlers installed by others, e.g. a test's, stay).
    Python's warnings go to the log too. server names the process on every line ("hub", "dopa", "counter").
    Returns the handler. Raises ValueError for a level name not in LEVELS.
    """
    if isinstance(level, str):
        if level.lower() not in LEVELS:
            raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
        level = LEVELS[level.lower()]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLines({"server": server} if server else None))
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler


@dataclass(frozen=True)
class RequestLog:
    """Where one server writes its request lines, and fields that every one of them carries
    (e.g. ``{"provider": "dopa"}``)."""

    logger: logging.Logger
    fields: Mapping[str, object] = field(default_factory=dict)

    def write(self, message: str, fields: Mapping[str, object], *, failed: bool) -> None:
        """One request line: a WARNING if the server failed the call, else an INFO."""
        level = logging.WARNING if failed else logging.INFO
        if self.logger.isEnabledFor(level):
            self.logger.log(level, message, extra={**self.fields, **fields})
