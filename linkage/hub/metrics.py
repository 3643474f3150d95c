"""The hub's metrics: the calls of every server (linkage/metrics.py) and gauges of its own.

    linkage_provider_circuit_state{provider, state}   1 for the state each provider's circuit breaker is in
    linkage_log_size                                  entries in the exchange log
    linkage_log_checkpoint_age_seconds                seconds since the newest checkpoint was signed
    linkage_log_integrating                           1 while this hub integrates the log (of replicas: one)

Each call is also one line of the ``linkage.hub.requests`` log (linkage/logs.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

from linkage.hub.routing import Circuit
from linkage.hub.rules import Hub
from linkage.logs import RequestLog
from linkage.metrics import ServerMetrics

__all__ = ["hub_metrics"]


def hub_metrics(hub: Hub) -> ServerMetrics:
    """The hub's metrics: calls by agency and document type, circuit breaker per provider, the exchange log's
    size and the age of its newest checkpoint.

    The age counts from when this process first saw that checkpoint (every checkpoint is signed inside
    a call, so from that call's end; one restored at start counts from the start).
    """

    def known_caller(name: str) -> bool:
        settings = hub.last_settings  # as the call's admission just read them: no second stat() of linkage.toml
        return name in settings.agencies or name in settings.revoked

    # Providers and their document types are fixed until the hub restarts (LiveSettings follows agencies only).
    doc_types = frozenset(t for provider in hub.settings.providers.values() for t in provider.doc_types)
    # One line per call, in the format of linkage/logs.py.
    metrics = ServerMetrics(known_caller=known_caller, doc_types=doc_types,
                            log=RequestLog(logging.getLogger("linkage.hub.requests")))
    clock = _CheckpointClock(hub)
    metrics.after_call(clock.touch)

    def collect() -> Iterator[Metric]:
        states = GaugeMetricFamily("linkage_provider_circuit_state",
                                   "1 for the state each provider's circuit breaker is in (closed, open, half_open).",
                                   labels=("provider", "state"))
        for provider, state in sorted(hub.router.circuits().items()):
            for each in Circuit:
                states.add_metric((provider, each.value), 1.0 if each is state else 0.0)
        yield states
        yield GaugeMetricFamily("linkage_log_size", "Entries in the exchange log.", value=hub.log.size)
        clock.touch()
        yield GaugeMetricFamily("linkage_log_checkpoint_age_seconds",
                                "Seconds since the exchange log's newest checkpoint was signed (or the hub started).",
                                value=round(time.time() - clock.at, 3))
        yield GaugeMetricFamily("linkage_log_integrating",
                                "1 while this hub integrates entries into the log and signs its checkpoints"
                                " (of hub replicas sharing a log, the one holding its lock).",
                                value=1.0 if hub.log.leading else 0.0)

    metrics.add_collector(collect)
    return metrics


@dataclass
class _CheckpointClock:
    hub: Hub
    at: float = 0.0
    seen: object = None

    def __post_init__(self) -> None:
        self.seen, self.at = self.hub.log.latest, time.time()

    def touch(self) -> None:
        latest = self.hub.log.latest
        if latest is not self.seen:
            self.seen, self.at = latest, time.time()
