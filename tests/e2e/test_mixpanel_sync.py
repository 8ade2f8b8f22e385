"""`cshub sync mixpanel` end to end: a real process, Redis and SQLite, a local Mixpanel fake."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.mixpanel import FakeMixpanel

pytestmark = pytest.mark.e2e

CSHUB = str(Path(sys.executable).with_name("cshub"))


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CSHUB, *args], env=env, capture_output=True, text=True, timeout=180)


def test_sync_mixpanel_pull_then_push_twice(tmp_path, redis_url):
    """Events come in once however often the pull runs; scores go out once until they change."""
    with FakeMixpanel() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MIXPANEL_", "DATABASE"))}
        env.update(
            {
                "CSHUB_DATA_DIR": str(tmp_path / "var"),
                "REDIS_URL": redis_url,
                "CSHUB_SECRET_KEY": "e2e",
                "CSHUB_LOG_LEVEL": "ERROR",
                "MIXPANEL_PROJECT_ID": fake.project_id,
                "MIXPANEL_SERVICE_ACCOUNT": fake.username,
                "MIXPANEL_SERVICE_SECRET": fake.secret,
                "MIXPANEL_PROJECT_TOKEN": fake.token,
                "MIXPANEL_API_HOST": fake.url,
                "MIXPANEL_EXPORT_HOST": fake.url,
            }
        )
        assert run(env, "init", "--json").returncode == 0
        demo = run(env, "demo", "--accounts", "3", "--days", "3", "--json")
        assert demo.returncode == 0, demo.stderr
        db = sqlite3.connect(tmp_path / "var" / "cshub.db")
        distinct = [r[0] for r in db.execute("SELECT mixpanel_distinct_id FROM contacts LIMIT 2")]
        db.execute(
            "INSERT INTO health_scores (account_id, score, tier, components, contributions, "
            "drivers, missing, computed_at) SELECT id, 81.5, 'healthy', '{}', '{}', '{}', '[]', "
            "'2025-01-01 00:00:00.000000' FROM accounts"
        )
        db.commit()
        now = datetime.now(UTC)
        for i in range(5):
            fake.add_event("mp_session", now - timedelta(days=i % 3), distinct[i % 2], f"ins-{i}")
        fake.add_event("mp_session", now, distinct[0], "ins-0")  # a raw duplicate

        first = run(env, "sync", "mixpanel", "--json")
        assert first.returncode == 0, first.stderr
        doc = json.loads(first.stdout)
        assert doc["pull"]["inserted"] == 5 and doc["pull"]["duplicates"] == 1
        assert doc["pull"]["unmapped"] == 0
        assert doc["push"]["profiles"]["accounts_changed"] == 3
        assert all(p["cshub_health_score"] == 81.5 for p in fake.profiles.values())
        engage_after_first = fake.engage_requests

        second = run(env, "sync", "mixpanel", "--json")
        doc2 = json.loads(second.stdout)
        assert second.returncode == 0 and doc2["pull"]["inserted"] == 0
        assert doc2["push"]["profiles"]["accounts_unchanged"] == 3
        assert fake.engage_requests == engage_after_first
        stored = db.execute("SELECT count(*) FROM events WHERE source = 'mixpanel'").fetchone()[0]
        assert stored == 5
