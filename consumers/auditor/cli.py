"""The ``linkage verify`` command's body; the argparse main lives in ``linkage.cli``.

Exit codes: 0 the printout is valid, 1 it is readable but invalid (each failed
check is named), 2 the printout or the CA certificate cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Final, TextIO

from consumers.auditor.bundle import load_printout
from consumers.auditor.errors import VerificationError
from consumers.auditor.verify import load_trust_root, verify_printout

__all__ = ["EXIT_INVALID", "EXIT_UNREADABLE", "EXIT_VALID", "run_verify"]

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_UNREADABLE: Final = 2


def run_verify(path: Path, ca_cert: Path, *, as_json: bool = False,
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Verify the printout file at ``path`` against the CA certificate ``ca_cert``.

    Writes the report to ``out`` (stdout), as JSON if ``as_json``; writes why the
    input was unreadable to ``err`` (stderr). Returns the exit code; raises nothing
    about its inputs.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        root = load_trust_root(ca_cert)
        report = verify_printout(load_printout(path), root)
    except VerificationError as exc:
        print(f"linkage verify: อ่านไม่ได้ / unreadable: {exc.message}", file=err)
        if as_json:
            print(json.dumps({"valid": False, "error": exc.code, "message": exc.message},
                             ensure_ascii=False, indent=2), file=out)
        return EXIT_UNREADABLE
    print(report.to_json() if as_json else report.render(), file=out)
    return EXIT_VALID if report.valid else EXIT_INVALID
