"""Running a sync: not configured is a quiet skip, one pull at a time, outcome recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import responses

from hub import settings as store
from hub.db import db
from hub.models import IntegrationSetting
from hub.queue import queues
from integrations.mixpanel.runner import pull_now, push_now
from integrations.mixpanel.settings import SPEC
from tests.integrations.mixpanel.conftest import API, EXPORT_URL


def _configure(session, config, **extra):
    values = {
        "project_id": "1234567",
        "service_account": "cshub.sa.1234",
        "service_secret": "sa-secret",
        "region": "US",
        **extra,
    }
    store.save(session, SPEC, SPEC.schema().load(values), config, "test")
    session.commit()


def test_not_configured_is_skipped(app, config):
    """Without credentials the scheduled jobs skip instead of failing every hour."""
    assert "not configured" in pull_now(db.engine, config, queues.redis)["skipped"]
    assert "not configured" in push_now(db.engine, config, queues.redis)["skipped"]


def test_one_pull_at_a_time(app, session, config):
    """A second pull while one holds the lock is skipped, not run twice."""
    _configure(session, config)
    lock = queues.redis.lock("cshub:lock:mixpanel-pull", timeout=60)
    assert lock.acquire(blocking=False)
    try:
        assert "another" in pull_now(db.engine, config, queues.redis)["skipped"]
    finally:
        lock.release()


def test_outcome_is_recorded_on_the_integration(app, session, config):
    """A failed pull records the error; a good one clears it and stamps last_sync_at."""
    start = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    _configure(session, config, start_date=start)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EXPORT_URL, status=401, json={"error": "bad", "status": 0})
        try:
            pull_now(db.engine, config, queues.redis)
        except Exception as exc:
            assert "401" in str(exc)
    row = session.query(IntegrationSetting).filter_by(name="mixpanel").one()
    assert row.status == "error" and "401" in row.last_error
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EXPORT_URL, body=b"", status=200)
        result = pull_now(db.engine, config, queues.redis)
    session.expire_all()
    row = session.query(IntegrationSetting).filter_by(name="mixpanel").one()
    assert result["lines"] == 0 and row.status == "ok" and row.last_sync_at is not None


def test_push_without_token_still_sends_actions(app, session, config):
    """No project token: profiles are skipped with the reason, hub actions still go out."""
    _configure(session, config)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, f"{API}/import", json={"code": 200, "status": "OK"})
        out = push_now(db.engine, config, queues.redis)
    assert "project_token" in out["profiles"]["skipped"]
    assert json.loads(json.dumps(out))["actions"]["failed"] == 0
