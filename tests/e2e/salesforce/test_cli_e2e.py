"""``cshub salesforce setup`` and ``cshub sync salesforce`` as an operator runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _create_schema
from tests.fakes.salesforce import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.e2e
CSHUB = str(Path(sys.executable).with_name("cshub"))


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CSHUB, *args], env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def env(tmp_path, redis_url, fake):
    """The environment of a first start: Salesforce from SALESFORCE_*, the CA from the env."""
    values = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SALESFORCE_", "DATABASE", "REQUESTS_CA"))
    }
    values.update(
        {
            "CSHUB_DATA_DIR": str(tmp_path / "var"),
            "REDIS_URL": redis_url,
            "CSHUB_SECRET_KEY": "e2e",
            "CSHUB_LOG_LEVEL": "ERROR",
            "SALESFORCE_LOGIN_URL": fake.url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            "SALESFORCE_API_VERSION": "62.0",
            "REQUESTS_CA_BUNDLE": fake.ca_path,
        }
    )
    # the schema of the current models (the migration is regenerated at integration time)
    (tmp_path / "var").mkdir()
    _create_schema(f"sqlite:///{tmp_path / 'var' / 'cshub.db'}")
    return values


def test_setup_then_sync_both_ways(env, fake, tmp_path):
    """Setup is idempotent; a pull brings accounts; pushes send changes once, then nothing."""
    first = run(env, "salesforce", "setup", "--json")
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["created"]) == 7
    second = json.loads(run(env, "salesforce", "setup", "--json").stdout)
    assert second["created"] == [] and len(second["existing"]) == 7

    ids = fake.seed_accounts(30)
    pulled = run(env, "sync", "salesforce", "--pull", "--json")
    assert pulled.returncode == 0, pulled.stderr
    doc = json.loads(pulled.stdout)
    assert doc["pull"]["streams"]["Account"]["records"] == 30 and "push" not in doc

    db = sqlite3.connect(tmp_path / "var" / "cshub.db")
    db.execute(
        "INSERT INTO health_scores (account_id, score, tier, components, contributions, "
        "drivers, missing, computed_at) SELECT id, 64.0, 'at_risk', '{}', '{}', "
        "'{\"down\": [\"uptime below 95%\"]}', '[]', '2026-11-24 02:00:00.000000' FROM accounts"
    )
    db.commit()
    pushed = json.loads(run(env, "sync", "salesforce", "--push", "--json").stdout)
    assert pushed["push"]["accepted"] == 30 and pushed["push"]["api_calls"] == 1
    assert fake.get("Account", ids[0])["Health_Reasons__c"] == "uptime below 95%"
    again = json.loads(run(env, "sync", "salesforce", "--json").stdout)
    assert again["push"]["changed_accounts"] == 0 and again["push"]["api_calls"] == 0


def test_bad_credentials_exit_non_zero_with_the_reason(env):
    """A refused login prints one JSON error document and exits 1."""
    env["SALESFORCE_CLIENT_SECRET"] = "wrong"
    done = run(env, "sync", "salesforce", "--json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == "invalid_client"
