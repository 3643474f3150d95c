"""Crash safety: kill -9 the hub, a registry or the counter in the middle of a load, restart it, prove nothing was lost.

``scripts/crash.py`` runs it for many rounds; ``tests/test_crash.py`` runs a short version in the default suite.

The sandbox runs as ``linkage up`` runs it (each registry, the hub and the counter in a
process of its own, real mTLS, the exchange log and the counter's cases in SQLite with WAL
and synchronous=FULL). Each round starts a load: concurrent FetchDocument and
FetchDocuments calls (one ``HubClient``, every printout verified on receipt, every request
with a case_ref of its own) and officers at the counter (HTTP, as a browser: sign in, open
cases, file complaints). It kills one process with SIGKILL in the middle of it, starts it
again on the same port, waits until a call through it succeeds, lets the load run a little
longer, stops the load, and checks, through the restarted hub's AuditLog service and the
counter's file:

  1. the log's tree, recomputed from every entry, has the root of the newest signed checkpoint;
  2. every checkpoint any client saw before (in a printout's proof or from GetCheckpoint) is a
     prefix of it: same root at its size, no size beyond the log (no rollback), and the hub's
     consistency proof from the newest one seen to the new head verifies;
  3. every printout a client received is in the log exactly once, found by its digest
     (``seal.printout_digest``, the leaf's ``printout_sha256``), at the index it was told, and the
     entry names what its sealed payload says (agency, officer, type, purpose, case, time); the
     counter is a client too: every printout its cases hold;
  4. no entry for a document the hub refused (it said it issued nothing), none twice for one
     request, none for a request that was never sent; entries for requests whose answer was lost
     in the crash are allowed: they are counted as orphans, per round (the counter's too: a case
     document marked interrupted, or lost on the way from the hub);
  5. the log file passes ``PRAGMA integrity_check``; the registries' files are byte-for-byte what
     they were and answer the same records as before;
  6. the counter's file passes ``integrity_check``; every case an officer saw opened is there
     with the printouts the page showed, and opens again after sign-in; every case has one
     document slot per linked type of its service and its report row agrees with them; every
     complaint whose number was shown is there as filed.

    ledger.py    what the clients and the officers' browsers saw (Ledger, Counter)
    checks.py    checks 1-6 against the log and the counter's file (check_log, check_counter, CounterDisk)
    harness.py   the sandbox, its load, the kills and restarts, a round (Crash, Options, RoundRow, run)
    sandbox.py   which sandbox a script runs: --home, --citizens, --seed (scripts/soak.py uses it too)
"""

from tests.crash.checks import COUNTER_LOST, CounterDisk, CounterSlot, LogCheck, check_counter, check_log
from tests.crash.harness import AGENCY, PURPOSE, REGISTRY_TARGETS, Crash, Options, RoundRow, csrf_token, run
from tests.crash.ledger import Counter, Key, Ledger, Received
from tests.crash.sandbox import add_sandbox_arguments, sandbox_home

__all__ = [
    "AGENCY",
    "COUNTER_LOST",
    "PURPOSE",
    "REGISTRY_TARGETS",
    "Counter",
    "CounterDisk",
    "CounterSlot",
    "Crash",
    "Key",
    "Ledger",
    "LogCheck",
    "Options",
    "Received",
    "RoundRow",
    "add_sandbox_arguments",
    "check_counter",
    "check_log",
    "csrf_token",
    "run",
    "sandbox_home",
]
