"""The counter's settings come from the sandbox's linkage.toml ([counter] host and port, [hub] address) with
LINKAGE_* variables over them; the default agency is one constant that `linkage env` uses too."""

from __future__ import annotations

import pytest

from consumers.counter.settings import DEFAULT_AGENCY, CounterSettings
from linkage.cli.env import counter_officer
from linkage.config import Home, load_settings


@pytest.fixture
def home(sandbox_home: Home, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A copy of the sandbox's linkage.toml whose [counter] listens on all addresses, port 18080."""
    for name in ("LINKAGE_COUNTER_HOST", "LINKAGE_COUNTER_PORT", "LINKAGE_COUNTER_HUB", "LINKAGE_COUNTER_AGENCY",
                 "LINKAGE_HUB_HOST", "LINKAGE_HUB_PORT"):
        monkeypatch.delenv(name, raising=False)
    text = sandbox_home.config_file.read_text(encoding="utf-8")
    assert '[counter]\nhost = "127.0.0.1"\nport = 8080\n' in text
    copy = Home(tmp_path_factory.mktemp("counter-home"))
    copy.config_file.write_text(text.replace('[counter]\nhost = "127.0.0.1"\nport = 8080\n',
                                             '[counter]\nhost = "0.0.0.0"\nport = 18080\n'), encoding="utf-8")
    return copy


def test_host_and_port_come_from_linkage_toml(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = CounterSettings.from_env(home)
    hub = load_settings(home).hub
    assert (settings.host, settings.port) == ("0.0.0.0", 18080)
    assert settings.hub_address == f"{hub.host}:{hub.port}" and settings.agency == DEFAULT_AGENCY
    # The variables still win, as for every [counter] key.
    monkeypatch.setenv("LINKAGE_COUNTER_HOST", "127.0.0.2")
    monkeypatch.setenv("LINKAGE_COUNTER_PORT", "18081")
    settings = CounterSettings.from_env(home)
    assert (settings.host, settings.port) == ("127.0.0.2", 18081)


def test_linkage_env_names_an_officer_of_the_counters_default_agency(home: Home) -> None:
    found = counter_officer(load_settings(home))
    assert found is not None and found[0] == DEFAULT_AGENCY
    assert found[1] in load_settings(home).agencies[DEFAULT_AGENCY].officers
