"""Each server's own section of linkage.toml: where it listens and how it behaves.

    [hub]                 HubConfig: address, issuer, the provider hop's deadline, retries and breaker, officer sessions
    [providers.NAME]      ProviderConfig: a registry's address and the document types it serves
    [counter], [payments] CounterConfig (PaymentsConfig): the counter web app, the mock payment switch
    [tsa]                 TsaConfig: the time-stamping authority
    [witnesses.NAME]      WitnessConfig: a witness of the log

and HOST:PORT as these addresses are written (split_address, join_address). linkage/config.py reads the file into
them, beside the rights table (agencies, revocations) that a running server follows; these take effect on restart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CounterConfig",
    "HubConfig",
    "PaymentsConfig",
    "ProviderConfig",
    "TsaConfig",
    "WitnessConfig",
    "join_address",
    "split_address",
]


@dataclass(frozen=True)
class HubConfig:
    host: str = "127.0.0.1"
    port: int = 7443
    issuer: str = "TH/GOV/DOPA/linkage-hub"
    provider_timeout_ms: int = 3000
    # The log's name in its checkpoints (C2SP origin); unique per log.
    log_origin: str = "linkage.sandbox/exchange-log"
    # Resilience of the hub -> provider hop (linkage/hub/routing.py): retries of idempotent reads on
    # UNAVAILABLE, at most retry_budget_percent extra calls; a provider's circuit opens after
    # breaker_failures consecutive failures and lets a probe through after breaker_cooldown_ms.
    provider_retries: int = 2
    retry_budget_percent: int = 10
    breaker_failures: int = 5
    breaker_cooldown_ms: int = 5000
    # "required" (the default): every printout and card check names an officer session, signed in with the
    # officer's own key (linkage/hub/officers.py). "optional", for clients not yet moved to sessions: a bare
    # officer_id is still accepted, on the agency's word, for an officer who holds no key in pki/officer-keys.json.
    officer_sessions: str = "required"
    # Passkeys (linkage/hub/passkeys.py): the WebAuthn relying party, and the counter origins whose assertions
    # count (default: http://localhost:PORT of [counter]).
    webauthn_rp_id: str = "localhost"
    webauthn_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from linkage.config import ConfigError  # here: linkage.config imports this module

        if self.officer_sessions not in ("optional", "required"):
            raise ConfigError(f'[hub] officer_sessions must be "optional" or "required", got {self.officer_sessions!r}')
        for key, low, high in (("provider_timeout_ms", 1, 600_000), ("provider_retries", 0, 5),
                               ("retry_budget_percent", 0, 100), ("breaker_failures", 1, 1_000_000),
                               ("breaker_cooldown_ms", 1, 3_600_000)):
            if not low <= getattr(self, key) <= high:
                raise ConfigError(f"[hub] {key} must be between {low} and {high}, got {getattr(self, key)}")


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 0
    doc_types: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class CounterConfig:
    """Where `linkage up` starts the counter web app (its other settings are LINKAGE_COUNTER_* variables), or the
    mock payment switch ([payments], PaymentsConfig, port 8090)."""

    host: str = "127.0.0.1"
    port: int = 8080

    @property
    def address(self) -> str:
        return join_address(self.host, self.port)


PaymentsConfig = CounterConfig


@dataclass(frozen=True)
class TsaConfig:
    """Where `linkage up` starts the time-stamping authority (linkage/tsa/: RFC 3161, and the CA's CRL).
    No [tsa] (a sandbox made before it): any free port, so as not to collide with another sandbox's."""

    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class WitnessConfig:
    """A witness of the hub's log (C2SP tlog-witness): where it listens; its key is DIR/pki/witnesses/NAME.vkey."""

    name: str
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def url(self) -> str:
        """Its submission prefix: POST <url>/add-checkpoint."""
        return f"http://{join_address(self.host, self.port)}"


def split_address(address: str) -> tuple[str, int]:
    """"host:port" (or "[v6]:port") as (host, port); raises ValueError when it is not that, port 1-65535."""
    host, sep, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not HOST:PORT")
    return host, int(port)


def join_address(host: str, port: int) -> str:
    """HOST:PORT, with an IPv6 host in brackets: the inverse of split_address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
