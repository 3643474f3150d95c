"""`linkage init --database` and `linkage up --replicas`: the sandbox on PostgreSQL."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from consumers.client import HubClient
from linkage.cli.main import main
from linkage.cli.sandbox import SandboxError, init
from linkage.cli.stack import start_stack, write_endpoints
from linkage.config import load_settings
from linkage.storage import Database, sandbox_schemas
from providers import REGISTRIES
from tests.backends import fresh_database
from tests.officers import card

PARTS = ["log", *REGISTRIES]


def test_init_on_postgresql_writes_the_database_and_refuses_to_overwrite(postgres: Database, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_DATABASE", raising=False)
    db = fresh_database(postgres)
    home = init(tmp_path / "one", citizens=80, seed=2, database=db)
    assert load_settings(home).database == Database(db.url)  # linkage.toml names it (namespace: the default)
    assert list(home.data.glob("*.sqlite")) == []  # nothing in SQLite files
    assert sandbox_schemas(db, PARTS) == sorted(db.schema(n) for n in REGISTRIES)
    with pytest.raises(SandboxError, match=r"already holds a sandbox \(schemas t\w+_dbd.*--force"):
        init(tmp_path / "two", citizens=80, database=db)
    init(tmp_path / "two", citizens=80, seed=3, database=db, force=True)  # replaces the data
    assert main(["init", "--home", str(tmp_path / "three"), "--citizens", "5", "--database", "mysql://x"]) == 2


async def test_replicas_need_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_DATABASE", raising=False)
    home = init(tmp_path / "sqlite", citizens=20)
    with pytest.raises(SandboxError, match="--replicas needs --database postgresql://"):
        await start_stack(load_settings(home), replicas=2)


async def test_two_replicas_share_one_log_and_endpoints_list_both(own_database: Database, tmp_path: Path) -> None:
    await _two_replicas(own_database, tmp_path)


async def _two_replicas(db: Database, tmp_path: Path) -> None:
    home = init(tmp_path / "pg", citizens=80, seed=4, database=db)
    settings = load_settings(home)
    stack = await start_stack(settings, replicas=2, any_port=True)
    try:
        write_endpoints(stack)
        endpoints = json.loads(home.endpoints.read_text(encoding="utf-8"))
        assert endpoints["hub"] == endpoints["hubs"][0] and len(set(endpoints["hubs"])) == 2
        personas = json.loads(home.personas.read_text(encoding="utf-8"))
        subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
        signer = card(home, "phrae-municipality", sorted(settings.agencies["phrae-municipality"].officers)[0])
        indexes = []
        for address in endpoints["hubs"]:  # each replica issues, into the one log
            async with HubClient.from_home(home, "phrae-municipality", addresses=address) as hub:
                doc = await hub.officer(signer).fetch_document("dopa.person", subject, purpose="ทดสอบ")
                indexes.append(doc.log_index)
        assert len(set(indexes)) == 2
        async with HubClient.from_home(home, "phrae-municipality") as hub:  # round-robin over both
            desk = hub.officer(signer)  # one session, whichever replica issued it
            for _ in range(4):
                assert (await desk.fetch_document("dopa.person", subject, purpose="ทดสอบ")).log_index > max(indexes)
        with urllib.request.urlopen(f"{endpoints['counter']}/signin", timeout=10) as page:
            assert page.status == 200
    finally:
        await stack.stop()
