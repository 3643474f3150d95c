"""The `linkage` command and the operator tools: one module per command group.

    main.py         the entry point: the parser, logging, init/up, fetch/verify/audit/revoke
    common.py       what every command shares (the --home flag)
    sandbox.py      make a sandbox and start its stack (registries, hub replicas, counter)
    serve.py        linkage serve-hub | serve-provider | serve-counter (one server in the foreground)
    agencies.py     linkage agency add | revoke | list | renew (onboarding.py: what they do)
    keys.py         linkage keys rotate | list
    faults.py       linkage faults (fault injection into a running registry)
    status.py       linkage status
    bench.py        linkage bench
    conformance/    linkage conformance (the kit that checks a ProviderService)

This package is the only one that imports ``providers`` and ``consumers``
(tests/test_layers.py keeps it so).
"""

import os

# grpc's C core writes lines of its own to stderr, outside Python's logging (one for every failed TLS
# handshake, for a start), which would break the servers' JSON lines (linkage/logs.py). It reads
# GRPC_VERBOSITY once, when grpc is first imported, so this is set before any import of it; ERROR keeps
# its real errors. An operator's own GRPC_VERBOSITY wins.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
