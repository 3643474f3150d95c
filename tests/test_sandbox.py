"""`linkage init` and `linkage up` as a user runs them: real processes, real ports, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from linkage.config import Home
from linkage.thaiqr import BillPayment, bill_payment_payload
from tests.officers import card_args

FREE_PORTS = {"LINKAGE_HUB_PORT": "0", "LINKAGE_PROVIDERS_DOPA_PORT": "0", "LINKAGE_PROVIDERS_DBD_PORT": "0",
              "LINKAGE_PROVIDERS_EDU_PORT": "0", "LINKAGE_PROVIDERS_PROMPTPAY_PORT": "0", "LINKAGE_COUNTER_PORT": "0",
              "LINKAGE_WITNESSES_WITNESS1_PORT": "0", "LINKAGE_WITNESSES_WITNESS2_PORT": "0", "LINKAGE_TSA_PORT": "0",
              "LINKAGE_PAYMENTS_PORT": "0"}


def linkage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linkage.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = linkage("init", "--home", str(home), "--citizens", "200")
    assert first.returncode == 0, first.stderr
    ca = (home / "pki" / "ca.pem").read_bytes()
    again = linkage("init", "--home", str(home), "--citizens", "200")
    assert again.returncode == 2 and "--force" in again.stderr
    assert (home / "pki" / "ca.pem").read_bytes() == ca  # nothing touched
    forced = linkage("init", "--home", str(home), "--citizens", "200", "--force")
    assert forced.returncode == 0 and (home / "pki" / "ca.pem").read_bytes() != ca
    personas = json.loads((home / "personas.json").read_text(encoding="utf-8"))
    kinds = {p["kind"] for p in personas}
    assert kinds == {"citizen", "juristic"} and all({"id", "label", "doc_types"} <= set(p) for p in personas)
    assert not [p for p in home.iterdir() if p.name.startswith(".linkage-init-")]  # no staging left behind


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"linkage up exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("linkage up did not write endpoints.json in time")
        time.sleep(0.1)


def test_up_fetch_verify_and_stop(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home), "--citizens", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **FREE_PORTS})
    try:
        _wait_for(home / "endpoints.json", proc)
        endpoints = json.loads((home / "endpoints.json").read_text(encoding="utf-8"))
        assert set(endpoints["providers"]) == {"dopa", "dbd", "edu", "promptpay"}
        assert set(endpoints["witnesses"]) == {"witness1", "witness2"}
        assert all(w["url"].startswith("http://127.0.0.1:") and "+" in w["vkey"]
                   for w in endpoints["witnesses"].values())
        assert all(Path(p).is_absolute() for p in (endpoints["ca"], endpoints["personas"]))
        # The time-stamping authority is up, and serves the CA's CRL.
        with urllib.request.urlopen(endpoints["tsa"]["crl"], timeout=10) as crl:
            assert crl.headers["Content-Type"] == "application/pkix-crl" and crl.read().startswith(b"0\x82")
        muni = endpoints["agencies"]["phrae-municipality"]
        assert Path(muni["cert"]).exists() and muni["officers"]
        personas = json.loads(Path(endpoints["personas"]).read_text(encoding="utf-8"))
        citizen = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
        out = tmp_path / "printout.json"
        # The officer signs in with the card `linkage init` issued them (its PIN in the sandbox's file beside it).
        card = card_args(Home(home), "phrae-municipality", muni["officers"][0])
        fetched = linkage("fetch", "--home", str(home), "--agency", "phrae-municipality", *card,
                          "--doc-type", "dopa.person", "--id", citizen, "--purpose", "ทดสอบ", "--out", str(out))
        assert fetched.returncode == 0, fetched.stderr
        assert json.loads(fetched.stdout)["subject_id"] == citizen
        verified = linkage("verify", str(out), "--home", str(home))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # The running sandbox's two witnesses cosigned a checkpoint holding it: 2 of 2, the default quorum.
        assert "[8] ✓ witness cosignatures" in verified.stdout and "2 of 2 known" in verified.stdout
        assert (home / "auditor-state.json").exists()  # the auditor's memory lives in the home given
        # fetch reaches the hub as the auditor commands do: --ca, --hub, --cert, --key, no sandbox folder needed.
        clients = home / "pki" / "clients"
        elsewhere = linkage("fetch", "--home", str(tmp_path / "no-sandbox"), "--ca", endpoints["ca"],
                            "--hub", endpoints["hub"], "--cert", str(clients / "phrae-municipality.pem"),
                            "--key", str(clients / "phrae-municipality.key"), "--agency", "phrae-municipality",
                            *card, "--doc-type", "dopa.person", "--id", citizen, "--purpose", "ทดสอบ")
        assert elsewhere.returncode == 0 and json.loads(elsewhere.stdout)["subject_id"] == citizen, elsewhere.stderr
        nurse = endpoints["agencies"]["phrae-hospital"]["officers"][0]
        refused = linkage("fetch", "--home", str(home), "--agency", "phrae-hospital",
                          *card_args(Home(home), "phrae-hospital", nurse), "--doc-type", "dopa.house",
                          "--id", citizen, "--purpose", "ทดสอบ")
        assert refused.returncode == 1 and "no_right" in refused.stderr
        # The counter is up too, in Thai, serving its own font; officers sign in with their passkey.
        with urllib.request.urlopen(f"{endpoints['counter']}/signin", timeout=10) as page:
            assert page.status == 200 and page.url.endswith("/signin/passkey")
            assert "ลงชื่อเข้าใช้ด้วยกุญแจ" in page.read().decode("utf-8")
        with urllib.request.urlopen(f"{endpoints['counter']}/fonts/Sarabun-Regular.ttf", timeout=10) as font:
            assert font.headers["Content-Type"] == "font/ttf"
        # The mock payment switch is up and tells the counter of what it pays: a bill the counter never issued is
        # paid at the switch, and the counter refuses the signed notice as unknown (the chain works end to end).
        unknown = bill_payment_payload(BillPayment("099400016550100", "NOSUCHBILL", Decimal("20.00")))
        ask = urllib.request.Request(f"{endpoints['payments']}/sandbox/pay", method="POST",
                                     data=json.dumps({"payload": unknown}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(ask, timeout=10) as paid:
            answer = json.loads(paid.read())
        assert answer["callback_status"] == 409 and "unknown_bill" in answer["callback_answer"], answer
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "stopped" in stdout and not (home / "endpoints.json").exists()
    # Each server's log came out through up's stderr as JSON lines (linkage/logs.py): every request, failures too.
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    said = {(x.get("server"), x.get("method"), x.get("code", x.get("status"))) for x in lines}
    assert {("hub", "LinkageHub/FetchDocument", "OK"), ("hub", "LinkageHub/FetchDocument", "PERMISSION_DENIED"),
            ("dopa", "ProviderService/GetRecord", "OK"), ("counter", "GET", 200),
            ("witness1", "POST", 200), ("witness2", "POST", 200)} <= said, stderr
    assert citizen not in stderr
    # With the hub stopped, verify says what to do in plain words; --offline checks what needs no hub.
    stopped = linkage("verify", str(out), "--home", str(home))
    assert stopped.returncode == 2 and "linkage up --detach --home" in stopped.stderr
    assert "pass --hub HOST:PORT; or check without asking the hub: --offline" in stopped.stderr, stopped.stderr
    assert linkage("verify", str(out), "--home", str(home), "--offline").returncode == 0


@pytest.mark.parametrize(("variable", "section"), [("LINKAGE_HUB_PORT", "[hub]"),
                                                   ("LINKAGE_PROVIDERS_DBD_PORT", "[providers.dbd]"),
                                                   ("LINKAGE_COUNTER_PORT", "[counter]")])
def test_up_says_when_a_port_is_taken_and_what_to_change(tmp_path: Path, variable: str, section: str) -> None:
    home = tmp_path / "home"
    assert linkage("init", "--home", str(home), "--citizens", "200").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = linkage("up", "--home", str(home), env={**FREE_PORTS, variable: str(port)}, timeout=60)
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "taken" in result.stderr
    # It names the key, the file, the flag and the variable that move it, and how to get free ports.
    assert all(what in result.stderr for what in (section, str(home / "linkage.toml"), "--port", variable,
                                                  "--ports auto")), result.stderr


def test_init_writes_the_ports_it_is_given(tmp_path: Path) -> None:
    import tomllib

    def ports(home: Path) -> dict[str, int]:
        config = tomllib.loads((home / "linkage.toml").read_text(encoding="utf-8"))
        return {"hub": config["hub"]["port"], **{n: p["port"] for n, p in config["providers"].items()},
                "counter": config["counter"]["port"]}

    made = [linkage("init", "--home", str(tmp_path / name), "--citizens", "50", "--ports", spec)
            for name, spec in (("a", "auto"), ("b", "auto"), ("c", "41000"), ("d", "default"))]
    assert all(m.returncode == 0 for m in made), [m.stderr for m in made]
    a, b = ports(tmp_path / "a"), ports(tmp_path / "b")
    assert len(set(a.values())) == 6 and all(20000 <= p < 32768 for p in a.values()) and a != b
    assert ports(tmp_path / "c") == {"hub": 41000, "dopa": 41001, "dbd": 41002, "edu": 41003, "promptpay": 41004,
                                     "counter": 41005}
    assert ports(tmp_path / "d") == {"hub": 7443, "dopa": 7451, "dbd": 7452, "edu": 7453, "promptpay": 7454,
                                     "counter": 8080}
    assert "counter 41005" in made[2].stdout
    bad = linkage("init", "--home", str(tmp_path / "e"), "--ports", "80")
    assert bad.returncode == 2 and "--ports must be" in bad.stderr and not (tmp_path / "e" / "linkage.toml").exists()


@pytest.mark.parametrize("args", [["fetch", "--agency", "nobody", "--officer", "1", "--doc-type", "x", "--id", "1",
                                   "--purpose", "x"]])
def test_cli_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    assert linkage("init", "--home", str(home), "--citizens", "200").returncode == 0
    result = linkage(*args, "--home", str(home))
    assert result.returncode == 2 and "nobody" in result.stderr


def test_fetch_with_a_missing_agency_certificate_says_so_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert linkage("init", "--home", str(home), "--citizens", "200").returncode == 0
    (home / "pki" / "clients" / "phrae-hospital.pem").unlink()
    endpoints = {"hub": "127.0.0.1:1", "ca": str(home / "pki" / "ca.pem"), "agencies": {},
                 "log": {"origin": "x", "vkey": "x"}}
    (home / "endpoints.json").write_text(json.dumps(endpoints), encoding="utf-8")
    result = linkage("fetch", "--home", str(home), "--agency", "phrae-hospital", "--officer", "1", "--doc-type",
                     "dopa.person", "--id", "1", "--purpose", "x")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "phrae-hospital.pem" in result.stderr


def test_serve_provider_listens_on_the_configured_port_and_says_taken_only_when_it_is(sandbox_home: Home) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = {"LINKAGE_PROVIDERS_DOPA_PORT": str(port)}  # as [providers.dopa] port in linkage.toml
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", "serve-provider", "dopa", "--home",
                             str(sandbox_home.root)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **configured})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split()[1] == f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        refused = linkage("serve-provider", "dopa", "--home", str(sandbox_home.root), env=configured)
    assert refused.returncode == 3
    assert f"127.0.0.1:{port}: the port is taken" in refused.stderr and "[providers.dopa]" in refused.stderr
    # An address this machine does not have is not a taken port.
    elsewhere = linkage("serve-provider", "dopa", "--home", str(sandbox_home.root),
                        env={**configured, "LINKAGE_PROVIDERS_DOPA_HOST": "192.0.2.1"})
    assert elsewhere.returncode == 3 and "cannot listen on 192.0.2.1" in elsewhere.stderr
    assert "taken" not in elsewhere.stderr
