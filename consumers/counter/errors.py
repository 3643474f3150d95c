"""The counter's error tree. Every page error carries a Thai and an English message, never exception text.

    CounterError                 code (stable snake_case), status (HTTP), message_th, message_en
    ├── ManualError              a citizen's manual file is wrong: file, line and problem; refused at start
    ├── PageNotFound             404: no such service, case or page
    ├── BadForm                  400: a form the page cannot act on (e.g. a revocation without a reason)
    ├── CsrfRejected             403: the form's CSRF token is missing or wrong
    ├── Forbidden                403: signed in, but not allowed (e.g. not the office head)
    ├── Conflict                 409: the thing asked for is closed (e.g. the fee of a paid application)
    ├── TooManyAttempts          429: too many failed card checks (/me)
    └── ServiceUnavailable       503: a part the page needs is missing (e.g. the certified printout)
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

__all__ = ["BadForm", "Conflict", "CounterError", "CsrfRejected", "Forbidden", "ManualError", "PageNotFound",
           "ServiceUnavailable", "TooManyAttempts"]


class CounterError(Exception):
    """Base of the counter's own errors."""

    status: ClassVar[int] = 500

    def __init__(self, code: str, message_th: str, message_en: str) -> None:
        super().__init__(f"{message_th} / {message_en}")
        self.code = code
        self.message_th = message_th
        self.message_en = message_en


class ManualError(CounterError):
    """A manual file cannot be used; ``str()`` reads ``FILE:LINE: problem``."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__("manual_invalid", f"คู่มือสำหรับประชาชนไม่ถูกต้อง: {path}:{line}: {problem}",
                         f"invalid citizen's manual: {path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


class PageNotFound(CounterError):
    status = 404


class BadForm(CounterError):
    status = 400


class CsrfRejected(CounterError):
    status = 403

    def __init__(self) -> None:
        super().__init__("csrf_rejected",
                         "แบบฟอร์มนี้หมดอายุหรือไม่ได้มาจากระบบเคาน์เตอร์ กรุณาเปิดหน้าเดิมใหม่แล้วส่งอีกครั้ง",
                         "This form has expired or did not come from the counter; reload the page and send it again.")


class Forbidden(CounterError):
    status = 403


class Conflict(CounterError):
    status = 409


class TooManyAttempts(CounterError):
    status = 429


class ServiceUnavailable(CounterError):
    """503: something the page needs is not there (e.g. the certified printout library)."""

    status = 503
