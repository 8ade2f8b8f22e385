"""`cshub connectors run ID --json` in a real process against a fake rig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert

from hub.db import Base, make_engine
from hub.models import Account, ConnectorConfig
from tests.fakes.cgminer import FakeRig

pytestmark = pytest.mark.e2e

CSHUB = str(Path(sys.executable).with_name("cshub"))


def test_connectors_run_prints_outcome(tmp_path, redis_url):
    """Runs once, prints one JSON document; exit 1 when unhealthy, 2 when not found."""
    data = tmp_path / "var"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'cshub.db'}")
    Base.metadata.create_all(engine)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        CSHUB_DATA_DIR=str(data),
        REDIS_URL=redis_url,
        CSHUB_SECRET_KEY="cli",
        CSHUB_LOG_LEVEL="ERROR",
    )
    with FakeRig() as rig:
        with engine.begin() as conn:
            account_id = conn.execute(insert(Account).values(name="Acme")).inserted_primary_key[0]
            settings = {"host": "127.0.0.1", "port": rig.port, "timeout_s": 1.0}
            conn.execute(
                insert(ConnectorConfig).values(
                    id=1, type="cgminer", name="s9", account_id=account_id, settings=settings
                )
            )
            conn.execute(
                insert(ConnectorConfig).values(
                    id=2,
                    type="cgminer",
                    name="s9-lan",
                    account_id=account_id,
                    settings={**settings, "allow_private_network": True},
                )
            )
        refused = subprocess.run(
            [CSHUB, "connectors", "run", "1", "--json"], env=env, capture_output=True, text=True
        )
        ok = subprocess.run(
            [CSHUB, "connectors", "run", "2", "--json"], env=env, capture_output=True, text=True
        )
    engine.dispose()
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error_kind"] == "TargetRefused"
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["status"] == "healthy" and doc["stored"] > 20
    missing = subprocess.run(
        [CSHUB, "connectors", "run", "99", "--json"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and json.loads(missing.stdout)["error"]["code"] == "not_found"
