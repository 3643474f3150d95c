"""The `linkage` command and the operator tools: one module per command group.

    main.py         the entry point: the parser, init/up/serve-*, fetch/verify/audit/revoke
    common.py       what every command shares (the --home flag)
    sandbox.py      make a sandbox and start its stack (registries, hub replicas, counter)
    agencies.py     linkage agency add | revoke | list | renew (onboarding.py: what they do)
    keys.py         linkage keys rotate | list
    faults.py       linkage faults (fault injection into a running registry)
    status.py       linkage status
    bench.py        linkage bench
    conformance/    linkage conformance (the kit that checks a ProviderService)

This package is the only one that imports ``providers`` and ``consumers``
(tests/test_layers.py keeps it so).
"""
